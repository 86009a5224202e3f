"""``acme-api relay``: publish the outbox to RabbitMQ, apart from the API processes."""

from __future__ import annotations

import argparse
import asyncio
import sys

from acme_api.settings import Settings

from ._common import Subparsers, setup_logging, until_stopped

__all__ = ["register"]


def register(commands: Subparsers) -> None:
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


def cmd_relay(args: argparse.Namespace, settings: Settings) -> int:
    setup_logging(settings)
    if settings.amqp_url is None:
        print(
            "acme-api: relay needs ACME_AMQP_URL (without a broker, each API process "
            "relays to its own in-process bus)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_relay(settings, once=args.once))


async def _relay(settings: Settings, *, once: bool) -> int:
    from acme_api import bootstrap
    from acme_api.tracing import tracing_from_env

    # The publish spans continue the traces their outbox rows recorded.
    container = await bootstrap.build(settings, consume=False, tracing=tracing_from_env())
    try:
        if once:
            total = 0
            while published := await container.relay.relay_once():
                total += published
            print(f"published {total} message(s)")
            return 0
        container.relay.start()
        await until_stopped("relaying the outbox")
        return 0
    finally:
        await container.aclose()
