"""The API's gunicorn, started as production starts it: directly, or under supervisord."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .server import BIN, DEPLOY, Server, http_ok, wait_ready

SUPERVISORD_CONF = DEPLOY / "supervisord.conf"
# What the image runs (deploy/supervisord.conf's program:api), the app argument aside.
GUNICORN_ARGS = ("--config", "python:acme_api.gunicorn_conf")


@dataclass
class _ApiServer(Server):
    """gunicorn serving an app on ``port`` with ``workers`` workers, configured by environment."""

    env: Mapping[str, str] = field(default_factory=dict)
    workers: int = 2
    ready_path: str = "/health/ready"

    def gunicorn_settings(self) -> dict[str, str]:
        """The variables acme_api.gunicorn_conf reads for the bind address and worker count."""
        return {"ACME_GUNICORN_BIND": self.address, "ACME_GUNICORN_WORKERS": str(self.workers)}

    def ready(self) -> bool:
        return http_ok(f"{self.url}{self.ready_path}")()

    def _output(self) -> Path:
        raise NotImplementedError

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the app answers ``ready_path``.

        Raises:
            StackError: the process exited or ``timeout`` passed, with its log's last lines.
        """
        assert self.process is not None
        wait_ready(
            self.ready,
            process=self.process,
            log=self._output(),
            timeout=timeout,
            what=f"{self.url}{self.ready_path}",
        )

    def _launch(self, command: list[str], env: Mapping[str, str], log: Path) -> None:
        with log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - this environment's programs
                command,
                env=env,
                cwd=self.root,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@dataclass
class Gunicorn(_ApiServer):
    """``gunicorn --config python:acme_api.gunicorn_conf [app]`` from an environment's ``bin``.

    ``app_uri`` serves another ASGI app under the same server and settings (``None``: the API).
    """

    bin_dir: Path = BIN
    app_uri: str | None = None
    log_name: str = "server.log"

    @property
    def log(self) -> Path:
        return self.root / self.log_name

    def _output(self) -> Path:
        return self.log

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env, **self.gunicorn_settings()}

    def start(self, *, timeout: float = 60) -> None:
        """Start gunicorn and wait until the app answers ``ready_path``.

        Raises:
            StackError: gunicorn exited or the app never answered, with the log's last lines.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        command = [str(self.bin_dir / "gunicorn"), *GUNICORN_ARGS]
        if self.app_uri:
            command.append(self.app_uri)
        self._launch(command, self.environment(), self.log)
        self.wait_ready(timeout)


@dataclass
class ApiUnderSupervisor(_ApiServer):
    """supervisord (deploy/supervisord.conf) running the API's gunicorn, as in the image."""

    env: dict[str, str] = field(default_factory=dict)

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "gunicorn.pid"

    @property
    def api_log(self) -> Path:
        return self.root / "logs" / "api.log"

    def _output(self) -> Path:
        return self.api_log

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ACME_", "PROMETHEUS"))}
        return {
            **base,
            "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
            "ACME_RUN_DIR": str(self.root / "run"),
            "ACME_LOG_DIR": str(self.root / "logs"),
            "ACME_API_LOG": str(self.api_log),
            "ACME_METRICS_DIR": str(self.root / "metrics"),
            "ACME_GUNICORN_PIDFILE": str(self.pidfile),
            "ACME_LOG_FORMAT": "json",
            **self.gunicorn_settings(),
            **self.env,
        }

    def start(self) -> None:
        for name in ("run", "logs"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        command = [str(BIN / "supervisord"), "--configuration", str(SUPERVISORD_CONF)]
        self._launch(command, self.environment(), self.root / "logs" / "supervisord.out")
        self.wait_ready()

    def master_pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def worker_pids(self) -> set[int]:
        """The gunicorn master's children, read from /proc."""
        master = self.master_pid()
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return {int(pid) for pid in children}

    def log(self) -> str:
        return self.api_log.read_text() if self.api_log.exists() else ""

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        super().stop(sig=sig, timeout=timeout)
        # supervisord gives gunicorn a process group of its own: if supervisord
        # could not stop it, end that group (the master and its workers) too.
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            master = self.master_pid()
            if b"gunicorn" in Path(f"/proc/{master}/cmdline").read_bytes():
                os.killpg(master, signal.SIGKILL)
