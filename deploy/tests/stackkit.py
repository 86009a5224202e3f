"""The production stack on loopback, for tests: nginx -> supervisord -> gunicorn -> PostgreSQL.

Every process is started in its own session on a free port and stopped by
its pid (group) at the end, whatever happened in between. PostgreSQL is a
private cluster (initdb in a temporary directory), so a test may stop and
restart it without touching the machine's shared server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from acme.core.testing import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX_TEMPLATE = DEPLOY / "nginx" / "templates" / "acme.conf.template"
SUPERVISORD_CONF = DEPLOY / "supervisord.conf"
PG_BIN = Path(os.environ.get("ACME_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
BIN = Path(sys.executable).parent  # gunicorn, supervisord, acme-api of this environment


def stop_process(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM) -> None:
    """Signal a process we started (its whole session), then kill it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the session
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own, on a free port, in a temporary directory."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/acme"

    def _pg_ctl(self, *args: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
            ),
            check=True,
            capture_output=True,
        )
        self.start()
        createdb = [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        subprocess.run(
            _as_postgres([*createdb, "-U", "postgres", "acme"]), check=True, capture_output=True
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.root / "postgres.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def private_postgres() -> Iterator[PrivatePostgres]:
    """Start a private cluster with an ``acme`` database; remove it afterwards."""
    cluster = PrivatePostgres(Path(tempfile.mkdtemp(prefix="acme-pg-")))
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


def render_nginx_site(values: dict[str, str]) -> str:
    """The nginx template with its ``${ACME_NGINX_*}`` names filled in (what envsubst does)."""

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"\$\{(ACME_NGINX_[A-Z_]+)\}", fill, NGINX_TEMPLATE.read_text())


@dataclass
class Nginx:
    """Debian's nginx serving the deploy/ site config in front of ``upstream``."""

    root: Path
    upstream: str
    rate_limit: str = "1000r/s"
    rate_burst: int = 2000
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.root / "logs" / "access.log"

    def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        logs = self.root / "logs"
        temp = self.root / "temp"
        for directory in (logs, temp):
            directory.mkdir(parents=True, exist_ok=True)
        temp.chmod(0o777)  # nginx workers run as nobody when started by root
        site = self.root / "acme.conf"
        site.write_text(
            render_nginx_site(
                {
                    "ACME_NGINX_LISTEN": f"127.0.0.1:{self.port}",
                    "ACME_NGINX_UPSTREAM": self.upstream,
                    "ACME_NGINX_LOG_DIR": str(logs),
                    "ACME_NGINX_RATE_LIMIT": self.rate_limit,
                    "ACME_NGINX_RATE_BURST": str(self.rate_burst),
                }
            )
        )
        main = self.root / "nginx.conf"
        main.write_text(
            f"""daemon off;
worker_processes 1;
pid {self.root}/nginx.pid;
error_log {logs}/main-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site};
}}
"""
        )
        error_log = str(logs / "main-error.log")
        command = [binary, "-p", str(self.root), "-c", str(main), "-e", error_log]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        assert check.returncode == 0, f"nginx -t rejected the config:\n{check.stderr}"
        self.process = subprocess.Popen(command, start_new_session=True)
        wait_until(self._answers, timeout=15, what=f"nginx on port {self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, sig=signal.SIGQUIT)


@dataclass
class ApiUnderSupervisor:
    """supervisord (deploy/supervisord.conf) running gunicorn with the API's settings."""

    root: Path
    env: dict[str, str]
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "gunicorn.pid"

    @property
    def api_log(self) -> Path:
        return self.root / "logs" / "api.log"

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ACME_", "PROMETHEUS"))}
        return {
            **base,
            "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
            "ACME_RUN_DIR": str(self.root / "run"),
            "ACME_LOG_DIR": str(self.root / "logs"),
            "ACME_API_LOG": str(self.api_log),
            "ACME_METRICS_DIR": str(self.root / "metrics"),
            "ACME_GUNICORN_BIND": self.address,
            "ACME_GUNICORN_WORKERS": str(self.workers),
            "ACME_GUNICORN_PIDFILE": str(self.pidfile),
            "ACME_LOG_FORMAT": "json",
            **self.env,
        }

    def start(self) -> None:
        for name in ("run", "logs"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(BIN / "supervisord"), "--configuration", str(SUPERVISORD_CONF)],
            env=self.environment(),
            cwd=self.root,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(self.ready, timeout=timeout, what=f"the API ready on {self.address}")

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def master_pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def worker_pids(self) -> set[int]:
        """The gunicorn master's children, read from /proc."""
        master = self.master_pid()
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return {int(pid) for pid in children}

    def log(self) -> str:
        return self.api_log.read_text() if self.api_log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        # supervisord gives gunicorn a process group of its own: if supervisord
        # could not stop it, end that group (the master and its workers) too.
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            master = self.master_pid()
            if b"gunicorn" in Path(f"/proc/{master}/cmdline").read_bytes():
                os.killpg(master, signal.SIGKILL)


@dataclass(frozen=True)
class Outcome:
    """One request of a load run: when it started and ended, and how it ended."""

    started: float
    ended: float
    status: int | None
    error: str | None = None
    body: str = ""


def load(
    send: Callable[[httpx.Client], httpx.Response],
    *,
    base_url: str,
    clients: int,
    stop: threading.Event,
    max_seconds: float,
) -> tuple[list[Outcome], list[threading.Thread]]:
    """Start ``clients`` threads sending requests back to back until ``stop`` (or the time limit).

    Returns the shared list of outcomes and the threads to join.
    """
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + max_seconds

    def run() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = send(client)
                    status: int | None = response.status_code
                    error, body = None, response.text[:2000]
                except httpx.HTTPError as exc:
                    status, error, body = None, f"{type(exc).__name__}: {exc}", ""
                outcomes.append(Outcome(started, time.monotonic(), status, error, body))

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    return outcomes, threads
