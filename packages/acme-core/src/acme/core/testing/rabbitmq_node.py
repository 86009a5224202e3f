"""A private RabbitMQ node for tests that stop or restart the broker.

The shared broker other tests (and other people) use is never touched: the
node has its own name, free ports, configuration, data and cookie, all in a
temporary directory, and talks only on loopback.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from .waiting import accepts_connections, free_port

__all__ = ["RabbitMQNode", "rabbitmq_server_available"]

_BIN_DIRS = (Path("/usr/lib/rabbitmq/bin"), Path("/usr/local/lib/rabbitmq/bin"))


def _program(name: str) -> str | None:
    # The Debian wrappers in /usr/sbin switch to the rabbitmq user and drop
    # our environment; the real scripts run as the caller.
    for directory in _BIN_DIRS:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def rabbitmq_server_available() -> bool:
    """Whether a RabbitMQ server is installed to start private nodes from."""
    return _program("rabbitmq-server") is not None and _program("rabbitmqctl") is not None


class RabbitMQNode:
    """One RabbitMQ node in ``directory``: ``start()``, ``stop()``, ``restart()``.

    Data survives a restart (same directory), as on a real server. Use as a
    context manager to be sure the node is stopped.
    """

    def __init__(self, directory: Path, *, boot_timeout: float = 60.0) -> None:
        server, ctl = _program("rabbitmq-server"), _program("rabbitmqctl")
        if server is None or ctl is None:
            raise FileNotFoundError("rabbitmq-server is not installed")
        self._server, self._ctl = server, ctl
        self.directory = directory
        self.boot_timeout = boot_timeout
        self.name = f"acmetest{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._boots = 0
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "log.console = false\n"
        )
        (directory / "rabbitmq-env.conf").write_text("")
        (directory / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        """The node's AMQP URL."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _environment(self) -> dict[str, str]:
        d = self.directory
        return {
            **os.environ,
            "HOME": str(d),  # the Erlang cookie lives here, private to this node
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(d / "plugins-expand"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self) -> None:
        """Boot the node and wait until it accepts AMQP connections."""
        self._boots += 1
        log = (self.directory / f"server-{self._boots}.log").open("wb")
        self._process = subprocess.Popen(  # noqa: S603 - a fixed, installed program
            [self._server],
            env=self._environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        log.close()
        deadline = time.monotonic() + self.boot_timeout
        while not accepts_connections(self.port):
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"rabbitmq-server exited with {self._process.returncode}; "
                    f"see {self.directory}/server-{self._boots}.log"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"RabbitMQ node {self.name} did not boot in time")
            time.sleep(0.1)

    def stop(self) -> None:
        """Halt the node (``rabbitmqctl stop``) and wait for its VM to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        subprocess.run(  # noqa: S603 - a fixed, installed program
            [self._ctl, "-n", self.name, "stop"],
            env=self._environment(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self) -> None:
        """Stop, then start again on the same data."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
