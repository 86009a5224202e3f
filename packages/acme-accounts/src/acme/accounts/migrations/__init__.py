"""Alembic revisions of the ``accounts`` branch.

Registered under the ``acme.migrations`` entry point, so the API finds them.
"""
