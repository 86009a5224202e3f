"""The OpenAPI document: every error response documented as problem details.

FastAPI documents validation errors as its own ``HTTPValidationError`` JSON,
but this API answers every error with ``application/problem+json``
(:mod:`acme_api.problems`). :func:`install_openapi` rewrites the generated
document so each 4xx/5xx response says exactly that, which keeps the schema
true for clients and for the schema-driven fuzz tests.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from .problems import PROBLEM_JSON

__all__ = ["Problem", "install_openapi", "problems", "query_parameters"]


class Problem(BaseModel):
    """An RFC 9457 problem details document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URN naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str = Field(description="a stable machine-readable identifier")
    request_id: str | None = Field(None, description="quote it when reporting the problem")
    errors: list[dict[str, JsonValue]] | None = Field(
        None, description="each offending field: loc, pointer, message, type"
    )


_WHY = {
    400: "Malformed request (a body that is not UTF-8 JSON, a malformed cursor)",
    401: "Missing, invalid or expired credentials",
    403: "The account may not do this",
    404: "No such resource (or not yours)",
    409: "Conflict with the current state",
    412: "The resource changed since the ETag given in If-Match",
    413: "The request body is too large",
    422: "Invalid input; `errors` names each offending field",
    428: "If-Match is required",
    503: "A dependency is down",
}
_REF = {"$ref": "#/components/schemas/Problem"}
_NO_BODY = {"204", "301", "302", "303", "304", "307", "308"}  # answered without a body


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for problem answers (their content is added by the installer)."""
    return {
        status: {"description": _WHY.get(status, HTTPStatus(status).phrase)} for status in statuses
    }


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI's query parameters for ``model``'s fields, as FastAPI documents a query model."""
    schema = model.model_json_schema()
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: a query model's fields must not refer to other schemas")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        shown = {key: value for key, value in field.items() if (key, value) != ("default", None)}
        parameter = {"name": name, "in": "query", "required": name in required, "schema": shown}
        if "description" in shown:
            parameter["description"] = shown["description"]
        parameters.append(parameter)
    return parameters


def _is_error(status: str) -> bool:
    return status == "default" or status[:1] in ("4", "5")


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make every error response of ``schema`` a ``Problem`` in ``application/problem+json``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                # Every body is parsed and size-checked before any handler runs.
                for status in ("400", "413"):
                    operation["responses"].setdefault(status, {"description": _WHY[int(status)]})
            for status, response in operation.get("responses", {}).items():
                if str(status) in _NO_BODY:
                    response.pop("content", None)
                if _is_error(str(status)):
                    response["content"] = {PROBLEM_JSON: {"schema": dict(_REF)}}
                    if status == "422":
                        response["description"] = _WHY[422]
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document at ``app.openapi_url`` (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
