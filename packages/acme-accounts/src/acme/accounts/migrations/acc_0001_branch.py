"""Start the accounts branch.

Revision ID: acc_0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "acc_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("accounts",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The branch root: later revisions hang off it."""


def downgrade() -> None:
    """Nothing to undo."""
