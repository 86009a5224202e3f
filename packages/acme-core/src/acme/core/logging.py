"""One-call logging setup: JSON lines in production, readable lines in development.

Every record carries the request (correlation) id of the work it belongs to,
taken from :data:`request_id_var`, and every registered secret value is
replaced by ``***`` in the final line, whatever path it took into the record
(message, arguments, extra fields, exception text).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any, Literal

from pydantic_core import to_json

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "TextFormatter",
    "bind_request_id",
    "configure_logging",
    "register_secret",
    "request_id_var",
]

REDACTED = "***"

request_id_var: ContextVar[str | None] = ContextVar("acme_request_id", default=None)
"""The id of the request or message being handled; set by the API middleware and consumers."""

_MIN_SECRET_LENGTH = 4
# The values pydantic-core writes as the standard encoder would (a bool is an int's
# subclass, but type() is exact).
_PLAIN = frozenset({str, int, float, bool, type(None)})
_SENSITIVE_KEYS = ("password", "secret", "token", "authorization", "cookie", "api_key", "apikey")
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "request_id"}
)


class _SecretRegistry:
    """Values that must never be written out; thread-safe, process-wide."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._needles: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        if len(value) < _MIN_SECRET_LENGTH:
            return
        # As a JSON line carries it: escaped, with other characters kept or escaped too.
        escaped = {json.dumps(value, ensure_ascii=ascii)[1:-1] for ascii in (True, False)}
        with self._lock:
            needles = set(self._needles) | {value} | escaped
            # Longest first, so a secret containing another is masked whole.
            self._needles = tuple(sorted(needles, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, REDACTED)
        return text

    def clear(self) -> None:
        with self._lock:
            self._needles = ()


_secrets = _SecretRegistry()


def register_secret(value: str | None) -> None:
    """Never log ``value``: every later log line has it replaced by ``***``.

    Settings loading registers every secret field; call this for secrets
    obtained any other way (a token fetched at runtime, a generated key).
    """
    if value:
        _secrets.add(value)


@contextmanager
def bind_request_id(request_id: str | None) -> Iterator[None]:
    """Attach ``request_id`` to every log record made inside the block."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


@functools.lru_cache(maxsize=1024)
def _is_sensitive(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SENSITIVE_KEYS)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: (REDACTED if _is_sensitive(key) else value)
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    }


def _install_record_factory() -> None:
    """Stamp every record with the current request id when it is created.

    Done at creation, not in a handler, because handlers may run later or in
    another context (queue handlers, pytest's capture), where the id is gone.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "acme_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    factory.acme_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with UTC timestamps and the request id.

    A line whose values are all strings, numbers, booleans or null (an
    access line, most lines) is encoded by pydantic-core: compact, UTF-8
    kept. Any other value sends the line through the standard library's
    encoder, which writes what it cannot encode as its ``str``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # one tuple: replaced whole, thread-safe

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            document["request_id"] = request_id
        document.update(_extra_fields(record))
        if record.exc_info:
            document["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack_info"] = self.formatStack(record.stack_info)
        if all(type(value) in _PLAIN for value in document.values()):
            line = to_json(document).decode()
        else:
            # pydantic-core would write a dataclass or model field by field (a field kept
            # out of its repr too) and a datetime in its own format: the standard encoder
            # writes anything else as its str, as lines always had it.
            line = json.dumps(document, default=str, ensure_ascii=False)
        return _secrets.redact(line)

    def _timestamp(self, record: logging.LogRecord) -> str:
        """``2026-12-01T09:30:00.250+00:00``; the date and time of a second are made once."""
        second = int(record.created)
        cached, text = self._second
        if cached != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int(record.msecs):03d}+00:00"


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal: time, level, logger, request id, message, extras."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(request_tag)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f"[{request_id}] " if request_id else ""
        line = super().format(record)
        extras = _extra_fields(record)
        if extras:
            line += " " + " ".join(f"{key}={value!r}" for key, value in extras.items())
        return _secrets.redact(line)


def configure_logging(
    *,
    env: str = "development",
    level: str | int = "INFO",
    fmt: Literal["json", "text"] | None = None,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Route every logger (uvicorn's and gunicorn's too) to one handler.

    The servers' own access loggers are silenced: the API logs one access
    line per request itself, carrying the request id and duration.

    Args:
        env: ``production`` selects JSON lines unless ``fmt`` says otherwise.
        level: The root level.
        fmt: Force ``json`` or ``text``.
        stream: Where to write, standard error by default.

    Returns:
        The installed handler (tests use it to capture output).
    """
    chosen = fmt or ("json" if env == "production" else "text")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    _install_record_factory()
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    # The API writes its own access line (with the request id and duration);
    # the servers' lines would only repeat it without them.
    for name in ("uvicorn.access", "gunicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = False
    logging.captureWarnings(True)
    return handler
