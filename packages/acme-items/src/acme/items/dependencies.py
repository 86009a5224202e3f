"""What the items use cases need, as ports (framework-free)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from acme.core.messaging import EventPublisher
from acme.core.persistence import SqlUnitOfWork

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
    """

    unit_of_work: Callable[[], ItemsUnitOfWork]
    clock: Callable[[], datetime] = utcnow
    reader: Callable[[], ItemsUnitOfWork] | None = None

    def read(self) -> ItemsUnitOfWork:
        """A unit of work for a single read."""
        return (self.reader or self.unit_of_work)()


def setup(
    *,
    unit_of_work: Callable[[], SqlUnitOfWork],
    events: EventPublisher,
    reader: Callable[[], SqlUnitOfWork] | None = None,
) -> ItemsDependencies:
    """The items component's dependencies on the SQL units of work the API built."""
    return ItemsDependencies(
        unit_of_work=lambda: SqlItemsUnitOfWork(unit_of_work(), events),
        reader=None if reader is None else (lambda: SqlItemsUnitOfWork(reader(), events)),
    )
