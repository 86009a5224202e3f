"""A person signs in with a real browser: headless Chromium (Debian's), the API served by
``acme-api serve``, and oidc-provider's own login and consent pages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from acme.core.testing.plugin import unavailable

from .conftest import serving
from .oidc_peer import NodeProvider, free_port, provider_keys

pytestmark = [pytest.mark.integration, pytest.mark.system]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_path() -> str:
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("python playwright is not installed")
    return CHROMIUM


@pytest.fixture
def api_port() -> int:
    return free_port()


@pytest.fixture
def provider(tmp_path: Path, api_port: int) -> Iterator[NodeProvider]:
    callback = f"http://127.0.0.1:{api_port}/auth/callback"
    with NodeProvider(redirect_uris=[callback], keys=provider_keys(), workdir=tmp_path) as running:
        yield running


@pytest.fixture
def api_base(tmp_path: Path, api_port: int, provider: NodeProvider) -> Iterator[str]:
    env = {
        "ACME_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "ACME_OIDC_PROFILE": "standard",
        "ACME_OIDC_ISSUER": provider.issuer,
        "ACME_OIDC_CLIENT_ID": provider.client_id,
        "ACME_OIDC_CLIENT_SECRET": provider.client_secret,
    }
    with serving(port=api_port, cwd=tmp_path, env=env) as served:
        yield served.base
    assert "Traceback" not in served.output, served.output


def test_sign_in_through_the_page_with_chromium(
    browser_path: str, api_base: str, provider: NodeProvider, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_path, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.goto(f"{api_base}/")
            expect(page.locator("#sign-in")).to_have_text("Sign in with your provider")
            page.click("#sign-in")

            page.wait_for_url(f"{provider.issuer}/interaction/**")
            page.fill('input[name="login"]', "alice")
            page.fill('input[name="password"]', "correct horse")
            page.click('button[type="submit"]')
            page.wait_for_url(f"{provider.issuer}/interaction/**")  # consent
            page.click('button[type="submit"]')

            page.wait_for_url(f"{api_base}/")
            expect(page.locator("#greeting")).to_have_text("Signed in as Test alice")
            expect(page.locator("#account")).to_contain_text("alice@example.test")
            page.screenshot(path=str(tmp_path / "signed-in.png"))
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["acme_session"]["httpOnly"] is True
            assert cookies["acme_csrf"]["httpOnly"] is False

            # The access cookie lives minutes; the page resumes the session with the refresh cookie.
            page.context.clear_cookies(name="acme_session")
            page.goto(f"{api_base}/")
            page.wait_for_url(f"{api_base}/?resumed=1")
            expect(page.locator("#greeting")).to_have_text("Signed in as Test alice")

            page.click("#sign-out")
            expect(page.locator("#sign-in")).to_be_visible()
            assert "acme_session" not in {c["name"] for c in page.context.cookies()}
        finally:
            browser.close()
    assert shutil.which("node")  # the provider ran under this machine's node
