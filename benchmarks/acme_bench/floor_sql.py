"""The floor's SQL: the statements the API's repository and outbox run, as SQLAlchemy emits them.

Kept beside the floor so a change in the API's queries shows up as a diff to
compare against (``python -m acme_bench sqlcheck`` prints what the API runs).
"""

from __future__ import annotations

COLUMNS = (
    'items.id, items.owner_id, items.title, items.description, items.tags, items."order", '
    "items.meta, items.created_at, items.updated_at, items.version"
)

_NEWEST_FIRST = "ORDER BY items.created_at DESC, items.id DESC"


def _list(*, by_order: bool, after: bool) -> str:
    where = ["items.owner_id = $1"]
    if by_order:
        where.append(f'items."order" = ${len(where) + 1}')
    if after:
        n = len(where) + 1
        where.append(f"(items.created_at, items.id) < (${n}, ${n + 1})")
    limit = len(where) + 1 + (1 if after else 0)
    return f"SELECT {COLUMNS} FROM items WHERE {' AND '.join(where)} {_NEWEST_FIRST} LIMIT ${limit}"


# The newest-first listing, by (filtered by order?, continuing after a cursor?).
LIST = {
    (by_order, after): _list(by_order=by_order, after=after)
    for by_order in (False, True)
    for after in (False, True)
}
GET_ITEM = f"SELECT {COLUMNS} FROM items WHERE items.id = $1 AND items.owner_id = $2"
ITEM_FIELDS = (
    "id",
    "owner_id",
    "title",
    "description",
    "tags",
    "order",
    "meta",
    "created_at",
    "updated_at",
    "version",
)
INSERT_ITEM = (
    'INSERT INTO items (id, owner_id, title, description, tags, "order", meta, created_at, '
    "updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
INSERT_OUTBOX = (
    "INSERT INTO acme_outbox (id, type, version, occurred_at, correlation_id, payload, "
    "created_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
UPDATE_ITEM = (
    'UPDATE items SET title = coalesce($4, title), "order" = coalesce($5, "order"), '
    "version = version + 1, updated_at = now() "
    "WHERE id = $1 AND owner_id = $2 AND ($3::integer IS NULL OR version = $3) "
    f"RETURNING {COLUMNS.replace('items.', '')}"
)
DELETE_ITEM = (
    "DELETE FROM items WHERE id = $1 AND owner_id = $2 AND ($3::integer IS NULL OR version = $3)"
)
