"""What the items use cases need, as ports (framework-free)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from acme.core.messaging import EventPublisher
from acme.core.persistence import CursorSigner, SqlUnitOfWork

from .models import utcnow
from .ports import ItemsUnitOfWork
from .repository import SqlItemsUnitOfWork

__all__ = ["ItemsDependencies", "setup"]


@dataclass(frozen=True, slots=True)
class ItemsDependencies:
    """The ports of the items component.

    Attributes:
        unit_of_work: Opens a unit of work (one transaction) per use case;
            it hands out the repository and publishes events.
        clock: The current UTC time.
        reader: Opens a unit of work for the use cases that run a single
            query (get, list): no transaction. The unit of work when not given.
        cursors: Seals the listing's page cursors. The default's random
            secret works within one process only: a deployment of several
            processes gives every one the same secrets.
    """

    unit_of_work: Callable[[], ItemsUnitOfWork]
    clock: Callable[[], datetime] = utcnow
    reader: Callable[[], ItemsUnitOfWork] | None = None
    cursors: CursorSigner = field(default_factory=CursorSigner.ephemeral)

    def read(self) -> ItemsUnitOfWork:
        """A unit of work for a single read."""
        return (self.reader or self.unit_of_work)()


def setup(
    *,
    unit_of_work: Callable[[], SqlUnitOfWork],
    events: EventPublisher,
    reader: Callable[[], SqlUnitOfWork] | None = None,
    cursors: CursorSigner | None = None,
) -> ItemsDependencies:
    """The items component's dependencies on the SQL units of work the API built.

    ``cursors`` should be given wherever more than one process serves the
    listing (see :class:`ItemsDependencies`).
    """
    return ItemsDependencies(
        unit_of_work=lambda: SqlItemsUnitOfWork(unit_of_work(), events),
        reader=None if reader is None else (lambda: SqlItemsUnitOfWork(reader(), events)),
        cursors=cursors or CursorSigner.ephemeral(),
    )
