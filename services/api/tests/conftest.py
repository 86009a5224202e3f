"""Fixtures for the API's tests: settings on a fresh database, the app and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from acme.core.config import load_settings
from acme.core.secrets import EnvironmentSecrets
from acme_api.main import create_app
from acme_api.settings import Settings


def make_settings(**values: Any) -> Settings:
    """Settings from explicit values only: no environment, no .env."""
    environ = {f"ACME_{key.upper()}": str(value) for key, value in values.items()}
    return load_settings(Settings, secrets=EnvironmentSecrets(environ))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
