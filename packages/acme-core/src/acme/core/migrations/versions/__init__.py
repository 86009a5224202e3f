"""Alembic revisions of the ``core`` branch: acme-core's own tables."""
