"""Serving a stored attachment, the same way for agents and customers: always a download, never
rendered or sniffed by the browser, never cached by shared caches."""

from __future__ import annotations

from django.http import FileResponse, Http404

from opiekun.conversations.attachments import blob_path
from opiekun.conversations.models import Attachment


def attachment_download(attachment: Attachment) -> FileResponse:
    """The file of an attachment the caller got through access_attachment (404 if its bytes are gone)."""
    path = blob_path(attachment.sha256)
    if not path.is_file():
        raise Http404()
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
