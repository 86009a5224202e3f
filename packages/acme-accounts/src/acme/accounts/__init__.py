"""acme-accounts: user accounts that sign in through OpenID Connect.

Its public surface is the modules the API (or any caller) imports, each with
an explicit ``__all__``:

- :mod:`acme.accounts.interface`: the use cases;
- :mod:`acme.accounts.dependencies`: ``AccountsDependencies``,
  ``SessionPolicy`` and ``setup()``;
- :mod:`acme.accounts.settings`: ``AccountsSettings`` (mixed into the API's);
- :mod:`acme.accounts.serializers`, :mod:`acme.accounts.models`: what the
  use cases take and return;
- :mod:`acme.accounts.events`: the events it publishes;
- :mod:`acme.accounts.item_counts`: the consumer of item events it subscribes.

Everything else (``ports``, ``repository``, ``tables``, ``migrations``,
``_*``) is internal and may change in any release; an import-linter
contract keeps the API off it. This package exports ``__version__`` only.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
