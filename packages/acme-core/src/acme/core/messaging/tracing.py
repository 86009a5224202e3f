"""Spans for the outbox hop, the one step of a trace that no instrumentation library knows.

A write queues an event in the outbox (a ``create`` span, whose W3C trace
context is stored with the row); a relay, later and perhaps in another
process, publishes it (a ``publish`` span per event, the row's context as
parent, its own context put in the message's headers); each consumer
handles it (a ``process`` span per event and consumer, the headers'
context as parent), so one trace runs from a request to every consumer's
effect. Names and attributes follow OpenTelemetry's messaging semantic
conventions.

Off until the composition root calls :func:`install` (needs
``acme-core[otel]``): until then every function here returns at once and
OpenTelemetry is not even imported, so tracing costs nothing when off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from acme.core.__about__ import __version__

from ._message import Message

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = [
    "IN_PROCESS",
    "Publishing",
    "creation_context",
    "enabled",
    "failed",
    "install",
    "processing",
    "processing_batch",
    "publishing",
    "uninstall",
]

IN_PROCESS = "acme_in_process"
"""``messaging.system`` of the in-process bus (RabbitMQ's is ``rabbitmq``)."""


class _Switch:
    # Set by install(): the only state, read once per call.
    tracer: Tracer | None = None


def install(tracer_provider: TracerProvider | None = None) -> None:
    """Start tracing the outbox hop with ``tracer_provider`` (the global one by default).

    Raises:
        ImportError: OpenTelemetry's API is missing, naming the extra to install.
    """
    try:
        from opentelemetry import trace
    except ImportError as exc:  # pragma: no cover - the extra is installed in the workspace
        raise ImportError("tracing needs OpenTelemetry: pip install 'acme-core[otel]'") from exc
    _Switch.tracer = trace.get_tracer(
        "acme.core.messaging", __version__, tracer_provider=tracer_provider
    )


def uninstall() -> None:
    """Stop tracing the outbox hop (tests, and a process that turns tracing off)."""
    _Switch.tracer = None


def enabled() -> bool:
    """Whether :func:`install` was called."""
    return _Switch.tracer is not None


def _attributes(message: Message, operation: str, system: str, destination: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": system,
        "messaging.operation": operation,
        "messaging.operation.type": operation,
        "messaging.destination.name": destination,
        "messaging.message.id": str(message.id),
    }
    if message.correlation_id is not None:
        attributes["messaging.message.conversation_id"] = message.correlation_id
    return attributes


def _carrier(span: Span) -> dict[str, str]:
    from opentelemetry import propagate, trace

    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def _parent(headers: Mapping[str, Any] | None) -> Any:
    from opentelemetry import propagate

    if not headers:
        return None
    return propagate.extract({k: v for k, v in headers.items() if isinstance(v, str)})


def creation_context(message: Message) -> dict[str, str] | None:
    """The trace context to store with ``message``'s outbox row; ``None`` when off.

    Records a ``create`` span (PRODUCER) under the current span: the
    request's, so the row's context ties the event to it.
    """
    tracer = _Switch.tracer
    if tracer is None:
        return None
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(
        f"create {message.type}",
        kind=SpanKind.PRODUCER,
        attributes=_attributes(message, "create", "acme_outbox", message.type),
    ) as span:
        return _carrier(span)


def failed(error: BaseException) -> None:
    """Mark the current span failed (a handler's error that its bus handles, not raises)."""
    if _Switch.tracer is None:
        return
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


@dataclass(slots=True)
class Publishing:
    """A batch being published: the messages to send (their headers carry
    the publish spans' context) and, once known, the outcome of each."""

    messages: list[Message]
    outcomes: Sequence[BaseException | None] = ()
    spans: list[Span] = field(default_factory=list)


@contextlib.contextmanager
def publishing(
    messages: Sequence[Message], *, system: str, destination: str | None = None
) -> Iterator[Publishing]:
    """One ``publish`` span (PRODUCER) per message, each the child of its outbox row's context.

    Send ``batch.messages`` (copies whose headers carry the span's context)
    and set ``batch.outcomes``: a message whose outcome is an error gets an
    error status. ``destination`` is the exchange, else the message type.
    """
    tracer = _Switch.tracer
    if tracer is None:
        yield Publishing(list(messages))
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    batch = Publishing([])
    for message in messages:
        attributes = _attributes(message, "publish", system, destination or message.type)
        if destination is not None:
            attributes["messaging.rabbitmq.destination.routing_key"] = message.type
        span = tracer.start_span(
            f"publish {message.type}",
            context=_parent(message.headers),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        )
        batch.spans.append(span)
        batch.messages.append(replace(message, headers=_carrier(span)))
    try:
        yield batch
    except BaseException as exc:
        batch.outcomes = [exc] * len(batch.spans)
        raise
    finally:
        outcomes = list(batch.outcomes) or [None] * len(batch.spans)
        for span, outcome in zip(batch.spans, outcomes, strict=False):
            if outcome is not None:
                span.record_exception(outcome)
                span.set_status(Status(StatusCode.ERROR, type(outcome).__name__))
            span.end()


@contextlib.contextmanager
def processing(
    message: Message,
    *,
    consumer: str,
    system: str,
    headers: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """A ``process`` span (CONSUMER) around one handling, current while it runs.

    Its parent is the context in ``headers`` (the transport's; the
    message's own by default), so the consumer's SQL is part of the trace.
    """
    tracer = _Switch.tracer
    if tracer is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    attributes = _attributes(message, "process", system, message.type)
    attributes["messaging.consumer.group.name"] = consumer
    with tracer.start_as_current_span(
        f"process {message.type}",
        context=_parent(message.headers if headers is None else headers),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ):
        yield


@contextlib.contextmanager
def processing_batch(messages: Sequence[Message], *, consumer: str, system: str) -> Iterator[None]:
    """A ``process`` span (CONSUMER) per message of a batch handled in one call.

    Each is the child of its own message's context; the batch's work (one
    transaction) runs under an INTERNAL span linked to all of them. An error
    marks every message's span.
    """
    tracer = _Switch.tracer
    if tracer is None:
        yield
        return
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    spans = []
    for message in messages:
        attributes = _attributes(message, "process", system, message.type)
        attributes["messaging.consumer.group.name"] = consumer
        spans.append(
            tracer.start_span(
                f"process {message.type}",
                context=_parent(message.headers),
                kind=SpanKind.CONSUMER,
                attributes=attributes,
            )
        )
    try:
        with tracer.start_as_current_span(
            f"process batch {consumer}",
            links=[Link(span.get_span_context()) for span in spans],
            attributes={
                "messaging.system": system,
                "messaging.consumer.group.name": consumer,
                "messaging.batch.message_count": len(spans),
            },
        ):
            yield
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            span.end()
