"""What every server of the stack shares: a directory, a port, a process group, readiness."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from acme.core.testing import free_port, stop_process_group, wait_until

BIN = Path(sys.executable).parent  # gunicorn, supervisord, acme-api of this environment
DEPLOY = Path(__file__).resolve().parents[1]


class StackError(RuntimeError):
    """A server did not come up; the message carries its log's last lines."""


@dataclass
class Server:
    """A server on ``127.0.0.1:port`` with its files under ``root``, run in a session of its own."""

    root: Path
    port: int = field(default_factory=free_port, kw_only=True)
    process: subprocess.Popen[bytes] | None = field(default=None, kw_only=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        """Signal the server's process group; kill what is left of it after ``timeout``."""
        if self.process is not None:
            stop_process_group(self.process, sig=sig, timeout=timeout)


def _tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join([line.rstrip() for line in text.splitlines() if line.strip()][-lines:])


def wait_ready(
    probe: Callable[[], bool],
    *,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
    what: str,
) -> None:
    """Poll ``probe`` until it is true.

    Raises:
        StackError: the process exited first, or ``timeout`` passed; with ``log``'s last lines.
    """

    def ready() -> bool:
        if process.poll() is not None:
            raise StackError(
                f"{what}: the process exited with status {process.returncode}:\n{_tail(log)}"
            )
        return probe()

    try:
        wait_until(ready, timeout=timeout, what=what, interval=0.2)
    except AssertionError as exc:
        raise StackError(f"{exc}:\n{_tail(log)}") from None


def http_ok(url: str) -> Callable[[], bool]:
    """A probe: ``url`` answers 200."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    return probe


class _Startable(Protocol):
    root: Path

    def start(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=_Startable)


@contextlib.contextmanager
def running(server: S) -> Iterator[S]:
    """Start ``server``; stop it and remove its directory afterwards, whatever happened."""
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
