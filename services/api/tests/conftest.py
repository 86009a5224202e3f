"""Fixtures for the API's tests: settings on a fresh database, the app and a client."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from acme.core.config import load_settings
from acme.core.migrations import Migrator
from acme.core.secrets import EnvironmentSecrets
from acme.core.security import KeySet
from acme.core.testing import free_port, wait_until
from acme.core.testing.processes import stop_process_group
from acme_api.cli import main
from acme_api.main import create_app
from acme_api.settings import Settings


@cache
def test_jwks() -> str:
    """One private JWKS for the whole run (no development key file in the working directory)."""
    return json.dumps(KeySet.generate().private_jwks())


def make_settings(**values: Any) -> Settings:
    """Settings from explicit values only: no environment, no .env."""
    values.setdefault("jwt_keys", test_jwks())
    environ = {f"ACME_{key.upper()}": str(value) for key, value in values.items()}
    return load_settings(Settings, secrets=EnvironmentSecrets(environ))


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The API for ``settings``, its lifespan entered (adapters built) and left."""
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def client_of(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of ``app`` in this process (unhandled errors become 500s, as served)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http


@dataclass
class Served:
    """``acme-api serve`` in a subprocess: where it answers, and all it printed once stopped."""

    base: str
    process: subprocess.Popen[str]
    output: str = ""


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


@contextmanager
def serving(*, port: int, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``acme-api serve --port`` as a person runs it, with no ``ACME_*`` but ``env``.

    Yields once the server answers (or has exited: the test's first request says why);
    stops it with Ctrl-C (SIGINT) and keeps its output in ``Served.output``.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "acme_api", "serve", "--port", str(port)],
        cwd=cwd,
        env=clean | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}", process)
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(f"{served.base}/health/live"),
            timeout=60,
            what=f"acme-api serve on port {port}",
            interval=0.2,
        )
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        served.output, _ = process.communicate(timeout=30)


@contextmanager
def gunicorn_serving(*, cwd: Path, env: dict[str, str], workers: int = 2) -> Iterator[str]:
    """The production server, gunicorn with ``acme_api.gunicorn_conf``, on a free port.

    Only ``env`` and the interpreter's directory on ``PATH`` reach it; its
    output goes to ``cwd/gunicorn.log``. Yields its base URL once it answers;
    stops its whole process group (master and workers) afterwards.
    """
    port = free_port()
    path = str(Path(sys.executable).parent) + os.pathsep + "/usr/bin:/bin"
    settings = {"ACME_GUNICORN_BIND": f"127.0.0.1:{port}", "ACME_GUNICORN_WORKERS": str(workers)}
    log_path = cwd / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:acme_api.gunicorn_conf"],
            cwd=cwd,
            env={"PATH": path, **env, **settings},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(
                lambda: process.poll() is not None or _answers(f"{base}/health/live"),
                timeout=60,
                what="gunicorn serving the API",
            )
            assert process.poll() is None, log_path.read_text()
            yield base
        finally:
            stop_process_group(process, timeout=30)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app, "http://testserver") as http:
        yield http


@pytest.fixture
def migrated_settings(settings: Settings) -> Settings:
    """The default settings, on a database with every migration applied."""
    Migrator(settings.database_url.get_secret_value()).upgrade()
    return settings


@pytest.fixture
async def accounts_app(migrated_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(migrated_settings) as application:
        yield application


@pytest.fixture
async def api(accounts_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a migrated app; https so that Secure cookies would be sent too."""
    async with client_of(accounts_app, "https://testserver") as http:
        yield http


@dataclass(frozen=True)
class Result:
    """What one ``acme-api`` command returned and printed."""

    returncode: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """``run("migrate", "--check", cwd=..., env=...)``: the ``acme-api`` command, in-process.

    Each call gets a clean ``ACME_*`` environment (plus ``env``) and ``cwd`` as
    its working directory, as a fresh process would; the logging setup the
    command makes is undone after the test.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def call(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
        for name in [n for n in os.environ if n.startswith("ACME_")]:
            monkeypatch.delenv(name)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            status = main(list(args))
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        printed = capsys.readouterr()
        return Result(status, printed.out, printed.err)

    yield call
    root.handlers[:] = handlers
    root.setLevel(level)
