"""acme-accounts: user accounts that sign in through OpenID Connect.

The use cases live in :mod:`acme.accounts.interface`; the API calls nothing else.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
