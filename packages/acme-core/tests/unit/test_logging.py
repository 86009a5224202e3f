from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from acme.core.logging import (
    REDACTED,
    bind_request_id,
    configure_logging,
    register_secret,
    request_id_var,
)


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    stream = io.StringIO()
    handler = configure_logging(fmt="json", stream=stream, level="DEBUG")
    try:
        yield stream, logging.getLogger("test.logging")
    finally:
        logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_request_id(capture: tuple[io.StringIO, logging.Logger]) -> None:
    stream, log = capture
    with bind_request_id("req-42"):
        log.info("inside %s", "the request", extra={"items": 3})
    log.info("outside")
    inside, outside = lines(stream)
    assert inside["message"] == "inside the request"
    assert inside["request_id"] == "req-42"
    assert inside["items"] == 3
    assert inside["level"] == "info"
    assert inside["logger"] == "test.logging"
    assert "request_id" not in outside
    assert request_id_var.get() is None


def test_registered_secrets_are_masked_everywhere(
    capture: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = capture
    secret = 'pa"ss' + "\\" + "word-123"  # quotes and backslashes change under JSON escaping
    register_secret(secret)
    try:
        raise RuntimeError(f"boom with {secret} inside")
    except RuntimeError:
        log.exception("failed for %s", secret, extra={"note": secret})
    text = stream.getvalue()
    assert "word-123" not in text
    (record,) = lines(stream)
    assert record["message"] == f"failed for {REDACTED}"
    assert record["note"] == REDACTED
    assert "RuntimeError" in str(record["exc_info"])


def test_a_secret_with_escaped_and_unescaped_characters_is_masked(
    capture: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = capture
    # A JSON line escapes the quote and keeps the accented letter and DEL as they are.
    secret = 'pa"ss\u00e9-\x7f-word-456'
    register_secret(secret)
    log.info("using %s", secret, extra={"note": secret})
    text = stream.getvalue()
    assert "word-456" not in text
    (record,) = lines(stream)
    assert record["message"] == f"using {REDACTED}"
    assert record["note"] == REDACTED


def test_a_value_that_is_not_plain_json_is_written_as_its_str(
    capture: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = capture

    @dataclasses.dataclass
    class Attempt:
        state: str
        verifier: str = dataclasses.field(repr=False)

    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    log.info("attempt", extra={"attempt": Attempt("s-1", "kept-out-of-repr"), "when": when})
    (record,) = lines(stream)
    assert record["attempt"] == str(Attempt("s-1", "kept-out-of-repr"))
    assert "kept-out-of-repr" not in stream.getvalue()  # the field its repr leaves out
    assert record["when"] == str(when)


def test_sensitive_extra_keys_are_masked(capture: tuple[io.StringIO, logging.Logger]) -> None:
    stream, log = capture
    log.info("login", extra={"access_token": "eyJ...", "password": "x", "user": "ann"})
    (record,) = lines(stream)
    assert record["access_token"] == REDACTED
    assert record["password"] == REDACTED
    assert record["user"] == "ann"


def test_short_values_are_not_registered(capture: tuple[io.StringIO, logging.Logger]) -> None:
    stream, log = capture
    register_secret("abc")  # would mangle every line
    log.info("abc abc")
    assert lines(stream)[0]["message"] == "abc abc"


def test_text_format_is_readable() -> None:
    stream = io.StringIO()
    handler = configure_logging(env="development", stream=stream)
    try:
        with bind_request_id("r-1"):
            logging.getLogger("test.text").warning("hello", extra={"n": 1})
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    assert "WARNING" in line
    assert "[r-1] hello" in line
    assert "n=1" in line


def test_production_defaults_to_json() -> None:
    stream = io.StringIO()
    handler = configure_logging(env="production", stream=stream)
    try:
        logging.getLogger("test.prod").warning("x")
    finally:
        logging.getLogger().removeHandler(handler)
    assert json.loads(stream.getvalue())["message"] == "x"
