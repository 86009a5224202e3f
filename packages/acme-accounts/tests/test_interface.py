"""The accounts use cases, on the fakes, SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from acme.accounts import interface
from acme.accounts.dependencies import AccountsDependencies
from acme.accounts.events import ACCOUNT_CREATED, AccountCreatedV1
from acme.accounts.models import LOCAL_ISSUER
from acme.accounts.serializers import ProfileUpdate
from acme.accounts.tables import accounts, refresh_families
from acme.core.errors import Conflict, PermissionDenied
from acme.core.persistence.database import Database
from acme.core.security import InvalidToken
from acme.core.security.oidc import SignInFailed

from .conftest import Clock, FakeProvider

Published = Callable[[str], Awaitable[list[tuple[int, dict[str, Any]]]]]


async def _created_events(
    published: Published, account_id: uuid.UUID
) -> list[tuple[int, dict[str, Any]]]:
    return [e for e in await published(ACCOUNT_CREATED) if e[1]["account_id"] == str(account_id)]


async def _sign_in(
    deps: AccountsDependencies, provider: FakeProvider, subject: str, **info: object
):  # type: ignore[no-untyped-def]
    start = await interface.begin_sign_in(deps, return_to="/after")
    code = provider.will_sign_in(subject, **info)
    return await interface.complete_sign_in(
        deps, state=start.state, bound_state=start.bound_state, code=code
    )


async def test_a_local_token_creates_the_account_once_with_its_event(
    deps: AccountsDependencies, published: Published
) -> None:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    issued, account = await interface.issue_local_token(deps, name)
    again, same = await interface.issue_local_token(deps, name)
    assert same.id == account.id
    assert (account.issuer, account.subject, account.display_name) == (LOCAL_ISSUER, name, name)
    assert (await interface.authenticate(deps, issued.token)).id == account.id
    assert (await interface.authenticate(deps, again.token)).id == account.id
    events = await _created_events(published, account.id)
    assert len(events) == 1
    assert events[0][0] == 1
    payload = AccountCreatedV1.model_validate(events[0][1])
    assert (payload.account_id, payload.issuer) == (account.id, LOCAL_ISSUER)


async def test_local_tokens_are_refused_in_production(
    production_deps: AccountsDependencies,
) -> None:
    with pytest.raises(PermissionDenied, match="ACME_ENV=production"):
        await interface.issue_local_token(production_deps, "someone")


async def test_sign_in_creates_then_finds_the_account_by_issuer_and_subject(
    deps: AccountsDependencies, provider: FakeProvider, published: Published
) -> None:
    subject = uuid.uuid4().hex
    first = await _sign_in(deps, provider, subject, name="Ada L", email="ada@example.test")
    assert first.return_to == "/after"
    assert (first.account.display_name, first.account.email) == ("Ada L", "ada@example.test")
    assert first.account.last_sign_in_at is not None
    second = await _sign_in(deps, provider, subject, name="Other", email="ada@new.test")
    assert second.account.id == first.account.id
    assert second.account.display_name == "Ada L"  # the person's own choice is kept
    assert second.account.email == "ada@new.test"  # contact data follows the provider
    assert len(await _created_events(published, first.account.id)) == 1
    me = await interface.authenticate(deps, second.tokens.access_token)
    assert me.id == first.account.id


async def test_the_nonce_and_verifier_of_the_attempt_reach_the_provider(
    deps: AccountsDependencies, provider: FakeProvider
) -> None:
    await _sign_in(deps, provider, "s")
    _code, nonce, verifier = provider.seen[-1]
    assert len(nonce) >= 16
    assert len(verifier) >= 43


@pytest.mark.parametrize("case", ["no state", "other browser", "reused state", "expired"])
async def test_bad_state_fails_the_sign_in(
    case: str, deps: AccountsDependencies, provider: FakeProvider, clock: Clock
) -> None:
    start = await interface.begin_sign_in(deps)
    code = provider.will_sign_in("s")
    state, bound = start.state, start.bound_state
    if case == "no state":
        state = None  # type: ignore[assignment]
    elif case == "other browser":
        bound = (await interface.begin_sign_in(deps)).bound_state
    elif case == "reused state":
        await interface.complete_sign_in(deps, state=state, bound_state=bound, code=code)
        code = provider.will_sign_in("s")
    else:
        clock.advance(minutes=6)
    with pytest.raises(SignInFailed) as caught:
        await interface.complete_sign_in(deps, state=state, bound_state=bound, code=code)
    expected = "sign_in_expired" if case == "expired" else "invalid_state"
    assert caught.value.code == expected


async def test_a_provider_error_and_a_refused_code_are_clear_failures(
    deps: AccountsDependencies, provider: FakeProvider
) -> None:
    start = await interface.begin_sign_in(deps)
    with pytest.raises(SignInFailed, match="access_denied"):
        await interface.complete_sign_in(
            deps, state=start.state, bound_state=start.bound_state, code=None, error="access_denied"
        )
    start = await interface.begin_sign_in(deps)
    with pytest.raises(SignInFailed, match="invalid_grant"):
        await interface.complete_sign_in(
            deps, state=start.state, bound_state=start.bound_state, code="never-issued"
        )


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    deps: AccountsDependencies, provider: FakeProvider
) -> None:
    signed_in = await _sign_in(deps, provider, uuid.uuid4().hex)
    first = signed_in.tokens
    second = await interface.refresh(deps, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    await interface.authenticate(deps, second.access_token)

    with pytest.raises(InvalidToken) as reused:
        await interface.refresh(deps, first.refresh_token)  # replayed: theft assumed
    assert reused.value.code == "refresh_token_reused"
    with pytest.raises(InvalidToken, match="session has ended"):
        await interface.refresh(deps, second.refresh_token)  # the family is gone
    with pytest.raises(InvalidToken, match="session has ended"):
        await interface.authenticate(deps, second.access_token)


async def test_of_two_concurrent_refreshes_exactly_one_succeeds(
    deps: AccountsDependencies, provider: FakeProvider
) -> None:
    tokens = (await _sign_in(deps, provider, uuid.uuid4().hex)).tokens
    results = await asyncio.gather(
        interface.refresh(deps, tokens.refresh_token),
        interface.refresh(deps, tokens.refresh_token),
        return_exceptions=True,
    )
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(succeeded) == 1, results
    assert len(failed) == 1, results
    assert isinstance(failed[0], InvalidToken), results


async def test_sessions_have_an_absolute_lifetime(
    deps: AccountsDependencies, provider: FakeProvider, clock: Clock
) -> None:
    tokens = (await _sign_in(deps, provider, uuid.uuid4().hex)).tokens
    for _ in range(3):  # refreshing daily keeps each token fresh...
        clock.advance(hours=23)
        tokens = await interface.refresh(deps, tokens.refresh_token)
    assert tokens.refresh_expires_in <= 3 * 3600
    clock.advance(hours=4)  # ...but never past the family's end (3 days here)
    with pytest.raises(InvalidToken, match="session has ended"):
        await interface.refresh(deps, tokens.refresh_token)


async def test_sign_out_ends_the_session_by_refresh_or_access_token(
    deps: AccountsDependencies, provider: FakeProvider
) -> None:
    subject = uuid.uuid4().hex
    by_refresh = (await _sign_in(deps, provider, subject)).tokens
    await interface.sign_out(deps, refresh_token=by_refresh.refresh_token)
    with pytest.raises(InvalidToken):
        await interface.refresh(deps, by_refresh.refresh_token)
    by_access = (await _sign_in(deps, provider, subject)).tokens
    await interface.sign_out(deps, access_token=by_access.access_token)
    with pytest.raises(InvalidToken, match="session has ended"):
        await interface.authenticate(deps, by_access.access_token)
    await interface.sign_out(deps, refresh_token="unknown")  # idempotent, no error


async def test_disabling_an_account_ends_its_access_at_once(
    deps: AccountsDependencies, provider: FakeProvider, database: Database
) -> None:
    signed_in = await _sign_in(deps, provider, uuid.uuid4().hex)
    issued, local = await interface.issue_local_token(deps, f"l-{uuid.uuid4().hex[:6]}")
    for account_id in (signed_in.account.id, local.id):
        out = await interface.disable_account(deps, account_id)
        assert out.status == "disabled"
    for token in (issued.token, signed_in.tokens.access_token):
        with pytest.raises(PermissionDenied, match="disabled"):
            await interface.authenticate(deps, token)
    with pytest.raises(PermissionDenied, match="disabled"):
        await interface.refresh(deps, signed_in.tokens.refresh_token)
    with pytest.raises(PermissionDenied, match="disabled"):
        await _sign_in(deps, provider, signed_in.account.subject)
    async with database.engine.connect() as connection:
        reasons = (
            (
                await connection.execute(
                    select(refresh_families.c.revoked_reason).where(
                        refresh_families.c.account_id == signed_in.account.id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert reasons == ["account_disabled"]


async def test_profile_updates_are_checked_and_kept(
    deps: AccountsDependencies, database: Database
) -> None:
    _, account = await interface.issue_local_token(deps, f"p-{uuid.uuid4().hex[:6]}")
    updated = await interface.update_my_profile(
        deps, account.id, ProfileUpdate(display_name=" Grace H ")
    )
    assert updated.display_name == "Grace H"
    assert (await interface.get_my_account(deps, account.id)).display_name == "Grace H"
    with pytest.raises(ValueError, match="control characters"):
        ProfileUpdate(display_name="bad\x07name")
    async with database.engine.connect() as connection:
        row = (await connection.execute(select(accounts).where(accounts.c.id == account.id))).one()
    assert row.display_name == "Grace H"


async def test_a_token_for_a_deleted_account_is_rejected(deps: AccountsDependencies) -> None:
    issued = deps.tokens.issue(str(uuid.uuid4()))
    with pytest.raises(InvalidToken, match="no longer exists"):
        await interface.authenticate(deps, issued.token)
    bogus = deps.tokens.issue("not-a-uuid")
    with pytest.raises(InvalidToken, match="not an account id"):
        await interface.authenticate(deps, bogus.token)


async def test_two_first_sign_ins_at_once_make_one_account(
    deps: AccountsDependencies, provider: FakeProvider, published: Published
) -> None:
    subject = uuid.uuid4().hex
    starts = [await interface.begin_sign_in(deps) for _ in range(2)]
    codes = [provider.will_sign_in(subject, name="Twin") for _ in range(2)]
    both = await asyncio.gather(
        *(
            interface.complete_sign_in(deps, state=s.state, bound_state=s.bound_state, code=c)
            for s, c in zip(starts, codes, strict=True)
        )
    )
    assert both[0].account.id == both[1].account.id
    assert both[0].tokens.session_id != both[1].tokens.session_id  # two sessions
    assert len(await _created_events(published, both[0].account.id)) == 1


async def test_signing_out_a_token_of_no_session_says_it_cannot_be_revoked(
    deps: AccountsDependencies,
) -> None:
    issued, _ = await interface.issue_local_token(deps, f"n-{uuid.uuid4().hex[:6]}")
    with pytest.raises(Conflict) as caught:
        await interface.sign_out(deps, access_token=issued.token)
    assert caught.value.code == "token_not_revocable"
    expires_at = issued.expires_at.isoformat().replace("+00:00", "Z")
    assert caught.value.extra == {"expires_at": expires_at}
    assert expires_at in caught.value.detail
    # what it said is true: the token still works, until the account is disabled
    account = await interface.authenticate(deps, issued.token)
    await interface.disable_account(deps, account.id)
    with pytest.raises(PermissionDenied, match="disabled"):
        await interface.authenticate(deps, issued.token)
