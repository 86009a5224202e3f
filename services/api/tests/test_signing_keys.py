"""Where the API's signing keys come from: inline JWKS, a secret's name, or the dev key file."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from acme.core.config import ConfigError
from acme.core.logging import configure_logging
from acme.core.security import KeySet
from acme_api.bootstrap import load_signing_keys

from .conftest import make_settings


def test_an_inline_jwks_is_used_and_its_private_parts_are_redacted() -> None:
    keys = KeySet.generate()
    loaded = load_signing_keys(make_settings(jwt_keys=json.dumps(keys.private_jwks())))
    assert loaded.signing_key.kid == keys.signing_key.kid
    secret = str(keys.signing_key.private_jwk["d"])
    stream = io.StringIO()
    handler = configure_logging(fmt="json", stream=stream)
    try:
        logging.getLogger("test.keys").warning("leaked %s", secret)
    finally:
        logging.getLogger().removeHandler(handler)
    assert "leaked ***" in stream.getvalue()
    assert secret not in stream.getvalue()


def test_a_secret_name_is_looked_up_in_the_secrets_chain(tmp_path: Path) -> None:
    keys = KeySet.generate("EdDSA")
    (tmp_path / "ACME_API_SIGNING_KEYS").write_text(json.dumps(keys.private_jwks()))
    settings = make_settings(secrets=f"files:{tmp_path}", jwt_keys="ACME_API_SIGNING_KEYS")
    assert load_signing_keys(settings).signing_key.kid == keys.signing_key.kid


def test_a_missing_secret_names_the_setting(tmp_path: Path) -> None:
    settings = make_settings(secrets=f"files:{tmp_path}", jwt_keys="ACME_NOWHERE")
    with pytest.raises(ConfigError) as caught:
        load_signing_keys(settings)
    assert "ACME_JWT_KEYS" in caught.value.problems
    assert "ACME_NOWHERE" in caught.value.problems["ACME_JWT_KEYS"]


def test_an_unusable_inline_jwks_is_a_startup_error_naming_the_setting() -> None:
    public_only = json.dumps(KeySet.generate().public_jwks())
    with pytest.raises(ConfigError) as caught:
        make_settings(jwt_keys=public_only)
    assert "no private part" in caught.value.problems["ACME_JWT_KEYS"]
    assert public_only not in str(caught.value)
