"""The acme HTTP API: the one place where adapters are built and components composed."""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
