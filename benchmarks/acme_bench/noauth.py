"""The API with authentication taken out, to price it: benchmark-only, never the product.

The production app from ``acme_api.main.create_app``, whose current-account
dependency, unchanged, calls a stand-in for ``acme.accounts.interface.authenticate``:
the account is the token's ``sub``, read without verifying the token, checking the
session or loading the account. The routes, the middleware and the request's own
database work are the production code path. Served only by the runner
(``gunicorn ... acme_bench.noauth:create_app()``).
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


class UnverifiedAccounts:
    """``acme.accounts.interface`` with an ``authenticate`` that trusts the token."""

    def __init__(self, real: ModuleType) -> None:
        self._real, self._accounts = real, dict[str, Account]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def authenticate(self, _deps: object, token: str) -> Account:
        if token not in self._accounts:
            account_id = uuid.UUID(
                str(jwt.decode(token, options={"verify_signature": False})["sub"])
            )
            created = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
            self._accounts[token] = Account(
                account_id,
                LOCAL_ISSUER,
                str(account_id),
                "bench",
                None,
                AccountStatus.ACTIVE,
                created,
            )
        return self._accounts[token]


def create_app() -> FastAPI:
    """The production app, its current account taken from the unverified token."""
    acme_api.dependencies.accounts = UnverifiedAccounts(interface)  # type: ignore[attr-defined,assignment]
    return create_api()
