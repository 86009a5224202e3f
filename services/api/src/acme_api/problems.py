"""RFC 9457 problem details for every error the API answers with."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

from acme.core.errors import (
    Conflict,
    DomainError,
    Invalid,
    Malformed,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unauthenticated,
    Unavailable,
)
from acme.core.logging import request_id_var

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem_response", "status_for"]

PROBLEM_JSON = "application/problem+json"

logger = logging.getLogger(__name__)

# Most specific first: the first matching class decides the status.
_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Malformed, 400),
    (Invalid, 422),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (PreconditionFailed, 412),
    (Conflict, 409),
    (Unavailable, 503),
)


def status_for(error: DomainError) -> int:
    """The HTTP status a domain error maps to (400 for an unlisted kind)."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def problem_response(
    request: Request | None,
    *,
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response.

    ``type`` is a URN naming the problem kind (stable, not dereferenceable),
    ``instance`` the request path, and ``request_id`` the id to quote to support.
    """
    body: dict[str, Any] = {
        "type": f"urn:acme:problem:{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    body["code"] = code
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = list(errors)
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def _pointer(loc: Sequence[str | int]) -> str:
    """An RFC 6901 JSON pointer into the request: ``#/body/title``, ``#/query/limit``.

    The first part says where in the request (``body``, ``query``, ``path``,
    ``header``, ``cookie``); the rest is the path inside it.
    """
    return "#/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in loc)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = str(exc.extra.get("www_authenticate", 'Bearer realm="acme"'))
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = "5"
    errors = None
    if isinstance(exc, Invalid) and exc.errors:
        errors = [
            {"loc": list(e.loc), "pointer": _pointer(e.loc), "message": e.message, "type": e.type}
            for e in exc.errors
        ]
    public_extra = {k: v for k, v in exc.extra.items() if k != "www_authenticate"}
    if isinstance(exc, Unavailable) and exc.diagnostic:
        # The cause (driver message, SQLSTATE) is for operators, never for the body.
        logger.warning("%s: %s: %s", type(exc).__name__, exc.detail, exc.diagnostic)
    elif status >= 500:
        logger.warning("%s: %s", type(exc).__name__, exc.detail)
    return problem_response(
        request,
        status=status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=errors,
        headers=headers,
        extra=public_extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(error["loc"]),
            "pointer": _pointer(error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    named = ", ".join(e["pointer"] for e in errors[:5])
    return problem_response(
        request,
        status=422,
        code="validation_failed",
        title="Invalid input",
        detail=f"{len(errors)} invalid field{'s' * (len(errors) != 1)}: {named}",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = {
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
        428: "precondition_required",
    }.get(status, f"http_{status}")
    detail: str | None = exc.detail
    if detail == HTTPStatus(status).phrase:
        detail = None
    if status == 404 and detail is None:
        detail = f"no resource at {request.url.path}"
    headers = dict(exc.headers or {})
    if status == 405:
        # Starlette names only the methods of the first route on the path; a
        # path served by several routes (GET and POST /items) allows them all.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(request, status=status, code=code, detail=detail, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route serves at this path (asked of the router, method by method)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as problem details.

    Unexpected exceptions are turned into a 500 problem by
    :class:`acme_api.middleware.RequestContextMiddleware`, which also tags it
    with the request id; no stack trace ever reaches a client.
    """
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
