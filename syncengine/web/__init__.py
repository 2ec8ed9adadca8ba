"""The FastAPI application: JSON API, ingest and webhook endpoints, dashboard, health."""

from __future__ import annotations

from syncengine.web.app import create_app

__all__ = ["create_app"]
