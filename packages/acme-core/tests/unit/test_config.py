from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from acme.core.config import AcmeSettings, ConfigError, SecretSetting, load_settings
from acme.core.logging import REDACTED, configure_logging
from acme.core.secrets import EnvironmentSecrets


class AppSettings(AcmeSettings):
    """A settings class the way a service extends the core one."""

    api_key: SecretSetting
    workers: int = Field(2, ge=1)
    tags: list[str] = Field(default_factory=list)


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default chain reads ./.env: never the developer's own.
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("ACME_"):
            monkeypatch.delenv(name)


def test_defaults_follow_the_operator_contract() -> None:
    settings = load_settings(AcmeSettings, environ={})
    assert settings.env == "development"
    assert settings.database_url.get_secret_value() == "sqlite+aiosqlite:///./acme.db"
    assert settings.amqp_url is None
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.secrets == "env,dotenv:.env"


def test_values_come_from_env_with_the_acme_prefix() -> None:
    settings = load_settings(
        AppSettings,
        environ={"ACME_API_KEY": "k-123456", "ACME_WORKERS": "8", "ACME_TAGS": '["a","b"]'},
    )
    assert settings.api_key.get_secret_value() == "k-123456"
    assert settings.workers == 8
    assert settings.tags == ["a", "b"]


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ACME_API_KEY=from-dotenv\nACME_WORKERS=3\n")
    settings = load_settings(AppSettings, environ={"ACME_WORKERS": "5"})
    assert settings.api_key.get_secret_value() == "from-dotenv"
    assert settings.workers == 5  # the environment wins over .env


def test_acme_secrets_selects_the_chain(tmp_path: Path) -> None:
    mounted = tmp_path / "run-secrets"
    mounted.mkdir()
    (mounted / "ACME_API_KEY").write_text("from-mounted-file\n")
    settings = load_settings(AppSettings, environ={"ACME_SECRETS": f"env,files:{mounted}"})
    assert settings.api_key.get_secret_value() == "from-mounted-file"


def test_acme_secrets_may_come_from_dotenv(tmp_path: Path) -> None:
    mounted = tmp_path / "m"
    mounted.mkdir()
    (mounted / "acme_api_key").write_text("mounted")
    (tmp_path / ".env").write_text(f"ACME_SECRETS=env,files:{mounted}\n")
    settings = load_settings(AppSettings, environ={})
    assert settings.api_key.get_secret_value() == "mounted"


def test_one_error_names_every_missing_or_invalid_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            AppSettings,
            environ={"ACME_ENV": "prod", "ACME_WORKERS": "zero", "ACME_DB_POOL_SIZE": "0"},
        )
    error = caught.value
    assert set(error.problems) == {"ACME_API_KEY", "ACME_ENV", "ACME_WORKERS", "ACME_DB_POOL_SIZE"}
    assert error.problems["ACME_API_KEY"] == "missing"
    assert "invalid configuration (4 problems)" in error.detail
    for name in error.problems:
        assert name in error.detail


def test_empty_variables_count_as_unset() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(AppSettings, environ={"ACME_API_KEY": ""})
    assert caught.value.problems == {"ACME_API_KEY": "missing"}


@pytest.mark.parametrize(
    "placeholder", ["changeme", "CHANGE-ME-please", "<your key>", "secret", ""]
)
def test_production_refuses_placeholder_secrets(placeholder: str) -> None:
    environ = {"ACME_ENV": "production", "ACME_API_KEY": placeholder or " "}
    with pytest.raises(ConfigError) as caught:
        load_settings(AppSettings, environ=environ)
    assert "ACME_API_KEY" in caught.value.problems
    assert placeholder not in caught.value.detail or not placeholder


def test_production_refuses_placeholders_inside_urls() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            AppSettings,
            environ={
                "ACME_ENV": "production",
                "ACME_API_KEY": "a-real-key-9f8e7d",
                "ACME_DATABASE_URL": "postgresql+asyncpg://app:changeme@db/app",
            },
        )
    assert set(caught.value.problems) == {"ACME_DATABASE_URL"}


def test_development_accepts_placeholders() -> None:
    settings = load_settings(AppSettings, environ={"ACME_API_KEY": "changeme"})
    assert settings.api_key.get_secret_value() == "changeme"


def test_an_unreachable_secrets_source_is_a_config_error() -> None:
    class Down:
        description = "down"

        def get(self, name: str) -> SecretStr | None:
            from acme.core.secrets import SecretsUnavailable

            raise SecretsUnavailable("connection refused")

    with pytest.raises(ConfigError) as caught:
        load_settings(AppSettings, secrets=Down())
    assert "ACME_SECRETS" in caught.value.problems
    assert "connection refused" in caught.value.detail


def test_a_bad_chain_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(AppSettings, environ={"ACME_SECRETS": "env,vault:x"})
    assert caught.value.problems["ACME_SECRETS"].startswith("ACME_SECRETS: unknown source")


def test_loaded_secrets_are_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(
        AppSettings,
        secrets=EnvironmentSecrets(
            {
                "ACME_API_KEY": "k-very-secret-1",
                "ACME_DATABASE_URL": "postgresql+asyncpg://app:db-pass-77@db.internal/app",
            }
        ),
    )
    import io

    stream = io.StringIO()
    handler = configure_logging(fmt="json", stream=stream)
    try:
        log = logging.getLogger("test.config")
        log.warning("key=%s url=%s", settings.api_key.get_secret_value(), "db-pass-77")
    finally:
        logging.getLogger().removeHandler(handler)
    output = stream.getvalue()
    assert "k-very-secret-1" not in output
    assert "db-pass-77" not in output
    assert output.count(REDACTED) == 2
    assert "SecretStr('**********')" in repr(settings)
