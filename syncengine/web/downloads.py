"""Attachment downloads, safe to serve from the dashboard's origin."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

from syncengine.errors import NotFound
from syncengine.support.service import SupportService

__all__ = ["attachment_response"]


async def attachment_response(
    service: SupportService, request_id: int, attachment_id: int
) -> Response:
    """The attachment as ``Content-Disposition: attachment``; NotFound when it is not there.

    Served as a download with ``nosniff`` and a locked-down CSP, so an uploaded
    HTML or SVG file can never run script on this site.
    """
    file = await service.attachment(request_id, attachment_id)
    if file is None:
        raise NotFound(f"attachment {attachment_id} not found")
    name = file.info.filename
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return Response(
        content=file.content,
        media_type=file.info.content_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
