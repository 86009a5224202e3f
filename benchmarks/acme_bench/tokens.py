"""Real access tokens for the benchmark accounts, made before the run.

``acme-api token issue --account NAME`` (the version under test's own CLI)
creates the local account when there is none and prints an access token
signed with the same keys the production-mode server verifies with. Users
read these tokens in ``on_start``; nothing bypasses authentication.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["TokenError", "account_name", "generate_keys", "issue_tokens", "token_subject"]

ACCOUNT_PREFIX = "bench-"
MAX_TTL = 3600  # the longest lifetime the API accepts, so tokens outlive any run


class TokenError(RuntimeError):
    """Keys or tokens could not be made; the message has the CLI's own words."""


def account_name(index: int) -> str:
    return f"{ACCOUNT_PREFIX}{index}"


def generate_keys(bin_dir: Path) -> str:
    """A fresh private JWKS from ``acme-api keys generate``.

    Raises:
        TokenError: the command failed.
    """
    completed = subprocess.run(
        [str(bin_dir / "acme-api"), "keys", "generate"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("ACME_")},
    )
    if completed.returncode != 0:
        raise TokenError(f"acme-api keys generate failed: {completed.stderr.strip()}")
    return completed.stdout.strip()


def _issue(bin_dir: Path, env: Mapping[str, str], index: int) -> str:
    completed = subprocess.run(
        [str(bin_dir / "acme-api"), "token", "issue", "--account", account_name(index)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    token = completed.stdout.strip()
    if completed.returncode != 0 or not token or any(c.isspace() for c in token):
        raise TokenError(
            f"acme-api token issue --account {account_name(index)} failed "
            f"({completed.returncode}): {completed.stderr.strip()[-2000:]}"
        )
    return token


def issue_tokens(bin_dir: Path, env: Mapping[str, str], *, accounts: int, out: Path) -> list[str]:
    """Issue one token per benchmark account (creating the accounts); write them to ``out``.

    ``env`` is the server's environment: the same database and keys. The
    CLI runs in development mode (it refuses production) with the longest
    token lifetime the API allows.

    Raises:
        TokenError: a token could not be issued.
    """
    cli_env = {
        **env,
        "ACME_ENV": "development",
        "ACME_MIGRATE_ON_START": "false",
        "ACME_ACCESS_TOKEN_TTL": str(MAX_TTL),
        "ACME_LOG_LEVEL": "WARNING",
    }
    with ThreadPoolExecutor(max_workers=min(4, accounts)) as pool:
        tokens = list(pool.map(lambda i: _issue(bin_dir, cli_env, i), range(accounts)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(tokens) + "\n", encoding="ascii")
    return tokens


def token_subject(token: str) -> uuid.UUID:
    """The account id (``sub``) an access token names. Reads, does not verify.

    Raises:
        TokenError: the token is not a JWT whose subject is a UUID.
    """
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return uuid.UUID(str(claims["sub"]))
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise TokenError(f"not an access token with an account subject: {exc}") from None
