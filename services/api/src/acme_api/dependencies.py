"""FastAPI dependency aliases: what route handlers may ask for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from acme.accounts import interface as accounts
from acme.accounts.dependencies import AccountsDeps
from acme.accounts.models import Account
from acme.core.errors import Unauthenticated
from acme.core.security import InvalidToken, bearer_challenge
from acme.items.dependencies import ItemsDependencies

from .bootstrap import Container
from .sessions import CookieNames, check_csrf
from .settings import Settings

__all__ = [
    "AccountsDepsDep",
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
) -> AccountsDeps:
    return container.accounts


async def get_cookie_names(settings: Annotated[Settings, Depends(get_settings)]) -> CookieNames:
    return CookieNames.of(settings)


async def get_current_account(
    request: Request,
    deps: Annotated[AccountsDeps, Depends(get_accounts_deps)],
    names: Annotated[CookieNames, Depends(get_cookie_names)],
) -> Account:
    """The signed-in account, from ``Authorization: Bearer`` or the session cookie.

    Raises:
        Unauthenticated: no credentials (401 with ``WWW-Authenticate``).
        InvalidToken: a bad, expired or revoked token (401).
        PermissionDenied: a disabled account, or a cookie-authenticated
            unsafe request without the CSRF header (403).
    """
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidToken("the Authorization header must be 'Bearer <access token>'")
        return await accounts.authenticate(deps, token)
    cookie_token = request.cookies.get(names.access)
    if not cookie_token:
        raise Unauthenticated(
            "sign in, or send Authorization: Bearer <access token>",
            code="unauthenticated",
            extra={"www_authenticate": bearer_challenge()},
        )
    account = await accounts.authenticate(deps, cookie_token)
    check_csrf(request, names)
    return account


ContainerDep = Annotated[Container, Depends(get_container)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AccountsDepsDep = Annotated[AccountsDeps, Depends(get_accounts_deps)]
CookieNamesDep = Annotated[CookieNames, Depends(get_cookie_names)]
CurrentAccount = Annotated[Account, Depends(get_current_account)]
"""The signed-in :class:`~acme.accounts.models.Account` (``account.id`` is its UUID)."""


async def get_items_deps(
    container: Annotated[Container, Depends(get_container)],
) -> ItemsDependencies:
    """The items component's ports."""
    return container.items


ItemsDeps = Annotated[ItemsDependencies, Depends(get_items_deps)]
