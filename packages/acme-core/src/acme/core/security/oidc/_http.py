"""Reading the OpenID provider's HTTP answers: JSON documents and the token response."""

from __future__ import annotations

from typing import Any

import httpx

from acme.core.errors import Unavailable

from ._port import SignInFailed

__all__ = ["get_json", "json_or_none", "token_response"]


def json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    """The response's JSON object, or None when it is not one."""
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


async def get_json(
    http: httpx.AsyncClient, url: str, *, what: str, request_timeout: float
) -> dict[str, Any]:
    """GET a JSON object (discovery document, key set).

    Raises:
        Unavailable: unreachable, an error status, or not a JSON object.
    """
    try:
        response = await http.get(
            url, headers={"Accept": "application/json"}, timeout=request_timeout
        )
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Unavailable(
            f"the provider's {what} cannot be fetched from {url} ({type(exc).__name__})",
            code="provider_unavailable",
        ) from exc
    if not isinstance(document, dict):
        raise Unavailable(
            f"the provider's {what} is not a JSON object", code="provider_unavailable"
        )
    return document


def token_response(response: httpx.Response) -> dict[str, Any]:
    """The token endpoint's answer to a code exchange, checked.

    Raises:
        Unavailable: the endpoint failed (5xx).
        SignInFailed: the code was refused, or the answer lacks a bearer
            access token and an ID token.
    """
    payload = json_or_none(response)
    if response.status_code >= 500:
        raise Unavailable(
            f"the provider's token endpoint failed ({response.status_code})",
            code="provider_unavailable",
        )
    if response.status_code != 200 or payload is None:
        error = (payload or {}).get("error") or f"HTTP {response.status_code}"
        description = (payload or {}).get("error_description")
        detail = f"the provider refused the authorization code: {str(error)[:100]}"
        if description:
            detail += f" ({str(description)[:200]})"
        raise SignInFailed(detail, code="code_exchange_failed")
    if not isinstance(payload.get("id_token"), str) or not isinstance(
        payload.get("access_token"), str
    ):
        raise SignInFailed(
            "the provider's token response lacks an ID token or access token",
            code="code_exchange_failed",
        )
    if str(payload.get("token_type", "")).lower() != "bearer":
        raise SignInFailed(
            "the provider's token response is not a bearer token", code="code_exchange_failed"
        )
    return payload
