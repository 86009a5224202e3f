"""The relay's statements, built once and run with parameters.

The relay polls after every commit, and a statement built per poll is
coerced and keyed anew.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, or_, select, update

from .tables import outbox

__all__ = ["CLAIM", "HOLDS_LEASE", "MARK_SENT", "RELEASE"]

_NOW = bindparam("now", type_=outbox.c.published_at.type)
_DUE = (
    select(outbox.c.id)
    .where(
        and_(
            outbox.c.published_at.is_(None),
            or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= _NOW),
        )
    )
    .order_by(outbox.c.created_at, outbox.c.id)
    .limit(bindparam("batch"))
    .with_for_update(skip_locked=True)
)
# The claim: a lease on a batch of due rows, in one statement of its own.
CLAIM = (
    update(outbox)
    .where(outbox.c.id.in_(_DUE.scalar_subquery()))
    .values(next_attempt_at=bindparam("lease_until", type_=outbox.c.next_attempt_at.type))
    .returning(*outbox.c)
)
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_LEASE = bindparam("lease_until", type_=outbox.c.next_attempt_at.type)
# Rows the bus took. A row another relay published meanwhile keeps its time.
MARK_SENT = (
    update(outbox)
    .where(outbox.c.id.in_(_IDS), outbox.c.published_at.is_(None))
    .values(published_at=_NOW)
)
# Only this relay's lease is settled: a delivery that outlived its lease may
# find its rows claimed again by another relay, whose lease it must not undo.
HOLDS_LEASE = and_(outbox.c.next_attempt_at == _LEASE, outbox.c.published_at.is_(None))
# A transport that took nothing: the rows are due again at once, as they were.
RELEASE = update(outbox).where(outbox.c.id.in_(_IDS), HOLDS_LEASE).values(next_attempt_at=None)
