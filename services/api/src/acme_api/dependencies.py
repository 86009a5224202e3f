"""FastAPI dependency aliases: what route handlers may ask for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .bootstrap import Container
from .settings import Settings

__all__ = ["ContainerDep", "SettingsDep"]


def get_container(request: Request) -> Container:
    """The container the lifespan built for this app."""
    container: Container = request.app.state.container
    return container


def get_settings(container: Annotated[Container, Depends(get_container)]) -> Settings:
    return container.settings


ContainerDep = Annotated[Container, Depends(get_container)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
