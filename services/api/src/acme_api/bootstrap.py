"""The composition root: the only place that builds concrete adapters.

:func:`build` turns settings into a :class:`Container` at startup (the app's
lifespan or a CLI command); :meth:`Container.aclose` releases everything at
shutdown. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from acme.accounts import interface as accounts
from acme.accounts import item_counts
from acme.accounts.dependencies import AccountsDependencies
from acme.accounts.dependencies import setup as setup_accounts
from acme.accounts.models import Account
from acme.core.config import ConfigError
from acme.core.errors import Invalid
from acme.core.logging import register_secret
from acme.core.messaging import MessageBus
from acme.core.messaging.memory import InProcessBus
from acme.core.messaging.publisher import OutboxPublisher
from acme.core.messaging.relay import OutboxRelay
from acme.core.persistence import CursorSigner
from acme.core.persistence.database import Database
from acme.core.secrets import build_secrets_chain
from acme.core.security import KeySet
from acme.core.security.keyfile import load_or_create_key_file
from acme.core.security.oidc import PROFILES, OpenIDProvider, UnconfiguredProvider
from acme.core.security.oidc.client import OidcClient
from acme.items.dependencies import ItemsDependencies
from acme.items.dependencies import setup as setup_items

from .cookies import CookieNames
from .pipeline_metrics import PipelineMetrics, metered
from .settings import Settings
from .tracing import Tracing

__all__ = ["DEV_KEY_FILE", "Container", "build", "build_bus", "build_database", "load_signing_keys"]

logger = logging.getLogger(__name__)

DEV_KEY_FILE = Path(".acme") / "jwt-keys.json"
"""Where development keeps its generated signing key (relative to the working directory)."""

Authenticator = Callable[[str], Awaitable[Account]]
"""Turns an access token into the signed-in account (raising what ``authenticate`` raises)."""


@dataclass
class Container:
    """The adapters one process uses, built once from settings.

    ``authenticator`` is what the current-account dependency calls:
    ``acme.accounts.interface.authenticate`` on this container's accounts
    dependencies, unless ``create_app(authenticator=...)`` puts another in.
    """

    settings: Settings
    database: Database
    keys: KeySet
    http: httpx.AsyncClient
    provider: OpenIDProvider
    accounts: AccountsDependencies
    bus: MessageBus
    relay: OutboxRelay
    items: ItemsDependencies
    draining: bool = field(default=False)
    tracing: Tracing | None = None
    pipeline: PipelineMetrics | None = None
    authenticator: Authenticator = field(init=False)

    def __post_init__(self) -> None:
        self.authenticator = partial(accounts.authenticate, self.accounts)

    @property
    def cookie_names(self) -> CookieNames:
        """The session cookies' names for these settings."""
        return CookieNames.of(self.settings)

    @property
    def broker_configured(self) -> bool:
        """Whether messages go through RabbitMQ (else the in-process bus)."""
        return self.settings.amqp_url is not None

    async def issue_access_token(self, account: str) -> str:
        """An access token for the local account ``account`` (created when missing).

        For tests and development (benchmarks use ``acme-api token issue``);
        refused when ``ACME_ENV=production``.
        """
        issued, _ = await accounts.issue_local_token(self.accounts, account)
        return issued.token

    async def aclose(self) -> None:
        """Stop the relay and the bus, close the HTTP client and the database, flush the spans."""
        try:
            if self.pipeline is not None:
                await self.pipeline.stop()
            await self.relay.stop()
            await self.bus.close()
        finally:
            await self.http.aclose()
            await self.database.dispose()
            if self.tracing is not None:
                self.tracing.shutdown()


def build_database(settings: Settings) -> Database:
    """The database adapter described by the settings."""
    return Database.from_settings(settings, application_name="acme-api")


def load_signing_keys(settings: Settings) -> KeySet:
    """The API's signing keys: ``ACME_JWT_KEYS`` (inline or a secret's name), else the dev file.

    Every private part is registered for log redaction.

    Raises:
        ConfigError: naming ``ACME_JWT_KEYS`` when the keys are missing or unusable.
    """
    keys = _signing_keys(settings)
    for key in keys.keys:
        for member in ("d", "p", "q", "dp", "dq", "qi"):
            if isinstance(key.private_jwk.get(member), str):
                register_secret(str(key.private_jwk[member]))
    return keys


def _signing_keys(settings: Settings) -> KeySet:
    configured = settings.jwt_keys
    if configured is None:
        if settings.env == "production":
            raise ConfigError({"ACME_JWT_KEYS": "required when ACME_ENV=production"})
        try:
            return load_or_create_key_file(DEV_KEY_FILE, algorithm=settings.jwt_algorithm)
        except Invalid as exc:
            raise ConfigError({"ACME_JWT_KEYS": f"{DEV_KEY_FILE}: {exc.detail}"}) from None
    text = configured.get_secret_value().strip()
    if not text.startswith("{"):
        chain = build_secrets_chain(settings.secrets)
        found = chain.get(text)
        if found is None:
            raise ConfigError({"ACME_JWT_KEYS": f"no secret named {text!r} in {chain.description}"})
        text = found.get_secret_value()
    try:
        return KeySet.from_jwks(text)
    except Invalid as exc:
        raise ConfigError({"ACME_JWT_KEYS": exc.detail}) from None


def build_provider(settings: Settings, http: httpx.AsyncClient) -> OpenIDProvider:
    """The OpenID provider client, or a stand-in refusing sign-ins when none is configured."""
    missing = tuple(
        name
        for name, value in (
            ("ACME_OIDC_CLIENT_ID", settings.oidc_client_id),
            ("ACME_OIDC_CLIENT_SECRET", settings.oidc_client_secret),
        )
        if not value
    )
    if missing or settings.oidc_client_id is None or settings.oidc_client_secret is None:
        logger.warning("sign-in is not configured: %s unset", ", ".join(missing))
        return UnconfiguredProvider(settings.oidc_issuer, missing)
    return OidcClient(
        http,
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        redirect_uri=settings.oidc_redirect_uri,
        scopes=settings.oidc_scopes.split(),
        profile=PROFILES[settings.oidc_profile],
        token_auth=settings.oidc_token_auth,
        jwks_refetch_interval=settings.oidc_jwks_refetch_interval,
        timeout=settings.oidc_timeout,
    )


def build_bus(settings: Settings) -> MessageBus:
    """RabbitMQ when ``ACME_AMQP_URL`` is set, else the in-process bus."""
    if settings.amqp_url is None:
        return InProcessBus(max_attempts=settings.amqp_max_attempts)
    from acme.core.messaging.rabbitmq import RabbitMQBus

    return RabbitMQBus(
        settings.amqp_url.get_secret_value(),
        exchange=settings.amqp_exchange,
        prefetch=settings.amqp_prefetch,
        max_attempts=settings.amqp_max_attempts,
    )


def subscribe_consumers(bus: MessageBus, database: Database) -> None:
    """Every component's event consumers, on this process's bus."""
    item_counts.subscribe(bus, database.unit_of_work)


async def build(
    settings: Settings,
    *,
    consume: bool = True,
    tracing: Tracing | None = None,
    pipeline: PipelineMetrics | None = None,
    authenticator: Authenticator | None = None,
) -> Container:
    """Build every adapter the API needs and start the message bus.

    The outbox relay is built but not started: the app's lifespan starts it
    (``ACME_RELAY_IN_API``), and so does ``acme-api relay``.

    Args:
        settings: The process's settings.
        consume: Subscribe the components' consumers (off for ``acme-api relay``, and
            in the API processes with ``ACME_CONSUMERS_IN_API=false``, where
            ``acme-api consume`` runs them). Off needs RabbitMQ: on the in-process
            bus nobody else could handle this process's events.
        tracing: Started on the database and the outbox hop, shut down by
            :meth:`Container.aclose` (:mod:`acme_api.tracing`).
        pipeline: The event pipeline's metrics: the relay and the consumers
            see the bus through them, and their sampler runs until
            :meth:`Container.aclose` (:mod:`acme_api.pipeline_metrics`).
        authenticator: Replaces the container's authenticator (see :class:`Container`).

    Raises:
        ConfigError: the signing keys are missing or unusable.
        Unavailable: RabbitMQ is configured but cannot be reached.
    """
    if not consume and settings.amqp_url is None:
        raise ConfigError(
            {
                "ACME_CONSUMERS_IN_API": "false needs ACME_AMQP_URL: without a broker the "
                "events of each API process are handled in that process"
            }
        )
    keys = load_signing_keys(settings)
    database = build_database(settings)
    logger.info("database configured: %r", database)
    if tracing is not None:
        tracing.start(database)
    bus = build_bus(settings)
    # The relay and the consumers publish and handle through the metrics, if any.
    metered_bus = None if pipeline is None else metered(bus, pipeline)
    through: MessageBus = bus if metered_bus is None else metered_bus
    if consume:
        subscribe_consumers(through, database)
    try:
        await bus.start()
    except BaseException:
        await database.dispose()
        if tracing is not None:
            tracing.shutdown()
        raise
    logger.info("message bus started: %r", bus)
    # On PostgreSQL the relay also wakes on other processes' commits (LISTEN/NOTIFY);
    # not through PgBouncer, whose transaction mode LISTEN does not pass.
    direct = database.is_postgresql and not settings.db_pgbouncer
    listen_url = settings.database_url.get_secret_value() if direct else None
    relay = OutboxRelay(
        database.unit_of_work, through, interval=settings.relay_interval, listen_url=listen_url
    )
    if pipeline is not None and metered_bus is not None:
        pipeline.start(database, metered_bus)
    events = OutboxPublisher(after_commit=relay.wake_after_commit)
    http = httpx.AsyncClient(
        timeout=settings.oidc_timeout,
        follow_redirects=False,
        headers={"User-Agent": "acme-api"},
    )
    provider = build_provider(settings, http)
    container = Container(
        settings=settings,
        database=database,
        keys=keys,
        http=http,
        provider=provider,
        accounts=setup_accounts(
            settings,
            unit_of_work=database.unit_of_work,
            events=events,
            keys=keys,
            provider=provider,
            reader=database.reader,
        ),
        bus=bus,
        relay=relay,
        tracing=tracing,
        pipeline=pipeline,
        items=setup_items(
            unit_of_work=database.unit_of_work,
            events=events,
            reader=database.reader,
            # Every worker and pod shares the signing keys, so a cursor made by
            # one is accepted by all; it rotates with them.
            cursors=CursorSigner(keys.derived_secrets("items page cursors")),
        ),
    )
    if authenticator is not None:
        container.authenticator = authenticator
    return container
