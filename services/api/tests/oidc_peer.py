"""A real OpenID provider for the sign-in tests: oidc-provider from the npm registry on loopback.

The package is installed once per lock file into a cache directory
(``$ACME_TEST_CACHE``, default ``~/.cache/acme``) with ``npm ci``; nothing is
downloaded when it is there. ``.ci/run`` installs it before the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from acme.core.security import KeySet, generate_key
from acme.core.testing import free_port
from acme.core.testing.plugin import unavailable

HERE = Path(__file__).with_name("oidc_provider")
FILES = ("package.json", "package-lock.json", "provider.mjs")


def cache_root() -> Path:
    return Path(os.environ.get("ACME_TEST_CACHE") or Path.home() / ".cache" / "acme")


def install_dir() -> Path:
    """Where this lock file's node_modules live (installed with ``npm ci`` when missing)."""
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:12]
    target = cache_root() / f"oidc-provider-{digest}"
    if not (target / "node_modules" / "oidc-provider" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            unavailable("node and npm are needed to run oidc-provider")
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(HERE / name, target / name)
        result = subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            unavailable(f"npm ci oidc-provider failed: {result.stderr.strip()[-500:]}")
    shutil.copy2(HERE / "provider.mjs", target / "provider.mjs")  # ESM resolves beside it
    return target


def provider_keys() -> KeySet:
    return KeySet([generate_key("RS256", rsa_key_size=2048)])


class NodeProvider:
    """``node provider.mjs`` with one static client; restartable with other keys."""

    def __init__(
        self,
        *,
        redirect_uris: list[str],
        keys: KeySet,
        client_id: str = "acme",
        client_secret: str = "acme-local-secret",
        workdir: Path,
    ) -> None:
        self.directory = install_dir()
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.keys = keys
        self.workdir = workdir
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> NodeProvider:
        keys_file = self.workdir / f"provider-keys-{self.keys.signing_key.kid[:8]}.json"
        keys_file.write_text(json.dumps(self.keys.private_jwks()))
        env = dict(
            os.environ,
            OIDC_PORT=str(self.port),
            OIDC_CLIENT_ID=self.client_id,
            OIDC_CLIENT_SECRET=self.client_secret,
            OIDC_REDIRECT_URIS=",".join(self.redirect_uris),
            OIDC_KEYS_FILE=str(keys_file),
        )
        self.process = subprocess.Popen(
            ["node", "provider.mjs"],
            cwd=self.directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"oidc-provider exited: {output}")
            try:
                httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("oidc-provider did not start in 30 s")

    def __enter__(self) -> NodeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> str:
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self.process = None
        return output

    def restart(self, keys: KeySet) -> None:
        """Stop, and start again on the same port signing with ``keys``."""
        self.stop()
        self.keys = keys
        self.start()


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>(.*?)</form>', re.S | re.I)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


def log_in(http: httpx.Client, authorization_url: str, *, login: str, redirect_prefix: str) -> str:
    """Walk the provider's login and consent pages as a person would; return the callback URL.

    Follows redirects until one leaves for ``redirect_prefix``, submitting each
    page's form (name and password on the login page, "continue" on consent).
    """
    url = authorization_url
    for _ in range(20):
        response = http.get(url)
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_prefix):
                return location
            response = http.get(location)
        form = _FORM.search(response.text)
        assert form is not None, f"no form on {response.url}: {response.text[:500]}"
        action, inner = unescape(form.group(1)), form.group(2)
        data: dict[str, Any] = {name: unescape(value) for name, value in _HIDDEN.findall(inner)}
        if 'name="login"' in inner:
            data |= {"login": login, "password": "any-password"}
        submitted = http.post(urljoin(str(response.url), action), data=data)
        assert submitted.is_redirect, f"{submitted.status_code}: {submitted.text[:500]}"
        url = urljoin(str(submitted.url), submitted.headers["location"])
        if url.startswith(redirect_prefix):
            return url
    raise AssertionError("the provider never redirected back")
