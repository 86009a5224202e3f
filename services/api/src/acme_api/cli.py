"""``acme-api``: run, migrate and administer the API from a shell.

Every command reads the same ``ACME_*`` settings as the server. Bad settings
print one message naming each offending variable and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from acme.core.config import ConfigError, load_settings
from acme.core.errors import DomainError, Invalid
from acme.core.logging import configure_logging
from acme.core.migrations import Migrator

from .__about__ import __version__
from .settings import Settings

__all__ = ["main"]

Command = Callable[[argparse.Namespace, Settings], int]


def _settings() -> Settings:
    return load_settings(Settings)


def _setup_logging(settings: Settings) -> None:
    configure_logging(env=settings.env, level=settings.log_level, fmt=settings.log_format)


def _migrator(settings: Settings) -> Migrator:
    return Migrator(settings.database_url.get_secret_value())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    _setup_logging(settings)
    migrate = settings.should_migrate_on_start if args.migrate is None else args.migrate
    if migrate:
        _migrator(settings).upgrade()
    uvicorn.run(
        "acme_api.main:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        reload=args.reload,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _setup_logging(settings)
    migrator = _migrator(settings)
    if args.revision:
        path = migrator.new_revision(branch=args.branch, message=args.revision)
        print(f"created {path}")
        return 0
    if args.check:
        pending = migrator.pending()
        if pending:
            print(f"{len(pending)} pending migration(s):")
            for line in pending:
                print(f"  {line}")
            return 1
        print("database is up to date")
        return 0
    migrator.upgrade()
    print("database is up to date: " + ", ".join(sorted(migrator.current())))
    return 0


def cmd_token_issue(args: argparse.Namespace, settings: Settings) -> int:
    if settings.is_production:
        print(
            "acme-api: token issue is a development helper; refused when ACME_ENV=production",
            file=sys.stderr,
        )
        return 2
    _setup_logging(settings)
    if settings.should_migrate_on_start:
        _migrator(settings).upgrade()
    from . import bootstrap

    async def issue() -> str:
        container = await bootstrap.build(settings)
        try:
            return await container.issue_access_token(args.account)
        finally:
            await container.aclose()

    print(asyncio.run(issue()))
    return 0


def cmd_accounts_disable(args: argparse.Namespace, settings: Settings) -> int:
    import uuid

    from acme.accounts import interface

    from . import bootstrap

    try:
        account_id = uuid.UUID(args.account_id)
    except ValueError:
        raise Invalid(f"not an account id (a UUID): {args.account_id!r}") from None
    _setup_logging(settings)

    async def disable() -> str:
        container = await bootstrap.build(settings)
        try:
            account = await interface.disable_account(container.accounts, account_id)
        finally:
            await container.aclose()
        return f"disabled {account.id} ({account.display_name}); its sessions are ended"

    print(asyncio.run(disable()))
    return 0


def cmd_keys_generate(args: argparse.Namespace, settings: Settings) -> int:
    from acme.core.security import KeySet, generate_key

    new_key = generate_key(args.algorithm or settings.jwt_algorithm)
    keys = KeySet([new_key])
    if args.rotate:
        try:
            current = KeySet.from_jwks(Path(args.rotate).read_text(encoding="utf-8"))
        except OSError as exc:
            raise Invalid(f"cannot read {args.rotate}: {exc.strerror}") from None
        keys = current.rotated(new_key, keep=args.keep)
    print(json.dumps(keys.private_jwks(), indent=2))
    print(
        f"new signing key {new_key.kid} ({new_key.algorithm}); this is a secret: "
        "store it as ACME_JWT_KEYS or in your secrets service",
        file=sys.stderr,
    )
    return 0


def cmd_relay(args: argparse.Namespace, settings: Settings) -> int:
    _setup_logging(settings)
    if settings.amqp_url is None:
        print(
            "acme-api: relay needs ACME_AMQP_URL (without a broker, each API process "
            "relays to its own in-process bus)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_relay(settings, once=args.once))


async def _relay(settings: Settings, *, once: bool) -> int:
    from . import bootstrap

    container = await bootstrap.build(settings, consume=False)
    try:
        if once:
            total = 0
            while published := await container.relay.relay_once():
                total += published
            print(f"published {total} message(s)")
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        container.relay.start()
        print("relaying the outbox; stop with Ctrl-C or SIGTERM", file=sys.stderr)
        await stop.wait()
        return 0
    finally:
        await container.aclose()


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

    serve = commands.add_parser(
        "serve",
        help="run the development server (applies migrations first in development)",
        description="Run the API with uvicorn. For production use gunicorn (see deploy/).",
    )
    serve.add_argument("--host", help="bind address (default: ACME_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="bind port (default: ACME_PORT or 8000)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    serve.add_argument(
        "--migrate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply pending migrations before serving (default: on in development)",
    )
    serve.set_defaults(handler=cmd_serve)

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

    keys = commands.add_parser(
        "keys", help="signing keys", description="The API's JWT signing keys."
    )
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = key_commands.add_parser(
        "generate",
        help="print a new private JWKS for ACME_JWT_KEYS",
        description=(
            "Print a private JWKS holding a new signing key (stdout), for ACME_JWT_KEYS. "
            "With --rotate FILE the new key comes first and FILE's newest keys follow, so "
            "tokens signed before the rotation stay valid until they expire."
        ),
    )
    generate.add_argument(
        "--algorithm", choices=["ES256", "EdDSA", "RS256"], help="default: ACME_JWT_ALGORITHM"
    )
    generate.add_argument("--rotate", metavar="FILE", help="the current private JWKS")
    generate.add_argument(
        "--keep", type=int, default=1, metavar="N", help="old keys kept with --rotate (default 1)"
    )
    generate.set_defaults(handler=cmd_keys_generate)
    relay = commands.add_parser(
        "relay",
        help="publish the outbox to RabbitMQ (runs until stopped)",
        description=(
            "Publish committed outbox rows to RabbitMQ and mark them sent. Safe beside the "
            "relays in the API processes and beside other `acme-api relay` processes "
            "(PostgreSQL row locks). Needs ACME_AMQP_URL."
        ),
    )
    relay.add_argument("--once", action="store_true", help="publish what is due now, then exit")
    relay.set_defaults(handler=cmd_relay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "revision", None) and not args.branch:
        parser.error("--revision needs --branch")
    handler: Command = args.handler
    try:
        return handler(args, _settings())
    except ConfigError as exc:
        print(f"acme-api: {exc.detail}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"acme-api: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
