"""The API with authentication taken out: benchmark-only, never part of the product.

To price token verification, the runner serves this app beside the real one
and sends both the very same requests. It is the production app from
``acme_api.main.create_app()`` whose current-account dependency, unchanged,
calls a stand-in for ``acme.accounts.interface.authenticate``: the account
is the token's ``sub``, read without verifying the token, without checking
the session and without loading the account (one dict lookup per request
after the first for each token). Everything else, routes, middleware,
dependency resolution, serialisation, the database work of the request
itself, is the production code path.

An earlier version replaced the dependency with FastAPI's
``dependency_overrides``; with any override set, FastAPI rebuilds every
sub-dependency (``get_dependant``) on every request, which made this
variant slower than the real app and priced authentication below zero.

Served only by the benchmark runner (``gunicorn ... acme_bench.noauth:create_app()``);
nothing in the API imports it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from types import ModuleType
from typing import Any

import jwt
from fastapi import FastAPI

import acme_api.dependencies
from acme.accounts import interface
from acme.accounts.models import LOCAL_ISSUER, Account, AccountStatus
from acme_api.main import create_app as create_api

__all__ = ["UnverifiedAccounts", "create_app"]

_EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _account(account_id: uuid.UUID) -> Account:
    return Account(
        id=account_id,
        issuer=LOCAL_ISSUER,
        subject=str(account_id),
        display_name="bench",
        email=None,
        status=AccountStatus.ACTIVE,
        created_at=_EPOCH,
    )


class UnverifiedAccounts:
    """``acme.accounts.interface`` with an ``authenticate`` that trusts the token."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real
        self._accounts: dict[str, Account] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def authenticate(self, _deps: object, token: str) -> Account:
        found = self._accounts.get(token)
        if found is None:
            claims = jwt.decode(token, options={"verify_signature": False})
            found = self._accounts[token] = _account(uuid.UUID(str(claims["sub"])))
        return found


def create_app() -> FastAPI:
    """The production app, its current account taken from the unverified token."""
    acme_api.dependencies.accounts = UnverifiedAccounts(interface)  # type: ignore[attr-defined,assignment]
    return create_api()
