"""The security errors: both are :class:`acme.core.errors` types the API already maps."""

from __future__ import annotations

from acme.core.errors import Unauthenticated

__all__ = ["InvalidToken", "bearer_challenge"]


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value per RFC 6750 section 3."""
    parts = ['Bearer realm="acme"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        safe = description.replace("\\", "").replace('"', "'")
        parts.append(f'error_description="{safe}"')
    return ", ".join(parts)


class InvalidToken(Unauthenticated):
    """A token failed verification; ``detail`` says which check failed (never the token)."""

    default_code = "invalid_token"
    title = "Invalid token"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(
            detail,
            code=code,
            extra={"www_authenticate": bearer_challenge("invalid_token", detail)},
        )
