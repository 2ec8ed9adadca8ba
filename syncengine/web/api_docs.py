"""The OpenAPI document and its pages (``/openapi.json``, ``/docs``, ``/redoc``).

``web.api_docs`` says who reads them: ``open`` (anyone), ``admin`` (the admin
token or a signed-in admin) or ``off`` (not served).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from syncengine.web.auth import Forbidden, PrincipalDep, User
from syncengine.web.services import WebConfig

__all__ = ["install_api_docs"]

OPENAPI_URL = "/openapi.json"


def _admin_only(principal: PrincipalDep) -> User:
    if not principal.is_admin:
        raise Forbidden('the API documentation is for admins (web.api_docs = "admin")')
    return principal


def install_api_docs(app: FastAPI, config: WebConfig) -> None:
    """Serve the API documentation as ``config.api_docs`` says."""
    if config.api_docs == "off":
        return
    guard = [Depends(_admin_only)] if config.api_docs == "admin" else []

    @app.get(OPENAPI_URL, include_in_schema=False, dependencies=guard)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} API")

    @app.get("/redoc", include_in_schema=False, dependencies=guard)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{app.title} API")
