"""The floor: the items routes as a bare ASGI app on raw asyncpg, for honest ratios.

It runs the same SQL on the same tables as the API (:mod:`.floor_sql`, with
the outbox row in each write's transaction) and answers the same JSON shape,
with as little Python as possible in between: no framework, no ORM, no
validation beyond what the SQL needs, prepared statements, orjson, and the
rows' JSON ``meta`` passed through as raw fragments. It authenticates nobody:
the owner is read from the bearer token's ``sub`` without checking it. What
the API does beyond this it does at a cost, which reports show as
"percent of floor".

Served by the same gunicorn command as the API (``acme_bench.floor:app``);
benchmark-only, never part of the product.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import asyncpg
import orjson

from . import floor_sql as sql

__all__ = ["app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

DUMP = orjson.OPT_UTC_Z
EDITABLE = ("title", "description", "tags", "order", "meta")
_state: dict[str, asyncpg.Pool] = {}
_owners: dict[bytes, str] = {}


class Reply(Exception):
    """A response: raised or returned by the handlers."""

    def __init__(self, status: int, body: Any = None, headers: Headers | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or []


def _problem(status: int, title: str) -> Reply:
    return Reply(status, {"title": title, "status": status})


async def _init(connection: asyncpg.Connection) -> None:
    # json comes back as text and goes out as raw JSON; uuids travel as text
    await connection.set_type_codec(
        "json", encoder=lambda v: v, decoder=orjson.Fragment, schema="pg_catalog"
    )
    await connection.set_type_codec(
        "uuid", encoder=str, decoder=str, schema="pg_catalog", format="text"
    )


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


def _owner(scope: Scope) -> str:
    value = _header(scope, b"authorization") or b""
    found = _owners.get(value)
    if found is None:
        try:
            payload = value.split(b".")[1]
            claims = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
            found = _owners[value] = str(uuid.UUID(claims["sub"]))
        except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
            raise _problem(401, "Unauthenticated") from None
    return found


def _base(scope: Scope) -> str:
    host = (_header(scope, b"host") or b"localhost").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}"


def _etag(version: int) -> tuple[bytes, bytes]:
    return (b"etag", b'"%d"' % version)


def _versions(value: bytes) -> list[int] | None:
    """The versions an If-Match header names (None for *)."""
    versions = []
    for raw in value.split(b","):
        tag = raw.strip()
        if tag == b"*":
            return None
        if len(tag) >= 2 and tag[:1] == tag[-1:] == b'"' and tag[1:-1].isdigit():
            versions.append(int(tag[1:-1]))
    return versions


def _cursor(row: asyncpg.Record) -> str:
    document = {
        "o": ["-created_at", "-id"],
        "v": [{"dt": row["created_at"].isoformat()}, {"u": row["id"]}],
    }
    return base64.urlsafe_b64encode(orjson.dumps(document)).rstrip(b"=").decode()


def _after(cursor: str) -> list[Any]:
    try:
        document = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created, item_id = document["v"]
        return [dt.datetime.fromisoformat(created["dt"]), str(uuid.UUID(item_id["u"]))]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _problem(400, "Bad Request") from None


def _outbox(kind: str, payload: dict[str, Any]) -> list[Any]:
    """The parameters of an outbox row, for ``sql.with_outbox``."""
    now = dt.datetime.now(dt.UTC)
    return [uuid.uuid4(), kind, 1, now, None, orjson.dumps(payload).decode(), now, 0]


async def list_items(connection: asyncpg.Connection, owner: str, scope: Scope) -> Reply:
    params = dict(parse_qsl(scope["query_string"].decode()))
    limit = min(int(params.get("limit", 50)), 100)
    args: list[Any] = [owner]
    if "order" in params:
        args.append(int(params["order"]))
    if "cursor" in params:
        args += _after(params["cursor"])
    rows = await connection.fetch(sql.LIST["order" in params, "cursor" in params], *args, limit + 1)
    headers: Headers = []
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        query = urlencode({**params, "cursor": _cursor(rows[-1])})
        next_url = f"{_base(scope)}/items?{query}"
        headers.append((b"link", f'<{next_url}>; rel="next"'.encode()))
    return Reply(200, {"items": [dict(r.items()) for r in rows], "next": next_url}, headers)


async def create_item(
    connection: asyncpg.Connection, owner: str, scope: Scope, body: bytes
) -> Reply:
    data = orjson.loads(body)
    now = dt.datetime.now(dt.UTC)
    item = {
        "id": str(uuid.uuid4()),
        "owner_id": owner,
        "title": data["title"],
        "description": data.get("description", ""),
        "tags": list(dict.fromkeys(data.get("tags", []))),
        "order": int(data.get("order", 0)),
        "meta": data.get("meta", {}),
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    values = [item[name] for name in sql.ITEM_FIELDS]
    values[6] = orjson.dumps(item["meta"]).decode()
    event = {
        "id": item["id"],
        "owner_id": owner,
        "title": item["title"],
        "order": item["order"],
        "tags": item["tags"],
        "created_at": now.isoformat(),
    }
    # One statement, in autocommit: the item and its outbox row, as the API writes them.
    await connection.fetchval(sql.CREATE_ITEM, *values, *_outbox("item.created", event))
    location = f"{_base(scope)}/items/{item['id']}".encode()
    return Reply(201, item, [(b"location", location), _etag(1)])


async def update_item(
    connection: asyncpg.Connection, owner: str, item_id: uuid.UUID, scope: Scope, body: bytes
) -> Reply:
    match = _header(scope, b"if-match")
    if match is None:
        raise _problem(428, "Precondition Required")
    expected = _versions(match)
    changes = {k: v for k, v in orjson.loads(body).items() if k in EDITABLE}
    # The read needs no transaction: the write checks the version it saw.
    row = await connection.fetchrow(sql.GET_OWNED, item_id, owner)
    if row is None:
        raise _problem(404, "Not Found")
    item = dict(row.items())
    seen = item["version"]
    if expected is not None and seen not in expected:
        raise _problem(412, "Precondition Failed")
    changed = [k for k, v in changes.items() if item[k] != v]
    if not changed:
        return Reply(200, item, [_etag(seen)])
    item.update(changes, version=seen + 1, updated_at=dt.datetime.now(dt.UTC))
    meta = orjson.dumps(item["meta"]).decode()  # a raw fragment dumps as its own text
    event = {
        "id": str(item_id),
        "owner_id": owner,
        "version": item["version"],
        "changed": changed,
        "updated_at": item["updated_at"].isoformat(),
    }
    done = await connection.fetchval(
        sql.UPDATE_ITEM_OUTBOX,
        item["title"],
        item["description"],
        item["tags"],
        item["order"],
        meta,
        item["updated_at"],
        item["version"],
        item_id,
        owner,
        seen,
        *_outbox("item.updated", event),
    )
    if done == 0:
        raise _problem(412, "Precondition Failed")
    return Reply(200, item, [_etag(item["version"])])


async def delete_item(
    connection: asyncpg.Connection, owner: str, item_id: uuid.UUID, scope: Scope
) -> Reply:
    match = _header(scope, b"if-match")
    expected = None if match is None else _versions(match)
    event = _outbox("item.deleted", {"id": str(item_id), "owner_id": owner})
    if expected is None:
        done = await connection.fetchval(sql.DELETE_ANY_VERSION_OUTBOX, item_id, owner, *event)
    else:
        done = await connection.fetchval(sql.DELETE_ITEM_OUTBOX, item_id, owner, expected, *event)
    if done == 0:
        raise _problem(404, "Not Found")
    return Reply(204)


async def _one(
    connection: asyncpg.Connection, owner: str, scope: Scope, item: str, body: bytes
) -> Reply:
    try:
        item_id = uuid.UUID(item)
    except ValueError:
        raise _problem(422, "Unprocessable Content") from None
    method = scope["method"]
    if method == "GET":
        row = await connection.fetchrow(sql.GET_OWNED, item_id, owner)
        if row is None:
            raise _problem(404, "Not Found")
        return Reply(200, dict(row.items()), [_etag(row["version"])])
    if method == "PATCH":
        return await update_item(connection, owner, item_id, scope, body)
    return await delete_item(connection, owner, item_id, scope)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _handle(scope: Scope, receive: Receive) -> Reply:
    path, method = scope["path"], scope["method"]
    if path.startswith("/health/"):
        return Reply(200, {"status": "ok"})
    owner = _owner(scope)
    body = await _body(receive) if method in {"POST", "PATCH"} else b""
    async with _state["pool"].acquire() as connection:
        if path == "/items":
            if method == "GET":
                return await list_items(connection, owner, scope)
            return await create_item(connection, owner, scope, body)
        if path.startswith("/items/"):
            return await _one(connection, owner, scope, path[len("/items/") :], body)
    raise _problem(404, "Not Found")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            dsn = os.environ["ACME_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
            _state["pool"] = await asyncpg.create_pool(dsn, min_size=2, max_size=20, init=_init)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if "pool" in _state:
                await _state.pop("pool").close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    try:
        reply = await _handle(scope, receive)
    except Reply as raised:
        reply = raised
    headers = [(b"content-type", b"application/json"), *reply.headers]
    content = b"" if reply.status == 204 else orjson.dumps(reply.body, option=DUMP)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
