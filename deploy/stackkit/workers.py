"""The API's gunicorn, started as production starts it: as the image does, or under supervisord.

The image runs its ENTRYPOINT and CMD (tini, then gunicorn as the only child);
a VM install runs supervisord with deploy/vm/supervisord.conf.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .server import BIN, DEPLOY, Server, http_ok, wait_ready

SUPERVISORD_CONF = DEPLOY / "vm" / "supervisord.conf"
DOCKERFILE = DEPLOY / "Dockerfile"
# What the image and the VM run (deploy/vm/supervisord.conf's program:api), the app argument aside.
GUNICORN_ARGS = ("--config", "python:acme_api.gunicorn_conf")
_EXEC_FORM = re.compile(r"^(ENTRYPOINT|CMD)\s+(\[.*\])\s*$")


def image_command(dockerfile: Path = DOCKERFILE, stage: str = "runtime") -> list[str]:
    """The command line a container of ``stage`` runs: its ENTRYPOINT then its CMD (exec form).

    Raises:
        ValueError: the stage is missing, or its ENTRYPOINT or CMD is not in exec form.
    """
    entrypoint: list[str] = []
    cmd: list[str] = []
    current = None
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if line.upper().startswith("FROM "):
            words = line.split()
            current = words[-1] if len(words) >= 4 and words[-2].upper() == "AS" else None
            continue
        found = _EXEC_FORM.match(line)
        if current == stage and found:
            value = json.loads(found.group(2))
            if found.group(1) == "ENTRYPOINT":
                entrypoint = value
            else:
                cmd = value
    if not cmd:
        raise ValueError(f"{dockerfile}: no stage {stage!r} with a CMD in exec form")
    return [*entrypoint, *cmd]


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
class InImage(Gunicorn):
    """The API started by the image's own command line (tini, then gunicorn), this environment's
    programs first on ``PATH``: what ``docker run`` starts, but for the container."""

    def environment(self) -> dict[str, str]:
        base = super().environment()
        return {**base, "PATH": f"{self.bin_dir}{os.pathsep}{base.get('PATH', '')}"}

    def start(self, *, timeout: float = 60) -> None:
        """Start the image's command line and wait until the app is ready.

        Raises:
            StackError: the process tree exited or the app never answered.
        """
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the image's command line without waiting (a test may expect it to fail)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._launch(image_command(), self.environment(), self.log)


@dataclass
class ApiUnderSupervisor(_ApiServer):
    """supervisord (deploy/vm/supervisord.conf) running the API's gunicorn, as on a VM."""

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
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start supervisord without waiting (a test may expect it to fail)."""
        for name in ("run", "logs"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        command = [str(BIN / "supervisord"), "--configuration", str(SUPERVISORD_CONF)]
        self._launch(command, self.environment(), self.root / "logs" / "supervisord.out")

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
