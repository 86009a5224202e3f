"""Routes whose ordinary requests skip FastAPI's per-request dependency solving.

FastAPI works out a route's arguments anew on every request: it walks the
dependency tree, inspects each callable and annotation again, validates the
parameters of every kind (most of them empty lists) and parses a JSON body
to Python before validating it a second time. On the items routes that
was the largest single cost of a request after the database.

:class:`DirectRoute` looks at the route once, when the app is built. If
every argument is of a shape it can supply directly, it builds a lean
handler that, per request:

- validates a JSON body once, from the raw bytes
  (``TypeAdapter.validate_json``), when the content type is plainly
  ``application/json`` and the body holds no ``\\u`` escape (the one way to
  send text no database here can store, see :mod:`.json_body`);
- awaits each dependency (``async``, taking only the request, no
  sub-dependencies) directly, in the declared order, as FastAPI would;
- validates path and header parameters with FastAPI's own fields;
- calls the endpoint and returns its :class:`~starlette.responses.Response`.

Whenever a request is not that ordinary (a body or parameter that does not
validate, another content type, an escape in the body), or the app has
dependency overrides (tests), the request goes to FastAPI's own handler,
which answers it exactly as before: every error keeps its status, shape and
order (a body's 400/415 before authentication, authentication's 401 before
a parameter's 422). A dependency is then awaited a second time, on the
error path only. Routes with anything else (query, cookie or form
parameters, parameters read through a validation alias or a model, a body
parameter with validators of its own, ``yield`` dependencies, dependencies
with a concurrency limit, security scopes, an endpoint that does not return
a ``Response``) always take FastAPI's handler, and so does every route when
FastAPI does not expose how it includes routes. OpenAPI is built
from the same declarations either way.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

import fastapi.routing
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel, TypeAdapter, ValidationError

from .json_body import JsonBodyRoute

__all__ = ["PLAN_DECLINED", "DirectRoute"]

PLAN_DECLINED = "acme.plan_declined"
"""Set in the scope of a request whose plan gave up (:mod:`.direct_lane`): its route then
goes straight to FastAPI's handler instead of running the plan, and its dependencies,
a second time."""

_Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# The content types whose bodies the lean handler reads; any other goes the long way.
_PLAIN_JSON = frozenset({"application/json", "application/json; charset=utf-8"})


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    alias: str
    field: Any  # FastAPI's ModelField: .validate(value, values, loc=...)
    required: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a route's endpoint takes, and where each argument comes from."""

    endpoint: Callable[..., Awaitable[Any]]
    dependencies: tuple[tuple[str | None, Callable[[Request], Awaitable[Any]]], ...]
    path: tuple[_Param, ...]
    headers: tuple[_Param, ...]
    request_name: str | None
    body: tuple[str, TypeAdapter[Any]] | None

    async def arguments(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's keyword arguments, or ``None`` to leave the request to FastAPI."""
        values: dict[str, Any] = {}
        # The body first: FastAPI's handler reads (and refuses) it before any dependency.
        if self.body is not None and not await self._read_body(request, values):
            return None
        for name, dependency in self.dependencies:
            value = await dependency(request)
            if name is not None:
                values[name] = value
        path, headers = request.path_params, request.headers
        if not (
            _bind(self.path, path, "path", values)
            and _bind(self.headers, headers, "header", values)
        ):
            return None
        if self.request_name is not None:
            values[self.request_name] = request
        return values

    async def _read_body(self, request: Request, values: dict[str, Any]) -> bool:
        if request.headers.get("content-type", "").lower() not in _PLAIN_JSON:
            return False
        raw = await request.body()
        if not raw or b"\\u" in raw:
            return False
        assert self.body is not None
        name, adapter = self.body
        try:
            values[name] = adapter.validate_json(raw)
        except ValidationError:
            return False
        return True


def _bind(
    params: tuple[_Param, ...], source: Mapping[str, str], where: str, values: dict[str, Any]
) -> bool:
    """Validate ``params`` from ``source`` into ``values``; ``False`` at the first that fails
    (or is required and missing)."""
    for param in params:
        raw = source.get(param.alias)
        if raw is None:
            if param.required:
                return False
            values[param.name] = param.field.get_default()
            continue
        value, errors = param.field.validate(raw, values, loc=(where, param.alias))
        if errors:
            return False
        values[param.name] = value
    return True


def _is_async(call: Any) -> bool:
    if inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call):
        return False
    if inspect.iscoroutinefunction(call):
        return True
    # an instance whose __call__ is a coroutine function (a security scheme, say)
    return inspect.iscoroutinefunction(type(call).__call__)


def _leaf_dependency(dependant: Dependant) -> Callable[[Request], Awaitable[Any]] | None:
    """The callable of a dependency that takes the request and nothing else."""
    others = (
        dependant.path_params,
        dependant.query_params,
        dependant.header_params,
        dependant.cookie_params,
        dependant.body_params,
        dependant.dependencies,
    )
    special = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    call = dependant.call
    if call is None or any(others) or any(special) or dependant.request_param_name is None:
        return None
    if getattr(dependant, "concurrency", None) is not None:
        return None  # a concurrency limit of FastAPI's: its handler applies it
    if not _is_async(call) or dependant.own_oauth_scopes or dependant.parent_oauth_scopes:
        return None
    request_name = dependant.request_param_name

    async def leaf(request: Request) -> Any:
        return await call(**{request_name: request})

    return leaf


def _params(fields: list[Any]) -> tuple[_Param, ...] | None:
    """Path or header parameters read by their alias, or ``None`` when FastAPI would read
    one another way (a validation alias, a model of parameters)."""
    for field in fields:
        info = field.field_info
        annotation = info.annotation
        if info.validation_alias is not None or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            return None
    return tuple(_Param(f.name, f.alias, f, f.field_info.is_required()) for f in fields)


def _returns_response(call: Callable[..., Any]) -> bool:
    try:
        returned = get_type_hints(call).get("return")
    except (NameError, TypeError):  # an annotation that cannot be resolved: FastAPI's path
        return False
    return isinstance(returned, type) and issubclass(returned, Response)


def _plain_endpoint(dependant: Dependant) -> bool:
    """An async endpoint returning a Response, with no parameters of the kinds not handled."""
    call = dependant.call
    special = (
        dependant.query_params,
        dependant.cookie_params,
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    return (
        call is not None
        and inspect.iscoroutinefunction(call)
        and _returns_response(call)
        and not any(special)
    )


def _body(route: Any) -> tuple[str, TypeAdapter[Any]] | None:
    body_field = route.body_field
    if body_field is None or route._embed_body_fields or body_field.field_info.metadata:
        return None  # validators or constraints on the parameter itself: FastAPI's handler
    return body_field.name, TypeAdapter(body_field.field_info.annotation)


def plan_for(route: Any) -> _Plan | None:
    """The lean plan of a route (an ``APIRoute`` or FastAPI's view of an included one)."""
    dependant: Dependant = route.dependant
    if not _plain_endpoint(dependant):
        return None
    leaves = [_leaf_dependency(sub) for sub in dependant.dependencies]
    repeated = len({sub.call for sub in dependant.dependencies}) < len(leaves)
    # FastAPI would call a repeated dependency once: such a route keeps its handler.
    body = _body(route) if dependant.body_params else None
    path, headers = _params(dependant.path_params), _params(dependant.header_params)
    unplanned = path is None or headers is None or (dependant.body_params and body is None)
    if None in leaves or repeated or unplanned:
        return None
    assert path is not None
    assert headers is not None
    assert dependant.call is not None
    return _Plan(
        endpoint=dependant.call,
        dependencies=tuple(
            (sub.name, leaf)
            for sub, leaf in zip(dependant.dependencies, leaves, strict=True)
            if leaf is not None
        ),
        path=path,
        headers=headers,
        request_name=dependant.request_param_name,
        body=body,
    )


def _effective(route: DirectRoute) -> Any | None:
    """The route as FastAPI builds its handler: an included route's view, with the
    dependencies and overrides of where it is included, else the route itself;
    ``None`` when this FastAPI does not say (then no plan: FastAPI's handler)."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    if context_var is None:
        return None  # never guess: a plan without the includer's dependencies would skip them
    context = context_var.get()
    if context is not None and getattr(context, "original_route", None) is route:
        return context
    return route


class DirectRoute(JsonBodyRoute):
    """A :class:`.JsonBodyRoute` that supplies a plain route's arguments itself (see the
    module's text); anything unusual is FastAPI's handler's."""

    def get_route_handler(self) -> _Handler:
        full = super().get_route_handler()
        route = _effective(self)
        plan = None if route is None else plan_for(route)
        if route is None or plan is None:
            return full
        overrides = route.dependency_overrides_provider

        async def direct(request: Request) -> Response:
            if overrides is not None and getattr(overrides, "dependency_overrides", None):
                return await full(request)
            if request.scope.get(PLAN_DECLINED):
                return await full(request)  # the direct lane tried this plan already
            arguments = await plan.arguments(request)
            if arguments is None:
                return await full(request)
            response: Response = await plan.endpoint(**arguments)
            return response

        return direct
