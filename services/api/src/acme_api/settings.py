"""The API's settings: the core contract plus what the HTTP edge needs."""

from __future__ import annotations

from pydantic import Field

from acme.core.config import AcmeSettings

__all__ = ["Settings"]


class Settings(AcmeSettings):
    """Everything the API reads at startup (``ACME_*``; see the README's table)."""

    host: str = Field("127.0.0.1", description="address the dev server binds")
    port: int = Field(8000, ge=1, le=65535, description="port the dev server binds")
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="largest accepted request body; larger gets 413"
    )
    migrate_on_start: bool | None = Field(
        None, description="apply migrations when `acme-api serve` starts; default: in development"
    )
    docs_enabled: bool = Field(True, description="serve /docs and /openapi.json")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return not self.is_production
