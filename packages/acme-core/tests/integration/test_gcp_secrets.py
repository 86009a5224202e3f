"""Google Secret Manager through the real client (REST transport) against a loopback endpoint.

The endpoint answers ``GET /v1/projects/*/secrets/*/versions/*:access`` the way
Secret Manager documents it: base64 payload plus its CRC32C, and a JSON error
body with the gRPC status name on failures.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import google_crc32c
import pytest

from acme.core.config import AcmeSettings, ConfigError, SecretSetting, load_settings
from acme.core.secrets import SecretsUnavailable, build_secrets_chain
from acme.core.secrets.gcp import GoogleSecretManagerSecrets

PROJECT = "projects/acme-test"


class SecretManagerStandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.secrets: dict[str, str] = {}
        self.requests: list[str] = []
        self.corrupt = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: SecretManagerStandIn

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests assert on requests, not on stderr."""

    def _reply(self, status: int, document: dict[str, object]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path  # the client adds ?$alt=json;enum-encoding=int
        self.server.requests.append(path)
        prefix, suffix = f"/v1/{PROJECT}/secrets/", "/versions/latest:access"
        if not (path.startswith(prefix) and path.endswith(suffix)):
            self._reply(
                400, {"error": {"code": 400, "message": "bad path", "status": "INVALID_ARGUMENT"}}
            )
            return
        name = path[len(prefix) : -len(suffix)]
        if name not in self.server.secrets:
            self._reply(
                404,
                {
                    "error": {
                        "code": 404,
                        "message": f"Secret [{name}] not found",
                        "status": "NOT_FOUND",
                    }
                },
            )
            return
        data = self.server.secrets[name].encode()
        checksum = google_crc32c.value(data) + (1 if self.server.corrupt else 0)
        self._reply(
            200,
            {
                "name": f"{PROJECT}/secrets/{name}/versions/1",
                "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(checksum)},
            },
        )


@pytest.fixture
def secret_manager() -> Iterator[SecretManagerStandIn]:
    server = SecretManagerStandIn()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class GcpSettings(AcmeSettings):
    api_key: SecretSetting


def test_reads_the_latest_version_through_the_real_client(
    secret_manager: SecretManagerStandIn,
) -> None:
    secret_manager.secrets["ACME_API_KEY"] = "from-secret-manager"
    source = GoogleSecretManagerSecrets(project=PROJECT, api_endpoint=secret_manager.endpoint)
    value = source.get("ACME_API_KEY")
    assert value is not None
    assert value.get_secret_value() == "from-secret-manager"
    assert secret_manager.requests == [f"/v1/{PROJECT}/secrets/ACME_API_KEY/versions/latest:access"]
    assert source.get("ACME_MISSING") is None
    assert "from-secret-manager" not in repr(source)


def test_invalid_secret_ids_are_not_requested(secret_manager: SecretManagerStandIn) -> None:
    source = GoogleSecretManagerSecrets(project=PROJECT, api_endpoint=secret_manager.endpoint)
    assert source.get("../../other/secret") is None
    assert secret_manager.requests == []


def test_a_corrupted_payload_is_refused(secret_manager: SecretManagerStandIn) -> None:
    secret_manager.secrets["ACME_API_KEY"] = "x" * 20
    secret_manager.corrupt = True
    source = GoogleSecretManagerSecrets(project=PROJECT, api_endpoint=secret_manager.endpoint)
    with pytest.raises(SecretsUnavailable, match="corrupted payload"):
        source.get("ACME_API_KEY")


def test_settings_load_through_the_chain(
    secret_manager: SecretManagerStandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    secret_manager.secrets["ACME_API_KEY"] = "gcp-value"
    secret_manager.secrets["ACME_LOG_LEVEL"] = "WARNING"
    spec = f"env,gcp:{PROJECT}?endpoint={secret_manager.endpoint}"
    settings = load_settings(GcpSettings, environ={"ACME_SECRETS": spec, "ACME_LOG_LEVEL": "ERROR"})
    assert settings.api_key.get_secret_value() == "gcp-value"
    assert settings.log_level == "ERROR"  # env comes first in the chain


def test_provider_down_at_startup_fails_fast_and_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    closed = SecretManagerStandIn()
    endpoint = closed.endpoint
    closed.server_close()  # nothing listens there any more
    spec = f"gcp:{PROJECT}?endpoint={endpoint}&timeout=1"
    with pytest.raises(ConfigError) as caught:
        load_settings(GcpSettings, environ={"ACME_SECRETS": spec})
    problem = caught.value.problems["ACME_SECRETS"]
    assert problem.startswith(f"gcp:{PROJECT}: Google Secret Manager unreachable")


def test_provider_down_later_keeps_serving_cached_values(
    secret_manager: SecretManagerStandIn,
) -> None:
    secret_manager.secrets["ACME_API_KEY"] = "cached-before-outage"
    chain = build_secrets_chain(
        f"gcp:{PROJECT}?endpoint={secret_manager.endpoint}&timeout=1", ttl=0
    )
    first = chain.get("ACME_API_KEY")
    assert first is not None
    secret_manager.shutdown()
    secret_manager.server_close()
    again = chain.get("ACME_API_KEY")  # ttl=0: the source is asked, fails, the cache answers
    assert again is not None
    assert again.get_secret_value() == "cached-before-outage"


def test_missing_extra_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import google.cloud

    # As if the extra were not installed: the module cannot be imported.
    monkeypatch.delattr(google.cloud, "secretmanager", raising=False)
    monkeypatch.setitem(sys.modules, "google.cloud.secretmanager", None)
    with pytest.raises(ImportError, match=r"pip install 'acme-core\[gcp\]'"):
        GoogleSecretManagerSecrets(project=PROJECT)
