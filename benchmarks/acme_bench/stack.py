"""The production-like stack: gunicorn with uvicorn workers, optionally behind nginx.

gunicorn is started exactly as in production, ``gunicorn -c
python:acme_api.gunicorn_conf``, with the worker count and bind address
given through ``ACME_GUNICORN_WORKERS`` / ``ACME_GUNICORN_BIND``. Another ASGI
app (the floor, the benchmark-only variants) is served by the same command
with its import path as gunicorn's positional argument, so every target
runs on the same server with the same settings. The servers themselves are
``stackkit``'s (deploy/stackkit), the launcher the deploy tests use too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from stackkit import EDGE_TEMPLATE, Gunicorn, Nginx, StackError, http_ok, render_edge, wait_ready

from .debian import MissingTool, debian_tool
from .paths import BENCH_DIR

__all__ = [
    "EDGE_TEMPLATE",
    "AppTarget",
    "Stack",
    "StackError",
    "nginx_binary",
    "render_edge",
]


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
        self.server: Gunicorn | None = None
        self.proxy: Nginx | None = None

    @property
    def url(self) -> str:
        served = self.proxy if self.use_nginx else self.server
        return served.url if served is not None else "http://127.0.0.1:0"

    @property
    def server_pid(self) -> int | None:
        return self.server.process.pid if self.server and self.server.process else None

    @property
    def proxy_pid(self) -> int | None:
        return self.proxy.process.pid if self.proxy and self.proxy.process else None

    def start(self) -> Stack:
        """Start the server (and nginx) and wait until the app answers ready.

        Raises:
            StackError: a process exited or never answered.
        """
        # The runner's own apps (floor, noauth) are imported from benchmarks/ by the server.
        path = os.pathsep.join(p for p in (str(BENCH_DIR), os.environ.get("PYTHONPATH")) if p)
        self.server = Gunicorn(
            self.run_dir,
            env={**self.env, **self.target.env, "PYTHONPATH": path},
            workers=self.workers,
            bin_dir=self.target.bin_dir,
            app_uri=self.target.app_uri,
            ready_path=self.target.ready_path,
            log_name=f"server-{self.target.name}.log",
        )
        self.server.start(timeout=self.ready_timeout)
        if self.use_nginx:
            self._start_nginx(self.server)
        return self

    def _start_nginx(self, server: Gunicorn) -> None:
        # Every benchmark request comes from one address: the per-client limit is lifted.
        self.proxy = Nginx(
            self.run_dir / f"nginx-{self.target.name}",
            upstream=server.address,
            rate_limit="1000000r/s",
            rate_burst=1000000,
            workers=self.workers,
            binary=nginx_binary(),
        )
        self.proxy.start()
        assert self.proxy.process is not None
        wait_ready(
            http_ok(f"{self.proxy.url}{self.target.ready_path}"),
            process=self.proxy.process,
            log=self.proxy.logs / "main-error.log",
            timeout=15,
            what=f"{self.target.name} through nginx",
        )

    def stop(self) -> None:
        """Stop nginx gracefully, then gunicorn (SIGTERM: finish in-flight requests)."""
        if self.proxy is not None:
            self.proxy.stop(timeout=30)
        if self.server is not None:
            self.server.stop(timeout=30)

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
