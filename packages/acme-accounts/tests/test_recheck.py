"""Authentication with the per-process status memo (ACME_SESSION_RECHECK_SECONDS)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import update

from acme.accounts import interface
from acme.accounts._status_memo import StatusMemo
from acme.accounts.dependencies import AccountsDependencies
from acme.accounts.tables import accounts
from acme.core.errors import PermissionDenied
from acme.core.persistence.database import Database
from acme.core.security import InvalidToken

from .conftest import FakeProvider


class Ticks:
    """A settable monotonic clock for the memo."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def memo_deps(deps: AccountsDependencies, ticks: Ticks) -> AccountsDependencies:
    return replace(deps, status=StatusMemo(5.0, clock=ticks))


async def _disable_elsewhere(database: Database, account_id: uuid.UUID) -> None:
    """What another process disabling the account leaves in the database."""
    async with database.engine.begin() as connection:
        await connection.execute(
            update(accounts).where(accounts.c.id == account_id).values(status="disabled")
        )


async def test_another_process_disabling_is_seen_within_the_interval(
    memo_deps: AccountsDependencies, database: Database, ticks: Ticks
) -> None:
    issued, account = await interface.issue_local_token(memo_deps, f"m-{uuid.uuid4().hex[:6]}")
    assert (await interface.authenticate(memo_deps, issued.token)).id == account.id
    await _disable_elsewhere(database, account.id)
    ticks.now += 4.9
    # Still remembered as active: the memo serves the row read 4.9 s ago.
    assert (await interface.authenticate(memo_deps, issued.token)).id == account.id
    ticks.now += 0.2
    with pytest.raises(PermissionDenied, match="disabled"):
        await interface.authenticate(memo_deps, issued.token)


async def test_without_an_interval_every_request_reads_the_row(
    deps: AccountsDependencies, database: Database
) -> None:
    issued, account = await interface.issue_local_token(deps, f"z-{uuid.uuid4().hex[:6]}")
    await interface.authenticate(deps, issued.token)
    await _disable_elsewhere(database, account.id)
    with pytest.raises(PermissionDenied, match="disabled"):
        await interface.authenticate(deps, issued.token)


async def test_disabling_in_this_process_takes_effect_at_once(
    memo_deps: AccountsDependencies,
) -> None:
    issued, account = await interface.issue_local_token(memo_deps, f"d-{uuid.uuid4().hex[:6]}")
    await interface.authenticate(memo_deps, issued.token)
    await interface.disable_account(memo_deps, account.id)
    with pytest.raises(PermissionDenied, match="disabled"):
        await interface.authenticate(memo_deps, issued.token)


async def test_signing_out_in_this_process_takes_effect_at_once(
    memo_deps: AccountsDependencies, provider: FakeProvider
) -> None:
    start = await interface.begin_sign_in(memo_deps)
    code = provider.will_sign_in(uuid.uuid4().hex)
    signed_in = await interface.complete_sign_in(
        memo_deps, state=start.state, bound_state=start.bound_state, code=code
    )
    token = signed_in.tokens.access_token
    await interface.authenticate(memo_deps, token)
    await interface.sign_out(memo_deps, refresh_token=signed_in.tokens.refresh_token)
    with pytest.raises(InvalidToken, match="session has ended"):
        await interface.authenticate(memo_deps, token)


async def test_callers_get_a_copy_of_the_remembered_account(
    memo_deps: AccountsDependencies,
) -> None:
    issued, _ = await interface.issue_local_token(memo_deps, f"c-{uuid.uuid4().hex[:6]}")
    first = await interface.authenticate(memo_deps, issued.token)
    first.display_name = "changed by a caller"
    second = await interface.authenticate(memo_deps, issued.token)
    assert second.display_name != "changed by a caller"


def test_the_memo_is_bounded_and_forgets_by_account_and_session() -> None:
    ticks = Ticks()
    memo = StatusMemo(5.0, max_entries=2, clock=ticks)
    a, b, c, s = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    row = object()
    memo.put(a, None, row)  # type: ignore[arg-type]
    memo.put(b, s, row)  # type: ignore[arg-type]
    memo.put(c, None, row)  # type: ignore[arg-type]
    assert memo.get(a, None) is None  # the oldest went first
    assert memo.get(b, s) is row
    memo.forget_session(s)
    assert memo.get(b, s) is None
    memo.forget(c)
    assert memo.get(c, None) is None
