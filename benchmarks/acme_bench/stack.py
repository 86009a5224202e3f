"""The production-like stack: gunicorn with uvicorn workers, optionally behind nginx.

gunicorn is started exactly as in production, ``gunicorn -c
python:acme_api.gunicorn_conf``, with the worker count and bind address
given through ``ACME_GUNICORN_WORKERS`` / ``ACME_GUNICORN_BIND``. Another ASGI
app (the floor, the benchmark-only variants) is served by the same command
with its import path as gunicorn's positional argument, so every target
runs on the same server with the same settings.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from types import TracebackType

from acme.core.testing import free_port

from .debian import MissingTool, debian_tool
from .parsing import summarize_lines
from .paths import BENCH_DIR

__all__ = ["AppTarget", "Stack", "StackError", "free_port", "nginx_binary"]

NGINX_TEMPLATE = BENCH_DIR / "nginx" / "nginx.conf.template"
EDGE_TEMPLATE = BENCH_DIR.parent / "deploy" / "nginx" / "templates" / "acme.conf.template"
_EDGE_NAME = re.compile(r"\$\{(ACME_NGINX_[A-Z_]+)\}")


def render_edge(template: str, values: Mapping[str, str]) -> str:
    """The production edge template with its ``${ACME_NGINX_*}`` names filled (as envsubst).

    Raises:
        StackError: the template names a variable the runner does not set.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise StackError(f"the nginx template needs {name}, which the runner does not set")
        return values[name]

    return _EDGE_NAME.sub(value, template)


class StackError(RuntimeError):
    """The stack did not come up; the message carries the server's last log lines."""


@dataclass(frozen=True, slots=True)
class AppTarget:
    """One thing to measure: an ASGI app served by gunicorn from a Python environment.

    Args:
        name: The label reports use (``api``, ``floor``, ``api-noauth``, a version).
        bin_dir: The environment's ``bin`` directory (its gunicorn and acme-api).
        app_uri: gunicorn's app argument; ``None`` serves the gunicorn_conf default,
            the production app.
        env: Extra environment for the server.
        ready_path: Answered 200 once the app can serve.
        nginx: Serve it behind nginx.
        database: The name of its database (whose PostgreSQL backends are accounted).
        workers: Its own gunicorn worker count (a sweep); the experiment's otherwise.
    """

    name: str
    bin_dir: Path
    app_uri: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = "/health/ready"
    nginx: bool = False
    database: str = ""
    workers: int | None = None


def nginx_binary() -> str:
    """The nginx executable (Debian's package, installed when missing and possible).

    Raises:
        StackError: nginx is not installed and could not be.
    """
    try:
        return debian_tool("nginx", "nginx")
    except MissingTool as exc:
        raise StackError(str(exc)) from None


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(
                f"the server exited with status {process.returncode} before it was ready:\n"
                + summarize_lines(log.read_text(errors="replace").splitlines())
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"status {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"status {exc.code}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise StackError(
        f"{url} not ready after {timeout:.0f}s ({last_error}):\n"
        + summarize_lines(log.read_text(errors="replace").splitlines())
    )


def _stop(process: subprocess.Popen[bytes] | None, sig: int, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Stack:
    """gunicorn (and nginx) serving one :class:`AppTarget`, as a context manager.

    Args:
        target: What to serve.
        workers: gunicorn worker count.
        env: The server's base environment (database URL, keys, ...).
        run_dir: Where logs and nginx's files go (also the server's working directory).
    """

    def __init__(
        self,
        *,
        target: AppTarget,
        workers: int,
        env: Mapping[str, str],
        run_dir: Path,
        ready_timeout: float = 60.0,
    ) -> None:
        self.target = target
        self.workers = workers
        self.env = env
        self.run_dir = run_dir
        self.use_nginx = target.nginx
        self.ready_timeout = ready_timeout
        self.server: subprocess.Popen[bytes] | None = None
        self.proxy: subprocess.Popen[bytes] | None = None
        self.app_port = 0
        self.proxy_port = 0

    @property
    def url(self) -> str:
        port = self.proxy_port if self.use_nginx else self.app_port
        return f"http://127.0.0.1:{port}"

    @property
    def server_pid(self) -> int | None:
        return self.server.pid if self.server else None

    @property
    def proxy_pid(self) -> int | None:
        return self.proxy.pid if self.proxy else None

    def _server_env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(BENCH_DIR), os.environ.get("PYTHONPATH")) if p)
        return {
            **os.environ,
            **self.env,
            **self.target.env,
            "ACME_GUNICORN_WORKERS": str(self.workers),
            "ACME_GUNICORN_BIND": f"127.0.0.1:{self.app_port}",
            "PYTHONPATH": path,
        }

    def start(self) -> Stack:
        """Start the server (and nginx) and wait until the app answers ready.

        Raises:
            StackError: a process exited or never answered.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.app_port = free_port()
        command = [str(self.target.bin_dir / "gunicorn"), "-c", "python:acme_api.gunicorn_conf"]
        if self.target.app_uri:
            command.append(self.target.app_uri)
        log = self.run_dir / f"server-{self.target.name}.log"
        with log.open("ab") as handle:
            self.server = subprocess.Popen(
                command,
                cwd=self.run_dir,
                env=self._server_env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        app_url = f"http://127.0.0.1:{self.app_port}{self.target.ready_path}"
        _wait_ready(app_url, self.server, log, self.ready_timeout)
        if self.use_nginx:
            self._start_nginx()
        return self

    def _start_nginx(self) -> None:
        prefix = self.run_dir / f"nginx-{self.target.name}"
        prefix.mkdir(parents=True, exist_ok=True)
        self.proxy_port = free_port()
        edge = {
            "ACME_NGINX_LISTEN": f"127.0.0.1:{self.proxy_port}",
            "ACME_NGINX_UPSTREAM": f"127.0.0.1:{self.app_port}",
            "ACME_NGINX_LOG_DIR": str(prefix),
            "ACME_NGINX_RATE_LIMIT": "1000000r/s",
            "ACME_NGINX_RATE_BURST": "1000000",
        }
        (prefix / "acme.conf").write_text(render_edge(EDGE_TEMPLATE.read_text(), edge))
        conf = prefix / "nginx.conf"
        conf.write_text(
            Template(NGINX_TEMPLATE.read_text()).safe_substitute(
                workers=str(self.workers), prefix=str(prefix)
            )
        )
        log = prefix / "nginx-stdout.log"
        with log.open("ab") as handle:
            self.proxy = subprocess.Popen(
                [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "e.log")],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{self.proxy_port}{self.target.ready_path}"
        _wait_ready(url, self.proxy, prefix / "nginx-error.log", 15)

    def stop(self) -> None:
        """Stop nginx gracefully, then gunicorn (SIGTERM: finish in-flight requests)."""
        _stop(self.proxy, signal.SIGQUIT)
        _stop(self.server, signal.SIGTERM)

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
