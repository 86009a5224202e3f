"""``python -m acme_api`` is ``acme-api``."""

from __future__ import annotations

from acme_api.cli import main

raise SystemExit(main())
