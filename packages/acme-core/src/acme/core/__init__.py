"""acme-core: the ports and adapters every acme service shares.

Subpackages: :mod:`acme.core.config`, :mod:`acme.core.secrets`,
:mod:`acme.core.persistence`, :mod:`acme.core.migrations`,
:mod:`acme.core.logging`, :mod:`acme.core.errors`. Importing this package
has no side effects.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
