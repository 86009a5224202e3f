from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from acme.core.errors import Invalid
from acme.core.secrets import (
    CachedSecrets,
    DotenvSecrets,
    EnvironmentSecrets,
    MountedFileSecrets,
    SecretsChain,
    SecretsUnavailable,
    build_secrets_chain,
)


class FlakySource:
    """A secrets source we can switch off, counting lookups."""

    description = "flaky"

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.up = True
        self.calls = 0

    def get(self, name: str) -> SecretStr | None:
        self.calls += 1
        if not self.up:
            raise SecretsUnavailable("flaky source is down")
        value = self.values.get(name)
        return None if value is None else SecretStr(value)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reveal(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def test_environment_reads_the_given_mapping() -> None:
    source = EnvironmentSecrets({"ACME_X": "from-env"})
    assert reveal(source.get("ACME_X")) == "from-env"
    assert source.get("ACME_Y") is None


def test_dotenv_parses_quotes_comments_and_export(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        '# comment\nexport ACME_A="quoted value"\nACME_B=plain # trailing\nACME_C=${ACME_A}\n'
    )
    source = DotenvSecrets(path)
    assert reveal(source.get("ACME_A")) == "quoted value"
    assert reveal(source.get("ACME_B")) == "plain"
    assert reveal(source.get("ACME_C")) == "${ACME_A}"  # no interpolation
    assert DotenvSecrets(tmp_path / "missing.env").get("ACME_A") is None


def test_mounted_files_strip_one_newline_and_accept_lower_case(tmp_path: Path) -> None:
    (tmp_path / "ACME_DATABASE_URL").write_text("postgresql://x\n\n")
    (tmp_path / "acme_other").write_text("lower")
    source = MountedFileSecrets(tmp_path)
    assert reveal(source.get("ACME_DATABASE_URL")) == "postgresql://x\n"
    assert reveal(source.get("ACME_OTHER")) == "lower"
    assert source.get("ACME_NONE") is None


def test_mounted_files_refuse_path_tricks(tmp_path: Path) -> None:
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    (tmp_path / "outside").write_text("must not be read")
    source = MountedFileSecrets(secret_dir)
    assert source.get("../outside") is None
    assert source.get("..") is None


def test_mounted_file_unreadable_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "ACME_X").symlink_to(tmp_path / "ACME_X")  # a loop: reading fails with ELOOP
    with pytest.raises(SecretsUnavailable, match="cannot read secret file"):
        MountedFileSecrets(tmp_path).get("ACME_X")


def test_chain_first_source_wins() -> None:
    chain = SecretsChain(
        [EnvironmentSecrets({"ACME_A": "env"}), EnvironmentSecrets({"ACME_A": "x", "ACME_B": "b"})]
    )
    assert reveal(chain.get("ACME_A")) == "env"
    assert reveal(chain.get("ACME_B")) == "b"
    assert chain.get("ACME_C") is None


def test_cache_serves_within_ttl_and_refetches_after() -> None:
    source, clock = FlakySource({"ACME_A": "one"}), Clock()
    cache = CachedSecrets(source, ttl=60, clock=clock)
    assert reveal(cache.get("ACME_A")) == "one"
    source.values["ACME_A"] = "two"
    clock.now += 59
    assert reveal(cache.get("ACME_A")) == "one"
    assert source.calls == 1
    clock.now += 2
    assert reveal(cache.get("ACME_A")) == "two"
    assert source.calls == 2


def test_cache_caches_misses_too() -> None:
    source, clock = FlakySource({}), Clock()
    cache = CachedSecrets(source, ttl=60, clock=clock)
    assert cache.get("ACME_A") is None
    assert cache.get("ACME_A") is None
    assert source.calls == 1


def test_cache_keeps_serving_stale_values_when_the_source_goes_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source, clock = FlakySource({"ACME_A": "cached-value"}), Clock()
    cache = CachedSecrets(source, ttl=10, clock=clock)
    assert reveal(cache.get("ACME_A")) == "cached-value"
    source.up = False
    clock.now += 3600
    assert reveal(cache.get("ACME_A")) == "cached-value"
    assert "unavailable; serving the cached ACME_A" in caplog.text
    assert "cached-value" not in caplog.text


def test_cache_fails_fast_with_nothing_cached() -> None:
    source = FlakySource({"ACME_A": "x"})
    source.up = False
    with pytest.raises(SecretsUnavailable):
        CachedSecrets(source).get("ACME_A")


def test_values_never_show_in_reprs(tmp_path: Path) -> None:
    (tmp_path / "ACME_KEY").write_text("s3cr3t-value")
    chain = build_secrets_chain(f"env,files:{tmp_path}", environ={"ACME_TOKEN": "t0ken-value"})
    token, key = chain.get("ACME_TOKEN"), chain.get("ACME_KEY")
    for text in (repr(chain), str(token), repr(token), repr(key), f"{key}", chain.description):
        assert "t0ken-value" not in text
        assert "s3cr3t-value" not in text


def test_chain_spec_builds_sources_in_order(tmp_path: Path) -> None:
    dotenv = tmp_path / "x.env"
    dotenv.write_text("ACME_A=from-dotenv\nACME_B=from-dotenv\n")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "ACME_C").write_text("from-file")
    chain = build_secrets_chain(
        f"env, dotenv:{dotenv} ,files:{tmp_path / 'files'}", environ={"ACME_A": "from-env"}
    )
    assert chain.description == f"env,dotenv:{dotenv},files:{tmp_path / 'files'}"
    assert reveal(chain.get("ACME_A")) == "from-env"
    assert reveal(chain.get("ACME_B")) == "from-dotenv"
    assert reveal(chain.get("ACME_C")) == "from-file"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("vault:x", "unknown source 'vault'"),
        ("files", "'files' needs a directory"),
        ("gcp:my-project", "'gcp' needs a project"),
        (" , ", "ACME_SECRETS is empty"),
    ],
)
def test_chain_spec_errors_are_precise(spec: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        build_secrets_chain(spec)
