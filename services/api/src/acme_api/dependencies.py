"""FastAPI dependency aliases: what route handlers may ask for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from acme.accounts.dependencies import AccountsDependencies
from acme.accounts.models import Account
from acme.core.errors import Unauthenticated
from acme.core.security import InvalidToken, bearer_challenge
from acme.items.dependencies import ItemsDependencies

from .bootstrap import Container
from .cookies import CookieNames, check_csrf
from .settings import Settings

__all__ = [
    "AccountsDeps",
    "BearerAccount",
    "ContainerDep",
    "CookieNamesDep",
    "CurrentAccount",
    "ItemsDeps",
    "SettingsDep",
    "get_current_account",
]


# The providers below do no I/O but are ``async def`` all the same: FastAPI runs a
# plain ``def`` dependency in its thread pool, and that hand-off costs more than
# the work (the benchmarks' profiles put it at a quarter of a request's CPU).


async def get_container(request: Request) -> Container:
    """The container the lifespan built for this app."""
    container: Container = request.app.state.container
    return container


async def get_settings(container: Annotated[Container, Depends(get_container)]) -> Settings:
    return container.settings


async def get_accounts_deps(
    container: Annotated[Container, Depends(get_container)],
) -> AccountsDependencies:
    return container.accounts


async def get_cookie_names(settings: Annotated[Settings, Depends(get_settings)]) -> CookieNames:
    return CookieNames.of(settings)


class BearerAccount(HTTPBearer):
    """The signed-in account, from ``Authorization: Bearer`` or the session cookie.

    An :class:`~fastapi.security.HTTPBearer`, so OpenAPI documents the bearer
    scheme (the /docs "Authorize" button), that reads the header itself and
    answers the account: one dependency per protected request where a
    scheme and an account resolver would be two (FastAPI resolves every
    dependency anew on every request).
    """

    async def __call__(self, request: Request) -> Account:  # type: ignore[override]
        """Authenticate the request.

        Raises:
            Unauthenticated: no credentials (401 with ``WWW-Authenticate``).
            InvalidToken: a bad, expired or revoked token, or an
                ``Authorization`` header that is not ``Bearer <token>`` (401).
            PermissionDenied: a disabled account, or a cookie-authenticated
                unsafe request without the CSRF header (403).
        """
        container: Container = request.app.state.container
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise InvalidToken("the Authorization header must be 'Bearer <access token>'")
            return await container.authenticator(token)
        names = container.cookie_names
        cookie_token = request.cookies.get(names.access)
        if not cookie_token:
            raise Unauthenticated(
                "sign in, or send Authorization: Bearer <access token>",
                code="unauthenticated",
                extra={"www_authenticate": bearer_challenge()},
            )
        account = await container.authenticator(cookie_token)
        check_csrf(request, names)
        return account


get_current_account = BearerAccount(
    auto_error=False,
    scheme_name="HTTPBearer",
    description="an access token from /auth/callback, /auth/refresh or `acme-api token issue`",
)
"""Resolves :data:`CurrentAccount`; documented as the ``HTTPBearer`` security scheme."""


ContainerDep = Annotated[Container, Depends(get_container)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AccountsDeps = Annotated[AccountsDependencies, Depends(get_accounts_deps)]
CookieNamesDep = Annotated[CookieNames, Depends(get_cookie_names)]
CurrentAccount = Annotated[Account, Depends(get_current_account)]
"""The signed-in :class:`~acme.accounts.models.Account` (``account.id`` is its UUID)."""


async def get_items_deps(request: Request) -> ItemsDependencies:
    """The items component's ports."""
    container: Container = request.app.state.container
    return container.items


ItemsDeps = Annotated[ItemsDependencies, Depends(get_items_deps)]
