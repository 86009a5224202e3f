"""Loopback ports and polling, for tests that start servers or wait on asynchronous work."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["accepts_connections", "eventually", "free_port", "wait_until"]

T = TypeVar("T")


def free_port() -> int:
    """An ephemeral loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts_connections(port: int, *, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``host:port`` (a server that has bound its port)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


async def eventually(
    read: Callable[[], T | Awaitable[T]],
    expected: T,
    *,
    within: float = 10.0,
    interval: float = 0.05,
) -> None:
    """Wait until ``read()`` (plain or awaitable) returns ``expected``; fail with the last value.

    For asynchronous effects: events delivered by a bus, a consumer's count.
    """
    deadline = time.monotonic() + within
    while True:
        value = read()
        if isinstance(value, Awaitable):
            value = await value
        if value == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {within:g}s, expected {expected!r}")
        await asyncio.sleep(interval)
