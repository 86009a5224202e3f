"""``acme-api token issue``: an access token for a local account (development only)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from acme_api.settings import Settings

from ._common import Subparsers, migrator, setup_logging

__all__ = ["register"]


def register(commands: Subparsers) -> None:
    token = commands.add_parser(
        "token", help="API tokens (development helper)", description="API tokens."
    )
    token_commands = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    issue = token_commands.add_parser(
        "issue",
        help="print an access token for a local account (created when missing)",
        description=(
            "Print an access token for the local account NAME, creating it when there is none, "
            "so protected routes can be called without an OpenID provider. Development only: "
            "refused when ACME_ENV=production."
        ),
    )
    issue.add_argument("--account", required=True, metavar="NAME", help="the local account")
    issue.set_defaults(handler=cmd_token_issue)


def cmd_token_issue(args: argparse.Namespace, settings: Settings) -> int:
    if settings.is_production:
        print(
            "acme-api: token issue is a development helper; refused when ACME_ENV=production",
            file=sys.stderr,
        )
        return 2
    setup_logging(settings)
    if settings.should_migrate_on_start:
        migrator(settings).upgrade()
    from acme_api import bootstrap

    async def issue() -> str:
        container = await bootstrap.build(settings)
        try:
            return await container.issue_access_token(args.account)
        finally:
            await container.aclose()

    print(asyncio.run(issue()))
    return 0
