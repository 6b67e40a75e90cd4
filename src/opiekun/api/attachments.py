"""Attachments: upload files with a new reply or note (multipart), read their metadata, download them.

Files are checked by conversations.attachments.check_files (type sniffed from the bytes, size and
count limited) before anything is stored. A token uploads the types the shop's contact form accepts;
a signed-in agent any type (the desk's rule). Downloads always come as attachments with nosniff.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Path, Router, Status
from ninja.files import UploadedFile
from pydantic import ValidationError as PydanticValidationError

from opiekun.conversations import services as conversations
from opiekun.conversations.attachments import blob_path, check_files
from opiekun.conversations.selectors import access_attachment
from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.inboxes.registry import drivers

from . import selectors
from .auth import Caller, caller, client_ip
from .common import author
from .schemas import ERRORS, AttachmentOut, Id, MessageOut, UploadAs, UploadForm
from .services import audit_token_call

router = Router(tags=["attachments"])

FORM_KIND = "webform"


def allowed_types(who: Caller) -> list[str] | None:
    """What this caller may upload: agents anything (sniffed), tokens what the shop's contact form accepts."""
    if who.agent is not None:
        return None
    inbox = selectors.shop_inbox(shop_id=who.shop.pk, kind=FORM_KIND)
    config_class = drivers.get(FORM_KIND).Config
    try:
        config = config_class.model_validate(inbox.config if inbox is not None else {})
    except PydanticValidationError:
        config = config_class()
    return list(getattr(config, "allowed_types", ()))


def _content(upload: UploadedFile, max_bytes: int) -> tuple[str, bytes]:
    """The name and bytes of one upload, never reading more than the limit into memory."""
    name = (upload.name or "").encode("utf-8", "replace").decode("utf-8")
    if upload.size is not None and upload.size > max_bytes:
        raise ValidationFailed(
            _("%(name)s is too large; the limit is %(limit)d MB per file.")
            % {"name": name, "limit": max_bytes // (1024 * 1024)},
            field="files",
        )
    return name, upload.read(max_bytes + 1)


@router.post(
    "/conversations/{conversation_id}/attachments",
    response={201: MessageOut, **ERRORS},
    url_name="attachment_upload",
    summary="Upload files with a reply or note",
)
def attachment_upload(
    request: HttpRequest, conversation_id: Path[Id], form: Form[UploadForm], files: File[list[UploadedFile]]
) -> Status[Any]:
    """Upload files (multipart field `files`, repeated) as a new reply (`kind=reply`) or internal note."""
    who = caller(request)
    conversation = selectors.access_conversation_in_shop(
        shop_id=who.shop.pk, conversation_id=conversation_id, detail=False
    )
    agent = author(who, form.agent_id)
    max_bytes = settings.OPIEKUN_UPLOAD_MAX_BYTES
    if len(files) > settings.OPIEKUN_UPLOAD_MAX_FILES:
        raise ValidationFailed(
            _("At most %(n)d files can be attached.") % {"n": settings.OPIEKUN_UPLOAD_MAX_FILES},
            field="files",
        )
    checked = check_files([_content(f, max_bytes) for f in files], allowed_types=allowed_types(who))
    ip = client_ip(request)
    with transaction.atomic():
        if form.kind == UploadAs.note:
            message = conversations.note_add(
                conversation=conversation, agent=agent, text=form.text, files=checked, ip=ip
            )
        else:
            message = conversations.message_send(
                conversation=conversation,
                agent=agent,
                text=form.text,
                files=checked,
                status_after=form.status_after.value,
                ip=ip,
            )
        audit_token_call(
            who,
            action="attachment.upload",
            obj=conversation,
            data={"message": message.pk, "agent": agent.pk, "files": [f.filename for f in checked]},
            ip=ip,
        )
    return Status(201, selectors.access_message(shop_id=who.shop.pk, message_id=message.pk))


@router.get(
    "/attachments/{attachment_id}",
    response={200: AttachmentOut, **ERRORS},
    url_name="attachment_detail",
    summary="Get an attachment's metadata",
)
def attachment_detail(request: HttpRequest, attachment_id: Path[Id]) -> Any:
    """An attachment's name, type, size and download address."""
    return access_attachment(shop_id=caller(request).shop.pk, attachment_id=attachment_id)


_FILE_RESPONSE = {
    "description": "The file (Content-Disposition: attachment; X-Content-Type-Options: nosniff).",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
}


@router.get(
    "/attachments/{attachment_id}/download",
    response={**ERRORS},
    url_name="attachment_download",
    summary="Download an attachment",
    openapi_extra={"responses": {"200": _FILE_RESPONSE}},
)
def attachment_download(request: HttpRequest, attachment_id: Path[Id]) -> FileResponse:
    """The file's bytes; browsers save it, never render it."""
    attachment = access_attachment(shop_id=caller(request).shop.pk, attachment_id=attachment_id)
    try:
        handle = blob_path(attachment.sha256).open("rb")
    except FileNotFoundError:
        raise NotFound() from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.mime_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
