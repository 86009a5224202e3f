"""Sign-in attempts: sealed for the browser (nothing stored at the start), spent once at the end."""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from acme.accounts import interface
from acme.accounts._sealed_attempts import open_attempt, seal_attempt
from acme.accounts._sessions import digest
from acme.accounts.dependencies import AccountsDependencies
from acme.accounts.models import SignInAttempt
from acme.accounts.ports import AccountsUnitOfWork
from acme.accounts.tables import spent_sign_ins
from acme.core.persistence.database import Database
from acme.core.security import KeySet, generate_key
from acme.core.security.oidc import SignInFailed

from .conftest import Clock, FakeProvider
from .fakes import FakeAccountsStore


def _no_database() -> AccountsUnitOfWork:
    raise AssertionError("starting a sign-in opened a unit of work")


async def test_starting_a_thousand_sign_ins_opens_no_unit_of_work(
    deps: AccountsDependencies,
) -> None:
    cut_off = replace(deps, unit_of_work=_no_database, reader=_no_database)
    starts = [await interface.begin_sign_in(cut_off, return_to="/x") for _ in range(1000)]
    assert len({start.bound_state for start in starts}) == 1000


def _attempt(now: datetime, **changes: str) -> SignInAttempt:
    attempt = SignInAttempt(
        state_hash="a" * 64,
        nonce="nonce-" + "n" * 40,
        code_verifier="verifier-" + "v" * 77,
        return_to="/private/path",
        created_at=now,
        expires_at=now + timedelta(minutes=10),
    )
    return replace(attempt, **changes)


def test_a_sealed_attempt_opens_as_itself_and_hides_its_secrets() -> None:
    keys = KeySet.generate()
    attempt = _attempt(datetime.now(UTC))
    sealed = seal_attempt(keys, attempt)
    assert open_attempt(keys, sealed) == attempt
    assert sealed.isascii()
    assert "=" not in sealed  # carried in a cookie as is
    for secret in (attempt.nonce, attempt.code_verifier, attempt.return_to):
        assert secret not in sealed
        assert base64.urlsafe_b64encode(secret.encode()).decode()[:12] not in sealed
    assert seal_attempt(keys, attempt) != sealed  # a fresh IV each time


def test_an_altered_or_foreign_sealed_attempt_does_not_open() -> None:
    keys = KeySet.generate()
    sealed = seal_attempt(keys, _attempt(datetime.now(UTC)))
    middle = len(sealed) // 2
    flipped = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]
    for bad in (flipped, sealed[:-4], sealed + "AAAA", "", "not sealed", "é" * 10, "A" * 5000):
        assert open_attempt(keys, bad) is None, bad
    assert open_attempt(KeySet.generate(), sealed) is None


def test_rotating_the_signing_keys_keeps_attempts_in_flight() -> None:
    old = KeySet.generate()
    sealed = seal_attempt(old, _attempt(datetime.now(UTC)))
    rotated = old.rotated(generate_key())
    assert open_attempt(rotated, sealed) is not None  # the old key still opens
    resealed = seal_attempt(rotated, _attempt(datetime.now(UTC)))
    assert open_attempt(old, resealed) is None  # the new key seals
    assert open_attempt(KeySet([rotated.signing_key]), sealed) is None  # old key dropped


async def test_a_tampered_sign_in_cookie_fails_the_sign_in(
    deps: AccountsDependencies, provider: FakeProvider
) -> None:
    start = await interface.begin_sign_in(deps)
    code = provider.will_sign_in("s")
    # a middle character: the last one of unpadded base64 may hold unused bits only
    middle = len(start.bound_state) // 2
    flipped = "A" if start.bound_state[middle] != "A" else "B"
    tampered = start.bound_state[:middle] + flipped + start.bound_state[middle + 1 :]
    with pytest.raises(SignInFailed, match="this browser") as caught:
        await interface.complete_sign_in(deps, state=start.state, bound_state=tampered, code=code)
    assert caught.value.code == "invalid_state"
    assert provider.seen == []  # refused before the provider was asked


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/items?tag=a b", "/items?tag=a%20b"),
        ("/caf\u00e9#top", "/caf%C3%A9#top"),
        ("/\t/evil.test", "/%09/evil.test"),
        ("https://evil.test/", "/"),
        ("//evil.test/", "/"),
        ("/\\evil.test", "/"),
        ("/" + "\u00e9" * 400, "/"),  # 2401 characters once percent-encoded
    ],
)
async def test_the_return_path_is_kept_same_site_and_percent_encoded(
    asked: str, kept: str, deps: AccountsDependencies, provider: FakeProvider
) -> None:
    start = await interface.begin_sign_in(deps, return_to=asked)
    signed_in = await interface.complete_sign_in(
        deps, state=start.state, bound_state=start.bound_state, code=provider.will_sign_in("r")
    )
    assert signed_in.return_to == kept


async def test_the_longest_return_path_still_fits_a_cookie(deps: AccountsDependencies) -> None:
    start = await interface.begin_sign_in(deps, return_to="/" + "%2F" * 682 + "a")
    # a browser keeps about 4096 bytes of name, value and attributes per cookie
    assert len(start.bound_state) < 3800


async def test_of_two_callbacks_with_one_attempt_exactly_one_signs_in(
    deps: AccountsDependencies, provider: FakeProvider
) -> None:
    start = await interface.begin_sign_in(deps)
    subject = uuid.uuid4().hex
    codes = [provider.will_sign_in(subject) for _ in range(2)]
    results = await asyncio.gather(
        *(
            interface.complete_sign_in(
                deps, state=start.state, bound_state=start.bound_state, code=code
            )
            for code in codes
        ),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1, results
    assert isinstance(failed[0], SignInFailed), results
    assert failed[0].code == "invalid_state"


async def _is_kept(backend: FakeAccountsStore | Database, state: str) -> bool:
    state_hash = digest(state)
    if isinstance(backend, FakeAccountsStore):
        return state_hash in backend.spent_sign_ins.rows
    query = select(spent_sign_ins.c.state_hash).where(spent_sign_ins.c.state_hash == state_hash)
    async with backend.engine.connect() as connection:
        return (await connection.execute(query)).first() is not None


async def test_a_spent_state_is_kept_only_until_its_attempt_would_have_expired(
    deps: AccountsDependencies,
    provider: FakeProvider,
    clock: Clock,
    backend: FakeAccountsStore | Database,
) -> None:
    first = await interface.begin_sign_in(deps)
    assert not await _is_kept(backend, first.state)  # starting stores nothing
    await interface.complete_sign_in(
        deps, state=first.state, bound_state=first.bound_state, code=provider.will_sign_in("k")
    )
    assert await _is_kept(backend, first.state)
    clock.advance(minutes=6)  # past the first attempt's end (5 minutes here)
    second = await interface.begin_sign_in(deps)
    await interface.complete_sign_in(
        deps, state=second.state, bound_state=second.bound_state, code=provider.will_sign_in("k")
    )
    assert not await _is_kept(backend, first.state)  # purged: it would be refused as expired
    assert await _is_kept(backend, second.state)
