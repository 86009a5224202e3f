"""Typed settings from the environment, ``.env`` and the secrets chain.

Every value has an operator-facing name, ``ACME_`` plus the field name in
upper case (``database_url`` is ``ACME_DATABASE_URL``). Values are looked up
through the chain that ``ACME_SECRETS`` describes (``env,dotenv:.env`` by
default), so the same setting may come from the environment, a dotenv file,
a mounted secret file or Google Secret Manager without code changes.

Components extend :class:`AcmeSettings` with their own fields; the API
combines them in one class and calls :func:`load_settings` once at startup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from acme.core._config_rules import (
    DEFAULT_DATABASE_URL,
    PLACEHOLDER_MARKERS,
    https_in_production,
    refuse_placeholder,
    set_in_production,
)
from acme.core.errors import DomainError, Invalid
from acme.core.logging import register_secret
from acme.core.secrets import (
    DEFAULT_SECRETS_SPEC,
    DotenvSecrets,
    SecretsService,
    SecretsUnavailable,
    build_secrets_chain,
)

__all__ = [
    "PLACEHOLDER_MARKERS",
    "AcmeSettings",
    "ConfigError",
    "SecretSetting",
    "env_name",
    "https_in_production",
    "load_settings",
]

ENV_PREFIX = "ACME_"


S = TypeVar("S", bound="AcmeSettings")


class ConfigError(DomainError):
    """The configuration cannot be used; ``problems`` maps each variable to why."""

    default_code = "invalid_configuration"
    title = "Invalid configuration"

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        lines = "\n".join(f"  {name}: {why}" for name, why in sorted(self.problems.items()))
        count = len(self.problems)
        super().__init__(f"invalid configuration ({count} problem{'s' * (count != 1)}):\n{lines}")


SecretSetting = Annotated[SecretStr, AfterValidator(refuse_placeholder)]
"""A secret field: hidden in reprs, redacted from logs, refused as a placeholder in production."""


def env_name(field_name: str) -> str:
    """The operator-facing variable for a settings field."""
    return f"{ENV_PREFIX}{field_name.upper()}"


class _ChainValues(Mapping[str, str | None]):
    """A lazy, memoised view of the chain keyed the way pydantic-settings asks (lower case)."""

    def __init__(self, chain: SecretsService) -> None:
        self._chain = chain
        self._seen: dict[str, str | None] = {}

    def __getitem__(self, key: str) -> str | None:
        if key not in self._seen:
            value = self._chain.get(key.upper())
            text = None if value is None else value.get_secret_value()
            self._seen[key] = text or None  # an empty variable counts as unset
        found = self._seen[key]
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(())  # the chain cannot be listed (least privilege on Secret Manager)

    def __len__(self) -> int:
        return 0


class _ChainSettingsSource(EnvSettingsSource):
    """pydantic-settings' env parsing, fed from the secrets chain instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], chain: SecretsService) -> None:
        self._chain = chain
        super().__init__(settings_cls, case_sensitive=False, env_prefix=ENV_PREFIX)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return _ChainValues(self._chain)

    def __repr__(self) -> str:
        return f"_ChainSettingsSource({self._chain.description!r})"


_active_chain: ContextVar[SecretsService | None] = ContextVar("acme_settings_chain", default=None)


class AcmeSettings(BaseSettings):
    """The settings every acme process shares (the operator-facing contract)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    env: Literal["development", "production"] = Field(
        "development", description="production refuses placeholder secrets and dev helpers"
    )
    database_url: Annotated[SecretSetting, AfterValidator(set_in_production)] = Field(
        SecretStr(DEFAULT_DATABASE_URL),
        description="SQLAlchemy async URL; required in production (the default is a dev file)",
    )
    amqp_url: SecretSetting | None = Field(None, description="RabbitMQ URL; unset: in-process bus")
    public_url: Annotated[str, AfterValidator(https_in_production)] = Field(
        "http://127.0.0.1:8000",
        description="the API's external base URL; https in production (loopback excepted)",
    )
    secrets: str = Field(DEFAULT_SECRETS_SPEC, description="the secrets chain")
    secrets_ttl: float = Field(300.0, ge=0, description="seconds a fetched secret is reused")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "text"] | None = Field(
        None, description="json in production, text in development unless set"
    )
    db_pool_size: int = Field(
        20, ge=1, description="PostgreSQL connections each process keeps open"
    )
    db_max_overflow: int = Field(
        0,
        ge=0,
        description=(
            "extra connections opened under bursts and closed again; 0 keeps the pool fixed "
            "(requests beyond it wait up to ACME_DB_POOL_TIMEOUT)"
        ),
    )
    db_pool_timeout: float = Field(
        10.0, gt=0, description="seconds to wait for a pooled connection"
    )
    db_statement_timeout_ms: int = Field(
        30_000,
        ge=0,
        description=(
            "PostgreSQL statement_timeout; 0 disables; not sent through PgBouncer "
            "(set it on the database role there)"
        ),
    )
    db_pgbouncer: bool = Field(
        False,
        description=(
            "ACME_DATABASE_URL is a PgBouncer in transaction mode: no prepared-statement "
            "caches and no statement_timeout startup parameter"
        ),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        chain = _active_chain.get() or build_secrets_chain(DEFAULT_SECRETS_SPEC)
        return init_settings, _ChainSettingsSource(settings_cls, chain)

    def secret_values(self) -> Iterator[str]:
        """Every secret value held, for log redaction."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                yield value.get_secret_value()


def _chain_spec(environ: Mapping[str, str], dotenv_path: str) -> str:
    spec = environ.get(env_name("secrets"))
    if spec:
        return spec
    from_file = DotenvSecrets(dotenv_path).get(env_name("secrets"))
    return from_file.get_secret_value() if from_file else DEFAULT_SECRETS_SPEC


def _field_env_name(fields: Mapping[str, FieldInfo], loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "settings"
    head = str(loc[0])
    return env_name(head) if head in fields else head


def load_settings(
    settings_cls: type[S],
    *,
    environ: Mapping[str, str] | None = None,
    secrets: SecretsService | None = None,
    **overrides: Any,
) -> S:
    """Load and validate settings once, or fail with every problem at once.

    Args:
        settings_cls: :class:`AcmeSettings` or a subclass.
        environ: The environment to read ``ACME_SECRETS`` and ``env`` values
            from (``os.environ`` by default).
        secrets: A ready chain; by default it is built from ``ACME_SECRETS``.
        overrides: Field values that win over every source (tests, CLI flags).

    Raises:
        ConfigError: listing each missing or invalid variable by name, or the
            secrets source that could not be reached.
    """
    env = os.environ if environ is None else environ
    if secrets is None:
        spec = _chain_spec(env, ".env")
        try:
            secrets = build_secrets_chain(spec, environ=env)
        except Invalid as exc:
            raise ConfigError({env_name("secrets"): exc.detail}) from None
        except SecretsUnavailable as exc:
            raise ConfigError({env_name("secrets"): exc.detail}) from None
        except ImportError as exc:
            raise ConfigError({env_name("secrets"): str(exc)}) from None
    token = _active_chain.set(secrets)
    try:
        settings = settings_cls(**overrides)
    except ValidationError as exc:
        fields = settings_cls.model_fields
        problems: dict[str, str] = {}
        for error in exc.errors(include_url=False, include_input=False):
            name = _field_env_name(fields, tuple(error["loc"]))
            reason = "missing" if error["type"] == "missing" else error["msg"]
            reason = reason.removeprefix("Value error, ")
            problems[name] = f"{problems[name]}; {reason}" if name in problems else reason
        raise ConfigError(problems) from None
    except SettingsError as exc:
        # pydantic-settings wraps a failing source; report the source, not the wrapper.
        cause = exc.__cause__
        if isinstance(cause, SecretsUnavailable):
            raise ConfigError(
                {env_name("secrets"): f"{secrets.description}: {cause.detail}"}
            ) from None
        raise ConfigError({"settings": str(exc)}) from None
    finally:
        _active_chain.reset(token)
    for value in settings.secret_values():
        register_secret(_sensitive_part(value))
    return settings


def _sensitive_part(value: str) -> str:
    """The password of a URL-shaped secret (its host and path are not secret), else all of it."""
    if "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            return value
        return password or ""
    return value
