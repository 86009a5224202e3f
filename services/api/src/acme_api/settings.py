"""The API's settings: the core contract, the components' settings and what the HTTP edge needs."""

from __future__ import annotations

from urllib.parse import urlsplit

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
    docs_enabled: bool | None = Field(
        None,
        description=(
            "serve /docs and /openapi.json (Swagger UI's files from the API itself); "
            "default: on in development, off in production"
        ),
    )
    allowed_hosts: str = Field(
        "",
        max_length=2000,
        description=(
            "comma-separated Host names production answers besides ACME_PUBLIC_URL's "
            "(others get 400; the health endpoints answer any)"
        ),
    )
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
    consumers_in_api: bool = Field(
        True,
        description=(
            "run the components' event consumers in each API process (off: "
            "`acme-api consume` only; needs ACME_AMQP_URL)"
        ),
    )
    relay_interval: float = Field(
        1.0, gt=0, le=60, description="seconds between outbox polls when idle"
    )
    metrics_enabled: bool = Field(True, description="collect Prometheus metrics")
    metrics_bind: str | None = Field(
        None,
        pattern=r"^[^\s]*:[0-9]{1,5}$",
        description=(
            "HOST:PORT of a listener of its own for GET /metrics; unset: /metrics on the "
            "API's listener in development, not served in production"
        ),
    )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def serves_docs(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else not self.is_production

    @property
    def metrics_on_api_listener(self) -> bool:
        """Development without a metrics listener: /metrics beside the API's routes."""
        return self.metrics_enabled and self.metrics_bind is None and not self.is_production

    @property
    def accepted_hosts(self) -> frozenset[str] | None:
        """The Host names production answers (``None``: any, in development)."""
        if not self.is_production:
            return None
        names = {urlsplit(self.public_url).hostname or ""}
        names.update(name.strip().lower() for name in self.allowed_hosts.split(","))
        return frozenset(name for name in names if name)

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
