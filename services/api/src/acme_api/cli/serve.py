"""``acme-api serve``: the development server (uvicorn)."""

from __future__ import annotations

import argparse

from acme_api.settings import Settings

from ._common import Subparsers, migrator, setup_logging

__all__ = ["register"]


def register(commands: Subparsers) -> None:
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


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    setup_logging(settings)
    migrate = settings.should_migrate_on_start if args.migrate is None else args.migrate
    if migrate:
        migrator(settings).upgrade()
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
