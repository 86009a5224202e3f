"""acme-items: items owned by accounts, the example of a complete component.

Its public surface is the modules the API (or any caller) imports, each with
an explicit ``__all__``:

- :mod:`acme.items.interface`: the use cases;
- :mod:`acme.items.dependencies`: ``ItemsDependencies`` and ``setup()``,
  which wires them from the adapters the composition root built;
- :mod:`acme.items.serializers`: what the use cases take and return;
- :mod:`acme.items.models`: the entity and its rules (read-only for callers);
- :mod:`acme.items.events`: the events it publishes, for consumers.

Everything else (``ports``, ``repository``, ``tables``, ``migrations``,
``_*``) is internal and may change in any release; an import-linter
contract keeps the API off it. This package exports ``__version__`` only.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
