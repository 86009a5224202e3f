"""``acme-api consume``: the components' event consumers, apart from the API processes."""

from __future__ import annotations

import argparse
import functools
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
    consume = commands.add_parser(
        "consume",
        help="handle events from RabbitMQ (runs until stopped)",
        description=(
            "Run every component's event consumers on RabbitMQ, in a process of its own: "
            "set ACME_CONSUMERS_IN_API=false on the API processes, so their event loops "
            "serve requests only. Several at once share each consumer's queue (handlers "
            "are idempotent). Start it with, or before, the API: until a consumer's queue "
            "exists its events wait in the outbox. Needs ACME_AMQP_URL."
        ),
    )
    add_metrics_bind(consume, "the consumers' lag, handling times and dead letters")
    consume.set_defaults(handler=cmd_consume)


def cmd_consume(args: argparse.Namespace, settings: Settings) -> int:
    setup_logging(settings)
    if settings.amqp_url is None:
        print(
            "acme-api: consume needs ACME_AMQP_URL (without a broker, each API process "
            "handles its own events)",
            file=sys.stderr,
        )
        return 2
    return run_serving_metrics(settings, args.metrics_bind, functools.partial(_consume, settings))


async def _consume(settings: Settings, pipeline: PipelineMetrics | None) -> int:
    from acme_api import bootstrap
    from acme_api.tracing import tracing_from_env

    # The consumers' spans continue the traces their messages carry.
    container = await bootstrap.build(
        settings, consume=True, tracing=tracing_from_env(), pipeline=pipeline
    )
    try:
        await until_stopped("consuming events")
        return 0
    finally:
        # Closing the bus lets the handlers in flight finish (the broker redelivers the rest).
        await container.aclose()
