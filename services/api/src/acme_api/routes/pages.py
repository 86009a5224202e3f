"""A small sign-in page, so a person can try the sign-in flow in a browser."""

from __future__ import annotations

import secrets
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from acme.accounts import interface as accounts
from acme.accounts.models import Account
from acme.core.errors import DomainError
from acme_api.dependencies import AccountsDeps, CookieNamesDep, SettingsDep

router = APIRouter(include_in_schema=False)

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}"
    "a.button,button{display:inline-block;padding:.6rem 1.2rem;border-radius:.4rem;border:0;"
    "background:#1f4fd1;color:#fff;text-decoration:none;font-size:1rem;cursor:pointer}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{color:#555}"
)
_CSRF = """
function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("%s="));
  return cookie ? cookie.slice(cookie.indexOf("=") + 1) : "";
}
"""
_SIGN_OUT = """
document.getElementById("sign-out").addEventListener("click", async () => {
  await fetch("/auth/logout", {method: "POST", credentials: "same-origin",
    headers: {"X-CSRF-Token": csrfToken()}});
  window.location.replace("/");
});
"""
# The access cookie lives minutes, the session days: trade the refresh cookie
# for a new pair once, then show the account (or leave the sign-in link).
_RESUME = """
fetch("/auth/refresh", {method: "POST", credentials: "same-origin",
  headers: {"X-CSRF-Token": csrfToken()}})
  .then((response) => { if (response.ok) window.location.replace("/?resumed=1"); });
"""


def _page(title: str, body: str, *, nonce: str) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><style nonce="{nonce}">{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": policy,
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        },
    )


def _account_body(account: Account, *, csrf_cookie: str, nonce: str) -> str:
    rows = [
        ("Name", account.display_name),
        ("E-mail", account.email or "(none)"),
        ("Provider", account.issuer),
        ("Subject", account.subject),
        ("Account id", str(account.id)),
    ]
    details = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    script = _CSRF % csrf_cookie + _SIGN_OUT
    return (
        f'<h1 id="greeting">Signed in as {escape(account.display_name)}</h1>'
        f'<dl id="account">{details}</dl>'
        f'<p><button id="sign-out" type="button">Sign out</button></p>'
        f'<script nonce="{nonce}">{script}</script>'
    )


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, deps: AccountsDeps, names: CookieNamesDep, settings: SettingsDep
) -> HTMLResponse:
    """Signed in: the account. Otherwise: a link that starts the sign-in.

    With an expired access cookie but a live session, the page's script
    refreshes the session once and reloads.
    """
    nonce = secrets.token_urlsafe(16)
    token = request.cookies.get(names.access)
    account: Account | None = None
    if token:
        try:
            account = await accounts.authenticate(deps, token)
        except DomainError:
            account = None
    if account is not None:
        body = _account_body(account, csrf_cookie=names.csrf, nonce=nonce)
        return _page("acme: signed in", body, nonce=nonce)
    provider = "TrustNet" if settings.oidc_profile == "trustnet" else "your provider"
    body = (
        "<h1>acme</h1><p>You are not signed in.</p>"
        f'<p><a class="button" id="sign-in" href="/auth/login">Sign in with {provider}</a></p>'
    )
    resumable = names.refresh in request.cookies and names.csrf in request.cookies
    if resumable and "resumed" not in request.query_params:
        body += f'<script nonce="{nonce}">{_CSRF % names.csrf}{_RESUME}</script>'
    return _page("acme: sign in", body, nonce=nonce)
