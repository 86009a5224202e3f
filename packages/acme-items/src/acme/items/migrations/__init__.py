"""Alembic revisions of the ``items`` branch.

Registered under the ``acme.migrations`` entry point, so the API finds them.
"""
