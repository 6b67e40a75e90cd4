"""The SMTP intake's callbacks: which inbox a recipient belongs to, and durable storage of what arrives.

A shop forwards its support mail to Opiekun (or points an MX at it); the intake answers 250 only after
`mail_receive` stored the bytes, 550 for a recipient no inbox owns, 451 when storing failed (the
sending server retries) — mail is never accepted and then dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import close_old_connections

from opiekun.agents.models import Agent

from .drivers.email.smtp_intake import IntakeHandler, start_intake
from .mailstore import mail_process, mail_receive
from .models import Inbox, RawMail

log = logging.getLogger(__name__)

MAX_SIZE = 50 * 1024 * 1024
T = TypeVar("T")


def inbox_for_recipient(address: str) -> int | None:
    """The active e-mail inbox whose address or alias is `address` (plus-tags ignored), else the first
    e-mail inbox of the shop one of whose agents has that address (mail to an agent lands in their queue)."""
    address = (address or "").strip().strip("<>").lower()
    local, at, domain = address.partition("@")
    if not at:
        return None
    bare = f"{local.split('+', 1)[0]}@{domain}"
    inboxes = list(
        Inbox.objects.filter(kind="email", is_active=True)
        .order_by("id")
        .values_list("id", "shop_id", "config")
    )
    for inbox_id, _shop_id, config in inboxes:
        config = config or {}
        if bare in {str(config.get("address", "")).lower(), *(a.lower() for a in config.get("aliases", []))}:
            return int(inbox_id)
    shops = set(Agent.objects.filter(sender_email__iexact=bare).values_list("shop_id", flat=True))
    return next((int(inbox_id) for inbox_id, shop_id, _config in inboxes if shop_id in shops), None)


def store_received(inbox_id: int, raw: bytes, envelope: Any = None) -> None:
    """Durably store one mail for `inbox_id`, then process it (failures quarantine, never lose it)."""
    raw_id = mail_receive(inbox_id=inbox_id, raw=raw, source=RawMail.Source.SMTP)
    try:
        mail_process(raw_id)
    except Exception:
        log.exception("raw mail %s stored but not processed; the pending sweep will retry", raw_id)


def _in_worker_thread(fn: Callable[..., T]) -> Callable[..., T]:
    """The intake calls back from its own threads: each call tidies up its database connection, as a
    request would (a dropped or over-age connection is replaced on the next call)."""

    def call(*args: Any) -> T:
        close_old_connections()
        try:
            return fn(*args)
        finally:
            close_old_connections()

    return call


def start_intake_server(*, host: str, port: int) -> Any:
    """Listen for mail on host:port; returns the controller (`.stop()`)."""
    handler = IntakeHandler(
        resolve=_in_worker_thread(inbox_for_recipient),
        store=_in_worker_thread(store_received),
        max_size=MAX_SIZE,
    )
    controller = start_intake(host, port, handler)
    log.info("SMTP intake listening on %s:%s", host, port)
    return controller
