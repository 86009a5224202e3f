"""Sign-in through the OpenID provider, token refresh and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from acme.accounts import interface as accounts
from acme.accounts.serializers import AccountOut, SignInStart, TokenPair
from acme.core.errors import Unauthenticated
from acme.core.security import bearer_challenge
from acme_api.cookies import check_csrf, clear_session, set_session, set_sign_in
from acme_api.dependencies import AccountsDeps, CookieNamesDep
from acme_api.direct_route import DirectRoute

router = APIRouter(prefix="/auth", tags=["auth"], route_class=DirectRoute)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RefreshRequest(BaseModel):
    """A refresh token sent in the body (clients without the session cookie)."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)


class SignInResult(TokenPair):
    """The API's tokens and the account, for clients that asked for JSON."""

    account: AccountOut
    return_to: str


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get(
    "/login",
    summary="Start signing in at the OpenID provider",
    status_code=302,
    responses={200: {"model": SignInStart, "description": "With Accept: application/json"}},
)
async def login(
    request: Request,
    deps: AccountsDeps,
    names: CookieNamesDep,
    return_to: Annotated[str, Query(max_length=2048)] = "/",
) -> Response:
    """Redirect to the provider; the sign-in attempt, sealed, is bound to this browser by a cookie.

    Nothing is stored: anyone may start a sign-in, and doing so writes no row.
    """
    start = await accounts.begin_sign_in(deps, return_to=return_to)
    response: Response
    if _wants_json(request):
        response = JSONResponse(start.model_dump(mode="json"), headers=_NO_STORE)
    else:
        response = RedirectResponse(start.authorization_url, status_code=302, headers=_NO_STORE)
    set_sign_in(response, names, start.bound_state, max_age=start.expires_in)
    return response


@router.get(
    "/callback",
    summary="Finish signing in (the provider redirects here)",
    status_code=303,
    responses={
        200: {"model": SignInResult, "description": "With Accept: application/json"},
        400: {"description": "Bad or reused state, provider error, refused code"},
        401: {"description": "The provider's ID token is invalid"},
    },
)
async def callback(
    request: Request,
    deps: AccountsDeps,
    names: CookieNamesDep,
    *,
    state: Annotated[str | None, Query(max_length=512)] = None,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
    iss: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Check state, exchange the code, validate the ID token, and open a session."""
    signed_in = await accounts.complete_sign_in(
        deps,
        state=state,
        bound_state=request.cookies.get(names.sign_in),
        code=code,
        error=error,
        error_description=error_description,
        issuer=iss,
    )
    response: Response
    if _wants_json(request):
        body = SignInResult(
            **signed_in.tokens.model_dump(),
            account=signed_in.account,
            return_to=signed_in.return_to,
        )
        response = JSONResponse(body.model_dump(mode="json"), headers=_NO_STORE)
    else:
        response = RedirectResponse(signed_in.return_to, status_code=303, headers=_NO_STORE)
    set_session(response, names, signed_in.tokens)
    response.delete_cookie(names.sign_in, path="/", secure=names.secure, httponly=True)
    return response


@router.post(
    "/refresh",
    summary="Trade a refresh token for a new token pair",
    responses={401: {"description": "Unknown, used, expired or revoked refresh token"}},
)
async def refresh(
    request: Request,
    deps: AccountsDeps,
    names: CookieNamesDep,
    body: RefreshRequest | None = None,
) -> JSONResponse:
    """Rotate the refresh token (from the body, or the session cookie with ``X-CSRF-Token``).

    A refresh token works once; presenting it again ends the whole session.
    """
    from_cookie = body is None
    if body is not None:
        token = body.refresh_token
    else:
        token = request.cookies.get(names.refresh, "")
        if not token:
            raise Unauthenticated(
                "send a refresh token in the body or the session cookie",
                extra={"www_authenticate": bearer_challenge()},
            )
        check_csrf(request, names)
    tokens = await accounts.refresh(deps, token)
    response = JSONResponse(tokens.model_dump(mode="json"), headers=_NO_STORE)
    if from_cookie:
        set_session(response, names, tokens)
    return response


@router.post(
    "/logout",
    summary="End the session",
    status_code=204,
    responses={
        401: {"description": "The bearer access token is invalid or expired"},
        403: {"description": "Signing out by the session cookie without the CSRF header"},
        409: {
            "description": (
                "`token_not_revocable`: the bearer access token belongs to no session (a "
                "local account's token from `acme-api token issue`), so it cannot be "
                "revoked; it is accepted until `expires_at` (RFC 3339, also in `detail`)"
            )
        },
    },
)
async def logout(
    request: Request,
    deps: AccountsDeps,
    names: CookieNamesDep,
    body: RefreshRequest | None = None,
) -> Response:
    """Revoke the session of a refresh token (body or cookie) or of the bearer access token.

    Idempotent: an unknown or already revoked session answers 204 too. A
    bearer token of no session cannot be revoked: that is a 409 problem
    naming when the token expires, never a 204 that would claim otherwise.
    """
    refresh_token = body.refresh_token if body is not None else None
    access_token: str | None = None
    authorization = request.headers.get("authorization", "")
    if refresh_token is None and authorization.lower().startswith("bearer "):
        access_token = authorization[7:].strip()
    elif refresh_token is None:
        refresh_token = request.cookies.get(names.refresh)
        if refresh_token:
            check_csrf(request, names)
    await accounts.sign_out(deps, refresh_token=refresh_token, access_token=access_token)
    response = Response(status_code=204, headers=_NO_STORE)
    clear_session(response, names)
    return response
