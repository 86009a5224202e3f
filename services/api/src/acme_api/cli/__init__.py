"""``acme-api``: run, migrate and administer the API from a shell.

Every command reads the same ``ACME_*`` settings as the server. Bad settings
print one message naming each offending variable and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from acme.core.config import ConfigError
from acme.core.errors import DomainError
from acme_api.__about__ import __version__

from . import accounts, consume, keys, migrate, relay, serve, tokens
from ._common import Command, load

__all__ = ["build_parser", "main"]

# Each command's module registers its own parser and handler.
COMMANDS = (serve, migrate, tokens, accounts, keys, relay, consume)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acme-api",
        description=(
            "The acme HTTP API. Settings come from ACME_* environment variables, "
            "a .env file in the working directory and the secrets chain (ACME_SECRETS)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"acme-api {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "revision", None) and not args.branch:
        parser.error("--revision needs --branch")
    handler: Command = args.handler
    try:
        return handler(args, load())
    except ConfigError as exc:
        print(f"acme-api: {exc.detail}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"acme-api: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
