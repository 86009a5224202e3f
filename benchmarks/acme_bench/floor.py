"""The floor: the items routes as a bare ASGI app on raw asyncpg, for honest ratios.

The same SQL on the same tables as the API (:mod:`.floor_sql`), the same JSON,
with as little Python as possible in between: no framework, no ORM, no
validation, prepared statements, orjson, the rows' JSON passed through as raw
fragments. It authenticates nobody (the owner is the bearer token's ``sub``,
unchecked) and does not seal page cursors. Served by the API's gunicorn command
(``acme_bench.floor:app``); benchmark-only, never part of the product.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import asyncpg
import orjson
from asyncpg import Connection

from . import floor_sql as sql

Headers = dict[bytes, bytes]
Receive = Callable[[], Awaitable[dict[str, Any]]]
EDITABLE = ("title", "description", "tags", "order", "meta")
BAD_INPUT = (IndexError, ValueError, KeyError, TypeError, binascii.Error)
_pool: list[asyncpg.Pool] = []
_owners: dict[bytes, str] = {}


class Reply(Exception):
    """A response: raised or returned by the handlers."""

    def __init__(self, status: int, body: Any = None, headers: Headers | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _problem(status: int, title: str) -> Reply:
    return Reply(status, {"title": title, "status": status})


def _unbase64(text: bytes) -> Any:
    return orjson.loads(base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4)))


async def _init(connection: Connection) -> None:
    # json comes back as text and goes out as raw JSON; uuids travel as text
    codec = connection.set_type_codec
    await codec("json", encoder=lambda v: v, decoder=orjson.Fragment, schema="pg_catalog")
    await codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")


def _owner(headers: Headers) -> str:
    value = headers.get(b"authorization", b"")
    if value not in _owners:
        try:
            _owners[value] = str(uuid.UUID(_unbase64(value.split(b".")[1])["sub"]))
        except BAD_INPUT:
            raise _problem(401, "Unauthenticated") from None
    return _owners[value]


def _url(headers: Headers, scope: dict[str, Any], path: str) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get(b'host', b'localhost').decode()}{path}"


def _etag(version: int) -> Headers:
    return {b"etag": b'"%d"' % version}


def _versions(value: bytes) -> list[int] | None:
    """The versions an If-Match header names (None for *)."""
    tags = [tag.strip() for tag in value.split(b",")]
    if b"*" in tags:
        return None
    return [
        int(t[1:-1]) for t in tags if len(t) > 2 and t[:1] == t[-1:] == b'"' and t[1:-1].isdigit()
    ]


def _cursor(row: asyncpg.Record) -> str:
    values = [{"dt": row["created_at"].isoformat()}, {"u": row["id"]}]
    document = orjson.dumps({"o": ["-created_at", "-id"], "v": values})
    return base64.urlsafe_b64encode(document).rstrip(b"=").decode()


def _after(cursor: str) -> list[Any]:
    try:  # the API's cursors are sealed (".key.mac" after the position): the floor only reads it
        created, item_id = _unbase64(cursor.partition(".")[0].encode())["v"]
        return [dt.datetime.fromisoformat(created["dt"]), str(uuid.UUID(item_id["u"]))]
    except BAD_INPUT:
        raise _problem(400, "Bad Request") from None


def _outbox(kind: str, payload: dict[str, Any]) -> list[Any]:
    """The parameters of an outbox row, for ``sql.with_outbox``."""
    now = dt.datetime.now(dt.UTC)
    return [uuid.uuid4(), kind, 1, now, None, orjson.dumps(payload).decode(), now, 0]


async def list_items(connection: Connection, owner: str, query: bytes, base: str) -> Reply:
    params = dict(parse_qsl(query.decode()))
    limit = min(int(params.get("limit", 50)), 100)
    args: list[Any] = [owner, *([int(params["order"])] if "order" in params else [])]
    args += _after(params["cursor"]) if "cursor" in params else []
    rows = await connection.fetch(sql.LIST["order" in params, "cursor" in params], *args, limit + 1)
    next_url, headers = None, {}
    if len(rows) > limit:
        rows = rows[:limit]
        next_url = f"{base}/items?{urlencode({**params, 'cursor': _cursor(rows[-1])})}"
        headers[b"link"] = f'<{next_url}>; rel="next"'.encode()
    return Reply(200, {"items": [dict(r.items()) for r in rows], "next": next_url}, headers)


async def create_item(connection: Connection, owner: str, body: bytes, base: str) -> Reply:
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
    values = [orjson.dumps(item[k]).decode() if k == "meta" else item[k] for k in sql.ITEM_FIELDS]
    keys = ("id", "owner_id", "title", "order", "tags")
    event = {**{k: item[k] for k in keys}, "created_at": now.isoformat()}
    # One statement, in autocommit: the item and its outbox row, as the API writes them.
    await connection.fetchval(sql.CREATE_ITEM, *values, *_outbox("item.created", event))
    headers = {b"location": f"{base}/items/{item['id']}".encode(), **_etag(1)}
    return Reply(201, item, headers)


async def update_item(
    connection: Connection, owner: str, item_id: uuid.UUID, match: bytes | None, body: bytes
) -> Reply:
    if match is None:
        raise _problem(428, "Precondition Required")
    # The read needs no transaction: the write checks the version it saw.
    row = await connection.fetchrow(sql.GET_OWNED, item_id, owner)
    if row is None:
        raise _problem(404, "Not Found")
    item, expected = dict(row.items()), _versions(match)
    seen = item["version"]
    if expected is not None and seen not in expected:
        raise _problem(412, "Precondition Failed")
    changes = {k: v for k, v in orjson.loads(body).items() if k in EDITABLE}
    changed = [k for k, v in changes.items() if item[k] != v]
    if not changed:
        return Reply(200, item, _etag(seen))
    item.update(changes, version=seen + 1, updated_at=dt.datetime.now(dt.UTC))
    event = {"id": str(item_id), "owner_id": owner, "version": seen + 1, "changed": changed}
    event["updated_at"] = item["updated_at"].isoformat()
    values = [item[k] for k in ("title", "description", "tags", "order")]
    values += [orjson.dumps(item["meta"]).decode(), item["updated_at"], seen + 1, item_id, owner]
    outbox = _outbox("item.updated", event)
    if await connection.fetchval(sql.UPDATE_ITEM_OUTBOX, *values, seen, *outbox) == 0:
        raise _problem(412, "Precondition Failed")
    return Reply(200, item, _etag(seen + 1))


async def delete_item(
    connection: Connection, owner: str, item_id: uuid.UUID, match: bytes | None
) -> Reply:
    expected = None if match is None else _versions(match)
    event = _outbox("item.deleted", {"id": str(item_id), "owner_id": owner})
    if expected is None:
        done = await connection.fetchval(sql.DELETE_ANY_VERSION_OUTBOX, item_id, owner, *event)
    else:
        done = await connection.fetchval(sql.DELETE_ITEM_OUTBOX, item_id, owner, expected, *event)
    if done == 0:
        raise _problem(404, "Not Found")
    return Reply(204)


async def _handle(scope: dict[str, Any], receive: Receive) -> Reply:
    path, method, headers = scope["path"], scope["method"], dict(scope["headers"])
    if path.startswith("/health/"):
        return Reply(200, {"status": "ok"})
    owner, base, body = _owner(headers), _url(headers, scope, ""), b""
    while method in {"POST", "PATCH"}:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    async with _pool[0].acquire() as connection:
        if path == "/items":
            if method == "GET":
                return await list_items(connection, owner, scope["query_string"], base)
            return await create_item(connection, owner, body, base)
        if path.startswith("/items/"):
            try:
                item_id = uuid.UUID(path.removeprefix("/items/"))
            except ValueError:
                raise _problem(422, "Unprocessable Content") from None
            if method == "GET":
                row = await connection.fetchrow(sql.GET_OWNED, item_id, owner)
                if row is None:
                    raise _problem(404, "Not Found")
                return Reply(200, dict(row.items()), _etag(row["version"]))
            match = headers.get(b"if-match")
            if method == "PATCH":
                return await update_item(connection, owner, item_id, match, body)
            return await delete_item(connection, owner, item_id, match)
    raise _problem(404, "Not Found")


async def app(
    scope: dict[str, Any], receive: Receive, send: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                dsn = os.environ["ACME_DATABASE_URL"].replace(
                    "postgresql+asyncpg://", "postgresql://"
                )
                _pool.append(await asyncpg.create_pool(dsn, min_size=2, max_size=20, init=_init))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for pool in _pool:
                    await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    try:
        reply = await _handle(scope, receive)
    except Reply as raised:
        reply = raised
    headers = [(b"content-type", b"application/json"), *reply.headers.items()]
    content = b"" if reply.status == 204 else orjson.dumps(reply.body, option=orjson.OPT_UTC_Z)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
