"""An ordered chain of secrets sources, and its construction from ``ACME_SECRETS``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs

from pydantic import SecretStr

from acme.core.errors import Invalid

from ._port import SecretsService
from .cache import CachedSecrets
from .dotenv import DotenvSecrets
from .env import EnvironmentSecrets
from .files import MountedFileSecrets

__all__ = ["DEFAULT_SECRETS_SPEC", "SecretsChain", "build_secrets_chain"]

DEFAULT_SECRETS_SPEC = "env,dotenv:.env"


class SecretsChain:
    """Asks each source in turn; the first that holds a name wins."""

    def __init__(self, sources: Sequence[SecretsService]) -> None:
        self._sources = tuple(sources)

    @property
    def sources(self) -> tuple[SecretsService, ...]:
        return self._sources

    @property
    def description(self) -> str:
        return ",".join(source.description for source in self._sources)

    def get(self, name: str) -> SecretStr | None:
        for source in self._sources:
            value = source.get(name)
            if value is not None:
                return value
        return None

    def __repr__(self) -> str:
        return f"SecretsChain({self.description!r})"


def build_secrets_chain(
    spec: str = DEFAULT_SECRETS_SPEC,
    *,
    ttl: float = 300.0,
    environ: Mapping[str, str] | None = None,
) -> SecretsChain:
    """Build the chain described by an ``ACME_SECRETS`` value.

    The spec is a comma-separated list, tried in order:

    - ``env``: the process environment;
    - ``dotenv:PATH``: a dotenv file (``dotenv`` alone means ``.env``);
    - ``files:DIR``: one file per secret name (``/run/secrets`` style);
    - ``gcp:projects/PROJECT``: Google Secret Manager, the ``latest`` version of
      a secret named like the variable. Options after ``?``: ``timeout``
      (seconds per lookup, retries included; 10 by default) and
      ``endpoint=http://host:port``, which points the client at an emulator
      with anonymous credentials.

    Mounted files and Google Secret Manager are cached for ``ttl`` seconds and
    keep serving cached values when their provider goes away.

    Raises:
        Invalid: the spec names an unknown kind or lacks a required argument.
    """
    sources: list[SecretsService] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        kind, _, argument = entry.partition(":")
        kind = kind.strip().lower()
        if kind == "env":
            sources.append(EnvironmentSecrets(environ))
        elif kind == "dotenv":
            sources.append(DotenvSecrets(Path(argument or ".env")))
        elif kind == "files":
            if not argument:
                raise Invalid("ACME_SECRETS: 'files' needs a directory, e.g. files:/run/secrets")
            sources.append(CachedSecrets(MountedFileSecrets(argument), ttl=ttl))
        elif kind == "gcp":
            sources.append(CachedSecrets(_google_source(argument), ttl=ttl))
        else:
            raise Invalid(
                f"ACME_SECRETS: unknown source {kind!r} in {spec!r}; "
                "expected env, dotenv:PATH, files:DIR or gcp:projects/PROJECT"
            )
    if not sources:
        raise Invalid("ACME_SECRETS is empty; use e.g. 'env,dotenv:.env'")
    return SecretsChain(sources)


def _google_source(argument: str) -> SecretsService:
    project, _, query = argument.partition("?")
    if not project.startswith("projects/") or project == "projects/":
        raise Invalid("ACME_SECRETS: 'gcp' needs a project, e.g. gcp:projects/my-project")
    options = parse_qs(query, keep_blank_values=False, strict_parsing=False)
    endpoint = options.get("endpoint", [None])[0]
    try:
        timeout = float(options.get("timeout", ["10"])[0])
    except ValueError:
        raise Invalid("ACME_SECRETS: gcp 'timeout' must be a number of seconds") from None
    from .gcp import GoogleSecretManagerSecrets

    return GoogleSecretManagerSecrets(project=project, api_endpoint=endpoint, timeout=timeout)
