"""Schema migrations for every installed component, as one alembic history.

Each component ships its alembic revisions inside its wheel, as a branch
labelled with its name, and registers the package that holds them::

    [project.entry-points."acme.migrations"]
    items = "acme.items.migrations"

:class:`Migrator` discovers every registered branch, so one ``upgrade``
brings all of them to their heads and ``pending`` lists what is missing.
"""

from __future__ import annotations

from ._migrator import ENTRY_POINT_GROUP, Branch, Migrator, discover_branches

__all__ = ["ENTRY_POINT_GROUP", "Branch", "Migrator", "discover_branches"]
