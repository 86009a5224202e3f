"""Request bodies are read here, once, before FastAPI validates them.

FastAPI would accept any content type (a ``text/plain`` body becomes a 422
about the model), report malformed JSON as a validation error whose
"pointer" is a character offset, answer a generic 400 for a body that is
not UTF-8, and let JSON escapes through that no database can store: a lone
surrogate (``"\\ud800"``) is valid JSON but not UTF-8, and NUL
(``"\\u0000"``) fits neither PostgreSQL's ``text`` nor its ``jsonb``. Such a
value stored once would break every later read of it.

:class:`JsonBodyRoute` reads the body of every route that declares one and
answers:

- 415 ``unsupported_media_type`` unless the content type is JSON;
- 400 ``invalid_json`` for bytes that are not UTF-8 or not JSON, with the
  byte offset of the fault (``offset``);
- 422 ``validation_failed`` naming the field (a JSON pointer) for a string,
  key or value at any depth, that holds a lone surrogate or NUL.

The parsed document is left on the request, so FastAPI does not parse it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from acme.core.errors import FieldError, Invalid, Malformed

__all__ = ["JsonBodyRoute", "read_json_body", "unstorable_text"]

_Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class JsonBodyRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` whose JSON body is checked before validation."""

    def get_route_handler(self) -> _Handler:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            await read_json_body(request)
            return await handler(request)

        return checked


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _invalid_json(detail: str, offset: int) -> Malformed:
    return Malformed(detail, code="invalid_json", extra={"offset": offset})


async def read_json_body(request: Request) -> Any:
    """Parse the request's JSON body, or raise the problem that describes why not.

    Returns ``None`` for an empty body (the route's validation then reports
    the missing body).

    Raises:
        HTTPException: 415, the content type is not JSON.
        Malformed: the body is not UTF-8 or not JSON (``invalid_json``).
        Invalid: a string in it cannot be stored (lone surrogate or NUL).
    """
    body = await request.body()
    if not body:
        return None
    if not _is_json(request.headers.get("content-type")):
        raise HTTPException(415, "send the body as JSON, with Content-Type: application/json")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid_json(f"the body is not UTF-8 text (byte {exc.start})", exc.start) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode())
        raise _invalid_json(
            f"the body is not valid JSON: {exc.msg} at byte {offset}", offset
        ) from None
    except RecursionError:
        # Thousands of nested arrays or objects: no request body of this API nests so deep.
        raise _invalid_json("the body nests arrays or objects too deeply", 0) from None
    except ValueError as exc:
        # An integer of more digits than Python converts (sys.get_int_max_str_digits()).
        raise _invalid_json(f"the body holds a number too long to read: {exc}", 0) from None
    # Only an escape can put a surrogate or NUL into a string decoded from
    # valid UTF-8 (JSON forbids raw control characters in strings).
    if "\\u" in text:
        where = unstorable_text(document)
        if where is not None:
            path, why = where
            raise Invalid(
                f"1 invalid field: {_pointer(path)}",
                code="validation_failed",
                errors=[FieldError(("body", *path), why, "unstorable_text")],
            )
    # Starlette's Request.json() returns this cached value; without it the
    # body would simply be parsed a second time.
    request._json = document
    return document


def _shown(part: str | int) -> str | int:
    """A path part as the problem document can carry it (escaped where it is not text)."""
    if isinstance(part, str) and _unstorable(part) is not None:
        return json.dumps(part)[1:-1]
    return part


def _pointer(path: tuple[str | int, ...]) -> str:
    return "#/body" + "".join(
        "/" + str(part).replace("~", "~0").replace("/", "~1") for part in path
    )


def _unstorable(text: str) -> str | None:
    """What in ``text`` no database here can store, or ``None``."""
    if "\x00" in text:
        return "NUL (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (an unpaired \\ud800-\\udfff escape)"
    return None


def unstorable_text(
    value: Any, path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], str] | None:
    """Where the first string (key or value, at any depth) that cannot be stored is, and why.

    The path's parts are escaped where they are not text themselves, so they
    can be shown. Walked with a stack, not recursion: any depth the parser
    accepted is fine here.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            what = _unstorable(item)
            if what is not None:
                return where, f"contains {what}, which cannot be stored"
        elif isinstance(item, dict):
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, child in item.items():
                what = _unstorable(key)
                if what is not None:
                    return (*where, _shown(key)), f"the key contains {what}, which cannot be stored"
                children.append(((*where, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([((*where, i), child) for i, child in enumerate(item)]))
    return None
