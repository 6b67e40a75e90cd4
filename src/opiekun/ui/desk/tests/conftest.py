"""Helpers for the desk's view tests: a logged-in agent client and real conversations via the pipeline."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from opiekun.inboxes import pipeline
from opiekun.inboxes.base import InboundAttachment, InboundMessage, SenderHints

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40


@pytest.fixture(autouse=True)
def _clean_cache():
    # Lockout counters live in the cache; every test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def desk(client: Client, agent) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(agent.user)
    return client


@pytest.fixture
def hx() -> dict[str, str]:
    """Headers htmx sends."""
    return {"HX-Request": "true"}


def inbound(
    inbox,
    *,
    email="jan@example.org",
    name="Jan Kowalski",
    text="Where is my parcel?",
    subject="",  # type: ignore[no-untyped-def]
    attachments=(),
    order_ref="",
):
    """A customer message through the real inbound pipeline; returns the pipeline Result."""
    files = tuple(InboundAttachment(n, c) for n, c in attachments)
    result = pipeline.process(
        inbox=inbox,
        message=InboundMessage(
            sender=SenderHints(name=name, email=email),
            text=text,
            subject=subject,
            attachments=files,
            order_ref=order_ref,
        ),
    )
    assert result.outcome in (pipeline.CREATED, pipeline.APPENDED), result
    return result
