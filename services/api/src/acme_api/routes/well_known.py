"""Documents other services fetch: the API's public signing keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from acme_api.dependencies import ContainerDep

router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json", summary="The public keys that verify the API's tokens")
async def jwks(container: ContainerDep, response: Response) -> dict[str, Any]:
    """The JWKS of the API's signing keys (public parts only), cacheable for five minutes."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return container.keys.public_jwks()
