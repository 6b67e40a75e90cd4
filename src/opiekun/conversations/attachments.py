"""Attachment files: sniffed from their bytes, size-limited, stored once on disk under their SHA-256."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import filetype
from django.conf import settings
from django.utils.translation import gettext as _

from opiekun.core.errors import ValidationFailed

from .models import Attachment, Message

_LABELS = {"image/jpeg": "JPG", "image/png": "PNG", "application/pdf": "PDF"}


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content: bytes
    mime_type: str


def sniff(content: bytes) -> str:
    """The MIME type the bytes really are (never the name or the browser's claim)."""
    kind = filetype.guess(content[:8192])
    if kind is not None:
        return kind.mime
    try:
        content[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def safe_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().strip(".")
    return name[:200] or "attachment"


def check_files(
    files: Iterable[tuple[str, bytes]],
    *,
    allowed_types: Iterable[str] | None,
    max_bytes: int | None = None,
    max_files: int | None = None,
) -> list[CheckedFile]:
    """Validate every file before anything is stored; ValidationFailed names the first bad one."""
    files = list(files)
    max_bytes = max_bytes or settings.OPIEKUN_UPLOAD_MAX_BYTES
    max_files = max_files or settings.OPIEKUN_UPLOAD_MAX_FILES
    if len(files) > max_files:
        raise ValidationFailed(_("At most %(n)d files can be attached.") % {"n": max_files}, field="files")
    allowed = set(allowed_types) if allowed_types is not None else None
    checked = []
    for name, content in files:
        filename = safe_filename(name)
        if len(content) > max_bytes:
            raise ValidationFailed(
                _("%(name)s is too large (%(size).1f MB); the limit is %(limit)d MB per file.")
                % {"name": filename, "size": len(content) / 1e6, "limit": max_bytes // (1024 * 1024)},
                field="files",
            )
        if not content:
            raise ValidationFailed(_("%(name)s is empty.") % {"name": filename}, field="files")
        mime = sniff(content)
        if allowed is not None and mime not in allowed:
            kinds = ", ".join(sorted(_LABELS.get(t, t) for t in allowed))
            raise ValidationFailed(
                _("%(name)s is not an allowed file type (allowed: %(kinds)s).")
                % {"name": filename, "kinds": kinds},
                field="files",
            )
        checked.append(CheckedFile(filename=filename, content=content, mime_type=mime))
    return checked


def blob_path(sha256: str) -> Path:
    return Path(settings.ATTACHMENTS_DIR) / sha256[:2] / sha256[2:4] / sha256


def blob_store(content: bytes) -> str:
    """Write the bytes once (atomic rename) and return their SHA-256."""
    digest = hashlib.sha256(content).hexdigest()
    path = blob_path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return digest


def blobs_store(contents: list[bytes]) -> list[str]:
    """Write many blobs durably with one pass of syncs (group commit); returns their SHA-256s in order.

    Every file is written, then each is fsynced and renamed into place, then each touched folder is
    fsynced once, so a crash never leaves a name pointing at missing bytes.
    """
    digests = [hashlib.sha256(content).hexdigest() for content in contents]
    pending: list[tuple[int, str, Path]] = []
    seen: set[str] = set()
    try:
        for digest, content in zip(digests, contents, strict=True):
            path = blob_path(digest)
            if digest in seen or path.exists():
                continue
            seen.add(digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            pending.append((fd, tmp, path))
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
        folders = set()
        for fd, tmp, path in pending:
            os.fsync(fd)
            os.close(fd)
            os.replace(tmp, path)
            folders.add(path.parent)
        pending = []
        for folder in folders:
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        for fd, tmp, _path in pending:
            try:
                os.close(fd)
            except OSError:
                pass
            Path(tmp).unlink(missing_ok=True)
    return digests


def attachments_store(
    *, message: Message, files: Iterable[CheckedFile], content_ids: dict[str, str] | None = None
) -> list[Attachment]:
    """Store checked files on `message` (bytes on disk first, then the rows)."""
    rows = []
    for f in files:
        digest = blob_store(f.content)
        rows.append(
            Attachment(
                shop_id=message.shop_id,
                message=message,
                sha256=digest,
                filename=f.filename,
                mime_type=f.mime_type,
                size=len(f.content),
                content_id=(content_ids or {}).get(f.filename, ""),
            )
        )
    return Attachment.objects.bulk_create(rows) if rows else []


def attachments_store_many(
    items: list[tuple[Message, list[CheckedFile], dict[str, str] | None]],
) -> list[Attachment]:
    """`attachments_store` for many messages: the bytes of all files synced in one pass, one insert."""
    files = [(message, f, content_ids) for message, checked, content_ids in items for f in checked]
    if not files:
        return []
    digests = blobs_store([f.content for _message, f, _ids in files])
    rows = [
        Attachment(
            shop_id=message.shop_id,
            message=message,
            sha256=digest,
            filename=f.filename,
            mime_type=f.mime_type,
            size=len(f.content),
            content_id=(content_ids or {}).get(f.filename, ""),
        )
        for (message, f, content_ids), digest in zip(files, digests, strict=True)
    ]
    return Attachment.objects.bulk_create(rows)
