"""Reading the files of a public form post without ever holding an oversized one.

Django reads the whole request body before a view sees `request.FILES`; a 2 GB "photo" would be
spooled to disk in full before the attachment rules could say no. The handler below sits first in
the chain and stops passing a file on once it crosses the per-file limit (or when there are more
files than allowed), so the form text still parses and can be shown again with a clear message.
The attachment rules (`conversations.attachments.check_files`, run by the pipeline) still decide
the type from the bytes; this only bounds what is read.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from django.utils.translation import gettext as _

from opiekun.conversations.attachments import check_files
from opiekun.core.errors import ValidationFailed

# Besides the files, a form post carries a few kilobytes of text; this is its allowance.
_TEXT_ALLOWANCE = 1024 * 1024


class LimitedUploadHandler(FileUploadHandler):
    def __init__(
        self, request: HttpRequest, *, max_bytes: int, max_files: int, skip_all: bool = False
    ) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.skip_all = skip_all
        self.problems: list[str] = []
        self._count = 0
        self._received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._received = 0
        if self.skip_all:
            raise SkipFile()
        self._count += 1
        if self._count == self.max_files + 1:
            self.problems.append(_("At most %(n)d files can be attached.") % {"n": self.max_files})
        if self._count > self.max_files:
            raise SkipFile()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self._received += len(raw_data)
        if self._received > self.max_bytes:
            self.problems.append(
                _("%(name)s is too large; the limit is %(limit)d MB per file.")
                % {"name": self.file_name, "limit": self.max_bytes // (1024 * 1024)}
            )
            raise SkipFile()
        return raw_data  # the next handler (memory or temporary file) keeps it

    def file_complete(self, file_size: int) -> None:
        return None


def install_upload_limits(request: HttpRequest, *, skip_all: bool = False) -> LimitedUploadHandler:
    """Put the limiting handler first; call before anything reads request.POST or request.FILES."""
    handler = LimitedUploadHandler(
        request,
        max_bytes=settings.OPIEKUN_UPLOAD_MAX_BYTES,
        max_files=settings.OPIEKUN_UPLOAD_MAX_FILES,
        skip_all=skip_all,
    )
    handlers = list(request.upload_handlers)
    handlers.insert(0, handler)
    request.upload_handlers = handlers  # Django refuses this once the body has been read
    return handler


def file_problem(request: HttpRequest, field: str, *, allowed_types: list[str]) -> str | None:
    """What the attachment rules would say about the posted files, without storing anything.

    Used only when the form has other errors, so the customer hears about everything at once; on a
    valid form the pipeline runs the same rules before it stores a byte.
    """
    files = [(f.name or "", f.read()) for f in request.FILES.getlist(field)]
    if not files:
        return None
    try:
        check_files(files, allowed_types=allowed_types)
    except ValidationFailed as exc:
        return exc.message
    return None


def body_too_large(request: HttpRequest) -> bool:
    """A body larger than every allowed file together plus the text is refused before it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > settings.OPIEKUN_UPLOAD_MAX_FILES * settings.OPIEKUN_UPLOAD_MAX_BYTES + _TEXT_ALLOWANCE
