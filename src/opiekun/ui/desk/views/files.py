"""Attachment downloads for agents: shop-scoped, always as a download, never sniffed by the browser."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from opiekun.conversations.attachments import blob_path
from opiekun.conversations.selectors import access_attachment

from .guard import agent_view


@require_GET
@agent_view
def attachment_view(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Stream one attachment of the agent's shop (NotFound → 404 for another shop's id)."""
    attachment = access_attachment(shop_id=request.agent.shop_id, attachment_id=attachment_id)  # type: ignore[attr-defined]
    path = blob_path(attachment.sha256)
    if not path.is_file():
        raise Http404
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.mime_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
