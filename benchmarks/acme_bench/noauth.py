"""The API with authentication taken out: benchmark-only, never part of the product.

To price token verification, the runner serves this app beside the real one
and sends both the very same requests. It is the production app from
``acme_api.main.create_app()`` with one FastAPI dependency override: the
current account comes from the ``X-Bench-Account`` header (an account id the
scenario also has a real token for) instead of from verifying the token and
loading the account. Everything else, routes, middleware, serialisation, the
database work of the request itself, is the production code path.

Served only by the benchmark runner (``gunicorn ... acme_bench.noauth:create_app()``);
nothing in the API imports it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import FastAPI, HTTPException, Request

from acme.accounts.models import LOCAL_ISSUER, Account, AccountStatus
from acme_api.dependencies import get_current_account
from acme_api.main import create_app as create_api

__all__ = ["HEADER", "create_app"]

HEADER = "x-bench-account"
_EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_accounts: dict[str, Account] = {}


def _account(raw: str) -> Account:
    try:
        account_id = uuid.UUID(raw)
    except ValueError:
        raise HTTPException(400, f"{HEADER} is not an account id") from None
    return Account(
        id=account_id,
        issuer=LOCAL_ISSUER,
        subject=str(account_id),
        display_name="bench",
        email=None,
        status=AccountStatus.ACTIVE,
        created_at=_EPOCH,
    )


async def account_from_header(request: Request) -> Account:
    """The account the scenario names, unverified (one dict lookup after the first time)."""
    raw = request.headers.get(HEADER)
    if raw is None:
        raise HTTPException(400, f"the no-auth benchmark app needs {HEADER}")
    found = _accounts.get(raw)
    if found is None:
        found = _accounts[raw] = _account(raw)
    return found


def create_app() -> FastAPI:
    """The production app, with the current account taken from a header."""
    app = create_api()
    app.dependency_overrides[get_current_account] = account_from_header
    return app
