"""Attachment downloads for agents: shop-scoped, always as a download, never sniffed by the browser."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from django.views.decorators.http import require_GET

from opiekun.conversations.selectors import access_attachment
from opiekun.ui.downloads import attachment_download

from .guard import agent_view


@require_GET
@agent_view  # type: ignore[arg-type]  # a FileResponse streams; the guard only passes it through
def attachment_view(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Stream one attachment of the agent's shop (NotFound → 404 for another shop's id)."""
    attachment = access_attachment(shop_id=request.agent.shop_id, attachment_id=attachment_id)  # type: ignore[attr-defined]
    return attachment_download(attachment)
