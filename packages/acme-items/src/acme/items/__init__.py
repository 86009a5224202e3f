"""acme-items: items owned by accounts, the example of a complete component.

The use cases live in :mod:`acme.items.interface`; the API calls nothing else.
Events are documented in :mod:`acme.items.events`.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
