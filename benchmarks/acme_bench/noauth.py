"""The API with authentication taken out, to price it: benchmark-only, never the product.

The production app from ``acme_api.main.create_app``, its container's
authenticator swapped for one that trusts the token: the account is the token's
``sub``, read without verifying the token, checking the session or loading the
account. The current-account dependency, the routes, the middleware and the
request's own database work are the production code path. Served only by the
runner (``gunicorn ... acme_bench.noauth:create_app()``).
"""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
from fastapi import FastAPI

from acme.accounts.models import LOCAL_ISSUER, Account, AccountStatus
from acme_api.main import create_app as create_api

_accounts: dict[str, Account] = {}


async def trust(token: str) -> Account:
    """The account a token names, unverified, made up once per token."""
    if token not in _accounts:
        account_id = uuid.UUID(str(jwt.decode(token, options={"verify_signature": False})["sub"]))
        created = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        _accounts[token] = Account(
            account_id, LOCAL_ISSUER, str(account_id), "bench", None, AccountStatus.ACTIVE, created
        )
    return _accounts[token]


def create_app() -> FastAPI:
    """The production app, its current account taken from the unverified token."""
    return create_api(authenticator=trust)
