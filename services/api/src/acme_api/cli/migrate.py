"""``acme-api migrate``: apply, check or create migrations."""

from __future__ import annotations

import argparse

from acme_api.settings import Settings

from ._common import Subparsers, migrator, setup_logging

__all__ = ["register"]


def register(commands: Subparsers) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="upgrade the database: every installed component's migrations",
        description=(
            "Apply every pending migration of every installed component (all alembic "
            "branch heads). With --check, only report what is pending (exit 1 if any)."
        ),
    )
    migrate.add_argument(
        "--check", action="store_true", help="list pending migrations; change nothing"
    )
    migrate.add_argument("--revision", metavar="MESSAGE", help="create a new empty revision")
    migrate.add_argument("--branch", help="the component branch of the new revision")
    migrate.set_defaults(handler=cmd_migrate)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    setup_logging(settings)
    migrations = migrator(settings)
    if args.revision:
        path = migrations.new_revision(branch=args.branch, message=args.revision)
        print(f"created {path}")
        return 0
    if args.check:
        pending = migrations.pending()
        if pending:
            print(f"{len(pending)} pending migration(s):")
            for line in pending:
                print(f"  {line}")
            return 1
        print("database is up to date")
        return 0
    migrations.upgrade()
    print("database is up to date: " + ", ".join(sorted(migrations.current())))
    return 0
