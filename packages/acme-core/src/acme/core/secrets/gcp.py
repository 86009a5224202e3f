"""Secrets from Google Secret Manager (``pip install 'acme-core[gcp]'``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ._port import SecretsUnavailable

if TYPE_CHECKING:
    from google.cloud.secretmanager import SecretManagerServiceClient

__all__ = ["GoogleSecretManagerSecrets"]

INSTALL_HINT = "pip install 'acme-core[gcp]'"
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _import_client() -> Any:
    try:
        from google.cloud import secretmanager
    except ImportError as exc:  # the optional extra is missing
        raise ImportError(
            f"Google Secret Manager support is not installed; run: {INSTALL_HINT}"
        ) from exc
    return secretmanager


class GoogleSecretManagerSecrets:
    """Reads ``<project>/secrets/<name>/versions/<version>``.

    Uses the official client over its REST transport (no gRPC channel to keep
    alive in every worker). Credentials come from Application Default
    Credentials unless ``api_endpoint`` points at an emulator, which is then
    called with anonymous credentials. Names that are not valid secret ids
    are simply absent. A missing secret is ``None``; any other failure is
    :class:`SecretsUnavailable` carrying the status, never the value.

    Args:
        project: ``projects/<id or number>``.
        version: The version alias or number to read, ``latest`` by default.
        api_endpoint: Override the endpoint (``http://127.0.0.1:8085``), for
            emulators and tests.
        timeout: Seconds for one lookup, retries included.
        client: A ready client, e.g. one built with special credentials.
    """

    def __init__(
        self,
        *,
        project: str,
        version: str = "latest",
        api_endpoint: str | None = None,
        timeout: float = 10.0,
        client: SecretManagerServiceClient | None = None,
    ) -> None:
        self._project = project.rstrip("/")
        self._version = version
        self._timeout = timeout
        self._endpoint = api_endpoint
        self._client = client if client is not None else self._make_client(api_endpoint)

    @staticmethod
    def _make_client(api_endpoint: str | None) -> SecretManagerServiceClient:
        secretmanager = _import_client()
        from google.api_core.client_options import ClientOptions

        kwargs: dict[str, Any] = {"transport": "rest"}
        if api_endpoint:
            from google.auth.credentials import AnonymousCredentials

            kwargs["client_options"] = ClientOptions(api_endpoint=api_endpoint)
            kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
        try:
            client: SecretManagerServiceClient = secretmanager.SecretManagerServiceClient(**kwargs)
        except Exception as exc:  # credentials discovery failed
            raise SecretsUnavailable(
                f"cannot create the Google Secret Manager client: {type(exc).__name__}: {exc}"
            ) from exc
        return client

    @property
    def description(self) -> str:
        return f"gcp:{self._project}"

    def get(self, name: str) -> SecretStr | None:
        if not _SECRET_ID.fullmatch(name):
            return None
        from google.api_core import exceptions as api_exceptions
        from google.api_core.retry import Retry, if_transient_error

        path = f"{self._project}/secrets/{name}/versions/{self._version}"
        try:
            response = self._client.access_secret_version(
                name=path,
                retry=Retry(
                    predicate=if_transient_error,
                    initial=0.1,
                    maximum=1.0,
                    timeout=self._timeout,
                ),
                timeout=self._timeout,
            )
        except api_exceptions.NotFound:
            return None
        except api_exceptions.GoogleAPICallError as exc:
            raise SecretsUnavailable(
                f"Google Secret Manager refused {path}: {exc.code} {type(exc).__name__}"
            ) from exc
        except Exception as exc:  # transport errors: refused connection, timeouts, auth
            raise SecretsUnavailable(
                f"Google Secret Manager unreachable for {path}: {type(exc).__name__}"
            ) from exc
        data: bytes = response.payload.data
        _verify_checksum(path, data, response.payload)
        return SecretStr(data.decode("utf-8"))

    def __repr__(self) -> str:
        return f"GoogleSecretManagerSecrets(project={self._project!r})"


def _verify_checksum(path: str, data: bytes, payload: Any) -> None:
    """Check the CRC32C Secret Manager sends, when google-crc32c is installed."""
    if "data_crc32c" not in payload:
        return
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - installed with the gcp extra
        return
    if int(google_crc32c.value(data)) != int(payload.data_crc32c):
        raise SecretsUnavailable(f"Google Secret Manager returned a corrupted payload for {path}")
