"""acme-core: the ports and adapters every acme service shares.

Subpackages, each with its public names in its ``__init__`` (``__all__``):
:mod:`acme.core.config` (settings), :mod:`acme.core.secrets`,
:mod:`acme.core.persistence` (units of work, repositories, pages, column
types), :mod:`acme.core.migrations`, :mod:`acme.core.messaging` (messages,
the bus and event ports, idempotent consumers), :mod:`acme.core.security`
(keys, tokens, OpenID Connect), :mod:`acme.core.logging`,
:mod:`acme.core.errors`, and :mod:`acme.core.testing` (pytest fixtures and
fakes of the ports, for tests). Adapters are imported from their own
modules (see each subpackage). Importing this package has no side effects.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
