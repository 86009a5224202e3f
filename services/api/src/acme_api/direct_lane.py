"""The direct lane: ordinary requests to planned routes, straight from the middleware.

A request that reaches a route through FastAPI passes, inside acme's own
middleware, through Starlette's exception middleware, FastAPI's exit-stack
middleware, its router (which, since FastAPI includes routers as views,
matches each included router and route in turn), the route's
request-response wrapper with its two exit stacks, and the exception
wrapper around it: on the items routes that was as much CPU as the
route's own work (the benchmarks' profiles).

:class:`DirectLane` sits innermost among acme's middleware. For a request
whose method and path match a route of a router included with
:func:`include_direct` and planned by :class:`~acme_api.direct_route.DirectRoute`,
it sets what the router would set in the scope (``route``, ``endpoint``,
``path_params``), supplies the endpoint's arguments from the plan and sends
its response; an exception is rendered by the app's exception handlers
(the problem details), as Starlette's wrapper would: an ``async`` handler
awaited, a plain one in the thread pool, no answer when it returns
``None``. An exception raised while the response is being sent is not given
to the handlers (the answer has started, or the client is gone): it goes
on to the request context's last-resort 500, as through Starlette, which
refuses to handle it once the response has started. Anything else goes
on down FastAPI's own stack, untouched:

- a path or method no laned route matches (FastAPI's 404 and 405);
- a request the plan does not take (a body or parameter that does not
  validate, another content type...): it is handed down with its body
  replayed and marked (``PLAN_DECLINED``), so its route goes straight to
  FastAPI's handler, which answers it exactly as before, errors and their
  order included (a dependency has then run twice: once in the plan, once
  in FastAPI's handler, as on the plan's own fallback);
- every request while the app has dependency overrides (tests), or when
  the app or a laned router has dependencies or a body limit of FastAPI's,
  which the lane would not apply.

:func:`include_direct` includes the router at the app's root as it is (no
prefix, no dependencies added by the include), so the routes the lane
serves are exactly the routes FastAPI would select.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .direct_route import PLAN_DECLINED, DirectRoute, _Plan, plan_for

__all__ = ["DirectLane", "include_direct"]

_ROUTERS_KEY = "direct_lane_routers"

_Handler = Callable[[Request, Exception], Any]  # a response, or an awaitable of one


def include_direct(app: FastAPI, router: APIRouter) -> None:
    """Include ``router`` at the app's root, its planned routes served by the lane."""
    app.include_router(router)
    routers: tuple[APIRouter, ...] = getattr(app.state, _ROUTERS_KEY, ())
    setattr(app.state, _ROUTERS_KEY, (*routers, router))


@dataclass(frozen=True, slots=True)
class _Entry:
    route: DirectRoute
    regex: re.Pattern[str]
    convertors: dict[str, Any]
    methods: frozenset[str]
    plan: _Plan


class _Table:
    """The laned routes of one app, and its exception handlers, as Starlette keeps them."""

    def __init__(self, app: FastAPI) -> None:
        self.entries: tuple[_Entry, ...] = ()
        self.by_class: dict[Any, _Handler] = {}
        self.by_status: dict[int, _Handler] = {}
        routers: Sequence[APIRouter] = getattr(app.state, _ROUTERS_KEY, ())
        if app.router.dependencies or getattr(app, "max_body_size", None) is not None:
            return  # the lane would skip what the app adds to every route
        for key, handler in app.exception_handlers.items():
            if isinstance(key, int):
                self.by_status[key] = handler
            elif key is not Exception:  # Exception is the server-error middleware's, outside
                self.by_class[key] = handler
        entries = []
        for router in routers:
            if router.dependencies or getattr(router, "max_body_size", None) is not None:
                continue
            for route in router.routes:
                if not isinstance(route, DirectRoute):
                    continue
                plan = plan_for(route)
                if plan is None or getattr(route, "max_body_size", None) is not None:
                    continue
                entries.append(
                    _Entry(
                        route=route,
                        regex=route.path_regex,
                        convertors=route.param_convertors,
                        methods=frozenset(route.methods or ()),
                        plan=plan,
                    )
                )
        self.entries = tuple(entries)

    def match(self, scope: Scope) -> tuple[_Entry, dict[str, Any]] | None:
        path, method = scope["path"], scope["method"]
        for entry in self.entries:
            found = entry.regex.match(path)
            if found is not None and method in entry.methods:
                params = {
                    name: entry.convertors[name].convert(value)
                    for name, value in found.groupdict().items()
                }
                return entry, params
        return None

    def handler_for(self, exc: Exception) -> _Handler | None:
        if isinstance(exc, HTTPException) and exc.status_code in self.by_status:
            return self.by_status[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.by_class:
                return self.by_class[cls]
        return None


class DirectLane:
    """Serves the ordinary requests of laned routes itself (see the module's text)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: _Table | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fastapi_app: FastAPI | None = scope.get("app")
        if (
            scope["type"] != "http"
            or scope.get("root_path")
            or fastapi_app is None
            or fastapi_app.dependency_overrides
        ):
            await self.app(scope, receive, send)
            return
        table = self._table
        if table is None:
            table = self._table = _Table(fastapi_app)
        matched = table.match(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        entry, params = matched
        scope["route"] = entry.route
        scope["endpoint"] = entry.route.endpoint
        scope["path_params"] = params
        recorded = _Recorded(receive) if entry.plan.body is not None else None
        request = Request(scope, receive if recorded is None else recorded, send)
        try:
            arguments = await entry.plan.arguments(request)
            if arguments is not None:
                response = await entry.plan.endpoint(**arguments)
        except Exception as exc:
            handler = table.handler_for(exc)
            if handler is None:
                raise
            if _is_async(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            exc.__traceback__ = None  # a reused exception would pile up tracebacks
            if response is None:
                return
        else:
            if arguments is None:  # not a request the plan takes: FastAPI's, body and all
                scope[PLAN_DECLINED] = True
                await self.app(scope, receive if recorded is None else recorded.replay(), send)
                return
        await response(scope, receive, send)


def _is_async(handler: _Handler) -> bool:
    """Whether calling ``handler`` gives an awaitable (a partial's or an object's too)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - the method, not callability
    )


class _Recorded:
    """A ``receive`` that keeps the body it passes on, to give it again to FastAPI."""

    __slots__ = ("_chunks", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._chunks: list[bytes] = []

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._chunks.append(message.get("body", b""))
        return message

    def replay(self) -> Receive:
        """The body read so far as one message, then the rest as it comes."""
        if not self._chunks:
            return self._receive
        pending: list[Message] = [
            {"type": "http.request", "body": b"".join(self._chunks), "more_body": False}
        ]
        receive = self._receive

        async def replayed() -> Message:
            return pending.pop() if pending else await receive()

        return replayed
