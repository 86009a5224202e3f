"""The API's settings: the core contract, the components' settings and what the HTTP edge needs."""

from __future__ import annotations

from pydantic import Field

from acme.accounts.settings import AccountsSettings

__all__ = ["Settings"]


class Settings(AccountsSettings):
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
    cookie_secure: bool | None = Field(
        None,
        description=(
            "session cookies are Secure and __Host- prefixed; default: on in production "
            "or when ACME_PUBLIC_URL is https"
        ),
    )
    amqp_exchange: str = Field(
        "acme.events", min_length=1, max_length=200, description="the RabbitMQ topic exchange"
    )
    amqp_prefetch: int = Field(
        8, ge=1, le=1000, description="unacked deliveries per consumer (below the pool size)"
    )
    amqp_max_attempts: int = Field(
        5, ge=1, le=100, description="handler attempts before a message is dead-lettered"
    )
    relay_in_api: bool = Field(
        True, description="run the outbox relay in each API process (off: `acme-api relay` only)"
    )
    relay_interval: float = Field(
        1.0, gt=0, le=60, description="seconds between outbox polls when idle"
    )
    metrics_enabled: bool = Field(
        True, description="serve Prometheus metrics at /metrics (keep it off the public edge)"
    )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return not self.is_production

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.is_production or self.public_url.startswith("https://")
