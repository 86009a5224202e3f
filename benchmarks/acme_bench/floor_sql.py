"""The floor's SQL: the statements the API runs for the items routes, as SQLAlchemy emits them.

Captured from PostgreSQL's statement log while the API served each route
(``log_statement = 'all'`` on a benchmark database): the same selects, the
same keyset condition, the same writes, and the same outbox row written in
the same statement as its write (a data-modifying CTE, in autocommit). Only
the casts SQLAlchemy adds to each parameter are left out, except in the
outbox row's SELECT, where PostgreSQL needs them to type the parameters.
"""

from __future__ import annotations

# The items table's columns, in the order the API's mapping lists them.
ITEM_FIELDS: tuple[str, ...] = ("id", "owner_id", "title", "description", "tags", "order", "meta")
ITEM_FIELDS += ("created_at", "updated_at", "version")
COLUMNS = ", ".join(
    f'items."{name}"' if name == "order" else f"items.{name}" for name in ITEM_FIELDS
)


def _list(*, by_order: bool, after: bool) -> str:
    where = ["items.owner_id = $1"]
    if by_order:
        where.append(f'items."order" = ${len(where) + 1}')
    if after:
        n = len(where) + 1
        where.append(f"(items.created_at, items.id) < (${n}, ${n + 1})")
    limit = len(where) + 1 + (1 if after else 0)
    return (
        f"SELECT {COLUMNS} FROM items WHERE {' AND '.join(where)}"
        f" ORDER BY items.created_at DESC, items.id DESC LIMIT ${limit}"
    )


# The newest-first listing, by (filtered by order?, continuing after a cursor?).
LIST = {(o, a): _list(by_order=o, after=a) for o in (False, True) for a in (False, True)}
GET_OWNED = f"SELECT {COLUMNS} FROM items WHERE items.id = $1 AND items.owner_id = $2"


def with_outbox(write: str, first: int) -> str:
    """``write`` and its outbox row as one statement; the row's parameters start at ``$first``.

    The row is written only when the write changed one; the statement
    answers how many it changed.
    """
    casts = ("uuid", "varchar", "integer", "timestamptz", "varchar", "json", "timestamptz")
    row = ", ".join(f"${first + i}::{cast}" for i, cast in enumerate((*casts, "integer")))
    return (
        f"WITH acme_write AS ({write} RETURNING 1 AS changed), "
        "acme_insert0 AS (INSERT INTO acme_outbox (id, type, version, occurred_at, "
        f"correlation_id, payload, created_at, attempts) SELECT {row} FROM acme_write) "
        "SELECT count(*) FROM acme_write"
    )


CREATE_ITEM = with_outbox(
    'INSERT INTO items (id, owner_id, title, description, tags, "order", meta, created_at, '
    "updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    11,
)
UPDATE_ITEM_OUTBOX = with_outbox(
    'UPDATE items SET title=$1, description=$2, tags=$3, "order"=$4, meta=$5, updated_at=$6, '
    "version=$7 WHERE items.id = $8 AND items.owner_id = $9 AND items.version = $10",
    11,
)
DELETE_ITEM_OUTBOX = with_outbox(
    "DELETE FROM items WHERE items.id = $1 AND items.owner_id = $2 AND items.version = ANY($3)", 4
)
DELETE_ANY_VERSION_OUTBOX = with_outbox(
    "DELETE FROM items WHERE items.id = $1 AND items.owner_id = $2", 3
)
