from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    + b"\x00" * 32
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_limits():  # type: ignore[no-untyped-def]
    """Rate-limit counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Jan Kowalski",
        "email": "jan@example.org",
        "phone": "",
        "order_ref": "",
        "message": "Where is my parcel?\nI ordered last week.",
        "language": "en",
    }
    data.update(overrides)
    return data


def stored_blobs() -> list[Path]:
    root = Path(settings.ATTACHMENTS_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def portal_link_from(body: str) -> str:
    match = re.search(r"https?://\S+/portal/t/[^/\s]+/(?:\?next=\d+)?", body)
    assert match, body
    return match.group(0)
