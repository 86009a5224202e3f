"""``/docs``: Swagger UI, its scripts and styles served by the API itself.

FastAPI's default page loads Swagger UI from a CDN, so it is blank offline
and makes every reader's browser fetch code from a third party. The files
come from the ``swagger-ui-bundle`` package instead. Only installed when
docs are on (``ACME_DOCS_ENABLED``; on by default in development only).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

__all__ = ["DOCS_PATH", "OPENAPI_PATH", "install_docs"]

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` for the app's OpenAPI document."""
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{OPENAPI_PATH}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        )

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
