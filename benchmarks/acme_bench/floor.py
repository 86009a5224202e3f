"""The floor: the items routes as a bare ASGI app on raw asyncpg, for honest ratios.

It runs the same SQL on the same tables as the API and answers the same JSON
shape, with as little Python as possible in between: no framework, no ORM,
no validation beyond what the SQL needs, prepared statements, orjson with
the rows' JSON ``meta`` passed through as raw fragments. It authenticates
nobody: the owner is read from the bearer token's ``sub`` without checking
its signature. What the API does beyond this, it does at a cost that the
report shows as "percent of floor".

Served by the same gunicorn command as the API (``acme_bench.floor:app``);
benchmark-only, never part of the product.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import orjson

from . import floor_sql as sql

__all__ = ["app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DUMP_OPTIONS = orjson.OPT_UTC_Z
_pool: asyncpg.Pool | None = None
_owners: dict[bytes, str] = {}


def _dsn() -> str:
    url = os.environ.get("ACME_DATABASE_URL", "")
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _init(connection: asyncpg.Connection) -> None:
    # json columns come back as text and go out as raw JSON fragments; uuids as text
    await connection.set_type_codec(
        "json", encoder=lambda v: v, decoder=orjson.Fragment, schema="pg_catalog"
    )
    await connection.set_type_codec(
        "uuid", encoder=str, decoder=str, schema="pg_catalog", format="text"
    )


class _Reply(Exception):
    def __init__(
        self, status: int, body: Any = None, headers: list[tuple[bytes, bytes]] | None = None
    ):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or []


def _owner(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            found = _owners.get(value)
            if found is None:
                try:
                    payload = value.split(b".")[1]
                    claims = orjson.loads(
                        base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
                    )
                    found = _owners[value] = str(uuid.UUID(claims["sub"]))
                except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
                    break
            return found
    raise _Reply(401, {"title": "Unauthenticated", "status": 401})


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


def _etag(version: int) -> tuple[bytes, bytes]:
    return (b"etag", f'"{version}"'.encode())


def _cursor(row: asyncpg.Record) -> str:
    document = {
        "o": ["-created_at", "-id"],
        "v": [{"dt": row["created_at"].isoformat()}, {"u": row["id"]}],
    }
    return base64.urlsafe_b64encode(orjson.dumps(document)).rstrip(b"=").decode()


def _after(cursor: str) -> tuple[Any, Any]:
    import datetime as dt

    try:
        document = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created, item_id = document["v"]
        return dt.datetime.fromisoformat(created["dt"]), str(uuid.UUID(item_id["u"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _Reply(
            400, {"title": "Bad Request", "status": 400, "code": "invalid_cursor"}
        ) from None


async def _list(connection: asyncpg.Connection, owner: str, query: str) -> Any:
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    limit = min(int(params.get("limit", 50)), 100)
    args: list[Any] = [owner]
    order = params.get("order")
    if order is not None:
        args.append(int(order))
    cursor = params.get("cursor")
    if cursor is not None:
        args.extend(_after(cursor))
    rows = await connection.fetch(sql.LIST[order is not None, cursor is not None], *args, limit + 1)
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        keep = f"order={order}&" if order is not None else ""
        next_url = f"/items?{keep}limit={limit}&cursor={_cursor(rows[-1])}"
    return {"items": [dict(r.items()) for r in rows], "next": next_url}


async def _create(connection: asyncpg.Connection, owner: str, body: bytes) -> _Reply:
    import datetime as dt

    data = orjson.loads(body)
    now = dt.datetime.now(dt.UTC)
    item_id = uuid.uuid4()
    values = (
        item_id,
        owner,
        data["title"],
        data.get("description", ""),
        data.get("tags", []),
        int(data.get("order", 0)),
        orjson.dumps(data.get("meta", {})).decode(),
        now,
        now,
        1,
    )
    payload = orjson.dumps({"id": str(item_id), "owner_id": str(owner)}).decode()
    async with connection.transaction():
        await connection.execute(sql.INSERT_ITEM, *values)
        await connection.execute(
            sql.INSERT_OUTBOX, uuid.uuid4(), "item.created", 1, now, None, payload, now, 0
        )
    item = dict(zip(sql.ITEM_FIELDS, values, strict=True))
    item["meta"] = orjson.Fragment(values[6])
    return _Reply(201, item, [(b"location", f"/items/{item_id}".encode()), _etag(1)])


async def _one(
    connection: asyncpg.Connection, owner: str, *, scope: Scope, item: str, body: bytes
) -> _Reply:
    method = scope["method"]
    try:
        item_id = uuid.UUID(item)
    except ValueError:
        raise _Reply(404, {"title": "Not Found", "status": 404}) from None
    if method == "GET":
        row = await connection.fetchrow(sql.GET_ITEM, item_id, owner)
        if row is None:
            raise _Reply(404, {"title": "Not Found", "status": 404})
        return _Reply(200, dict(row.items()), [_etag(row["version"])])
    match = _header(scope, b"if-match")
    expected = int(match.strip(b'W/"')) if match else None
    if method == "DELETE":
        async with connection.transaction():
            done = await connection.execute(sql.DELETE_ITEM, item_id, owner, expected)
            if done == "DELETE 0":
                raise _Reply(412 if expected else 404, {"status": 412 if expected else 404})
        return _Reply(204)
    changes = orjson.loads(body)
    async with connection.transaction():
        row = await connection.fetchrow(
            sql.UPDATE_ITEM, item_id, owner, expected, changes.get("title"), changes.get("order")
        )
        if row is None:
            raise _Reply(412, {"title": "Precondition Failed", "status": 412})
    return _Reply(200, dict(row.items()), [_etag(row["version"])])


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _handle(scope: Scope, receive: Receive) -> _Reply:
    path, method = scope["path"], scope["method"]
    if path.startswith("/health/"):
        return _Reply(200, {"status": "ok"})
    assert _pool is not None
    owner = _owner(scope)
    body = await _body(receive) if method in {"POST", "PATCH"} else b""
    async with _pool.acquire() as connection:
        if path == "/items":
            if method == "GET":
                return _Reply(200, await _list(connection, owner, scope["query_string"].decode()))
            return await _create(connection, owner, body)
        if path.startswith("/items/"):
            return await _one(connection, owner, scope=scope, item=path[7:], body=body)
    return _Reply(404, {"title": "Not Found", "status": 404})


async def _lifespan(receive: Receive, send: Send) -> None:
    global _pool  # noqa: PLW0603 (one pool per worker process, made at startup)
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _pool = await asyncpg.create_pool(_dsn(), min_size=2, max_size=20, init=_init)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    try:
        reply = await _handle(scope, receive)
    except _Reply as raised:
        reply = raised
    headers = [(b"content-type", b"application/json"), *reply.headers]
    content = b"" if reply.status == 204 else orjson.dumps(reply.body, option=DUMP_OPTIONS)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
