"""``acme-api relay``: publish the outbox to RabbitMQ, apart from the API processes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from acme_api.settings import Settings

from ._common import (
    Subparsers,
    add_metrics_bind,
    run_serving_metrics,
    setup_logging,
    until_stopped,
)

if TYPE_CHECKING:
    from acme_api.pipeline_metrics import PipelineMetrics

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
    add_metrics_bind(relay, "the outbox's backlog and the publishing's failures (not with --once)")
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
    if args.once:
        if args.metrics_bind is not None:
            print("acme-api: --metrics-bind serves a running relay, not --once", file=sys.stderr)
            return 2
        return asyncio.run(_relay(settings, once=True, pipeline=None))
    return run_serving_metrics(
        settings,
        args.metrics_bind,
        lambda pipeline: _relay(settings, once=False, pipeline=pipeline),
    )


async def _relay(settings: Settings, *, once: bool, pipeline: PipelineMetrics | None) -> int:
    from acme_api import bootstrap
    from acme_api.tracing import tracing_from_env

    # The publish spans continue the traces their outbox rows recorded.
    container = await bootstrap.build(
        settings, consume=False, tracing=tracing_from_env(), pipeline=pipeline
    )
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
