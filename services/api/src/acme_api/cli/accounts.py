"""``acme-api accounts disable``: disable an account and end its sessions."""

from __future__ import annotations

import argparse
import asyncio

from acme.core.errors import Invalid
from acme_api.settings import Settings

from ._common import Subparsers, setup_logging

__all__ = ["register"]


def register(commands: Subparsers) -> None:
    accounts = commands.add_parser(
        "accounts", help="administer accounts", description="Administer accounts."
    )
    account_commands = accounts.add_subparsers(
        dest="accounts_command", metavar="ACTION", required=True
    )
    disable = account_commands.add_parser(
        "disable",
        help="disable an account and end its sessions",
        description=(
            "Disable the account with this id: its sessions end and its access tokens stop "
            "working (within ACME_SESSION_RECHECK_SECONDS in running API processes); it "
            "cannot sign in again."
        ),
    )
    disable.add_argument("account_id", metavar="ACCOUNT_ID", help="the account's id (a UUID)")
    disable.set_defaults(handler=cmd_accounts_disable)


def cmd_accounts_disable(args: argparse.Namespace, settings: Settings) -> int:
    import uuid

    from acme.accounts import interface
    from acme_api import bootstrap

    try:
        account_id = uuid.UUID(args.account_id)
    except ValueError:
        raise Invalid(f"not an account id (a UUID): {args.account_id!r}") from None
    setup_logging(settings)

    async def disable() -> str:
        container = await bootstrap.build(settings)
        try:
            account = await interface.disable_account(container.accounts, account_id)
        finally:
            await container.aclose()
        return f"disabled {account.id} ({account.display_name}); its sessions are ended"

    print(asyncio.run(disable()))
    return 0
