"""Outbound delivery: a queued public reply is handed to its channel's driver by a task.

The message is stored `queued`; the task sends it, stores the provider id and `sent`, retries
transient errors with exponential backoff, and marks terminal errors `failed` with a reason the agent
sees in the thread. Internal notes never get here.
"""

from __future__ import annotations

import logging
from typing import cast

from django.conf import settings
from pydantic import ValidationError

from opiekun.agents.models import Agent
from opiekun.contacts.models import Contact, Identity
from opiekun.contacts.portal import portal_link
from opiekun.contacts.selectors import contact_addresses
from opiekun.conversations.attachments import blob_path
from opiekun.conversations.events import OutboundQueued
from opiekun.conversations.models import Conversation, Message
from opiekun.conversations.services import delivery_mark
from opiekun.core.events import subscribe
from opiekun.core.rowload import Join, JoinedRow
from opiekun.shops.models import Shop

from . import mailthreads
from .base import Capability, DeliveryResult, OutboundAttachment, OutboundMessage
from .models import Inbox
from .registry import drivers

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BASE_DELAY = 30  # seconds; attempt n waits BASE_DELAY * 2**(n-1)


def connect() -> None:
    subscribe(OutboundQueued, _enqueue)


def _enqueue(event: OutboundQueued) -> None:
    from .tasks import deliver_message

    deliver_message(event.message_id)


def build_outbound(message: Message, inbox: Inbox | None = None, *, threads: bool = True) -> OutboundMessage:
    """Everything a driver needs to send `message`; for a transport that threads mail (`threads`), a
    Message-ID given once (kept across retries) and the chain it answers."""
    conversation = message.conversation
    contact = conversation.contact
    shop = conversation.shop
    agent = message.author_agent
    mailbox = (
        str((inbox.config or {}).get("address", "")) if inbox is not None and inbox.kind == "email" else ""
    )
    sender = (agent.sender_email if agent and agent.sender_email else "") or mailbox or shop.sender_email
    sender = sender or settings.DEFAULT_FROM_EMAIL
    if threads and not message.rfc_message_id:
        message.rfc_message_id = mailthreads.new_message_id(domain=sender.rpartition("@")[2])
        Message.objects.filter(pk=message.pk, rfc_message_id="").update(rfc_message_id=message.rfc_message_id)
    chain = (
        list(
            conversation.messages.exclude(rfc_message_id="")
            .exclude(pk=message.pk)
            .filter(is_internal=False, created_at__lte=message.created_at)
            .order_by("created_at", "id")
            .values_list("rfc_message_id", "direction")
        )
        if threads
        else []
    )
    in_reply_to = next(
        (rfc for rfc, direction in reversed(chain) if direction == Message.Direction.INBOUND), ""
    )
    references = tuple(rfc for rfc, _direction in chain)
    if len(references) > 20:  # the first names the thread, the last ones its nearest ancestors
        references = (references[0], *references[-19:])
    addresses = contact_addresses(contact_id=contact.pk)
    return OutboundMessage(
        message_id=message.pk,
        conversation_number=conversation.number,
        subject=conversation.subject,
        text=message.text,
        html=message.html,
        to_name=contact.name,
        to_email=addresses.get(Identity.Kind.EMAIL, ""),
        to_phone=addresses.get(Identity.Kind.PHONE, ""),
        from_name=f"{agent.display_name} – {shop.name}" if agent else shop.name,  # noqa: RUF001 — a real dash
        from_email=sender,
        reply_to=mailthreads.reply_address(mailbox, shop_id=shop.pk, number=conversation.number)
        if mailbox
        else "",
        signature=agent.signature if agent else "",
        portal_url=portal_link(contact, number=conversation.number),
        shop_name=shop.name,
        language=contact.language or conversation.language or shop.default_language,
        attachments=tuple(
            OutboundAttachment(a.filename, a.mime_type, blob_path(a.sha256))
            for a in message.attachments.all()
        ),
        rfc_message_id=message.rfc_message_id,
        in_reply_to=in_reply_to,
        references=references,
    )


# The message to send with what build_outbound reads of it, in SQL written once: compiling this
# select_related anew was most of a chat reply's delivery (bench/chat_sockets.py, ~20 replies a second).
_TO_SEND = JoinedRow(
    Message,
    [
        Join(Conversation, "conversation", via=0, column="id", other_column="conversation_id"),
        Join(Contact, "contact", via=1, column="id", other_column="contact_id"),
        Join(Shop, "shop", via=1, column="id", other_column="shop_id"),
        Join(Agent, "author_agent", via=0, column="id", other_column="author_agent_id"),
        Join(Inbox, "inbox", via=0, column="id", other_column="inbox_id"),
    ],
)


def deliver(message_id: int) -> DeliveryResult | None:
    """One delivery attempt; returns the result, or None when there was nothing to do."""
    message = cast(Message | None, _TO_SEND.get(message_id))
    if message is None or message.is_internal or message.delivery_status != Message.Delivery.QUEUED:
        return None
    # The message's channel picks the driver: a web-form case answered by SMS goes out as SMS.
    kind = message.channel
    try:
        driver = drivers.get(kind)
    except LookupError:
        delivery_mark(message=message, ok=False, error=f"No channel driver for {kind!r}.")
        return DeliveryResult.failed(f"No channel driver for {kind!r}.")
    inbox = _inbox_for(message, kind)
    try:
        # Secrets (passwords) are kept apart from the settings and only joined here, for the driver.
        config = inbox.settings(driver.Config) if inbox is not None else driver.Config.model_validate({})
    except ValidationError:
        # Retrying cannot fix stored settings; say where to look instead of crashing the task.
        error = f"The {kind} inbox is misconfigured; check its settings."
        delivery_mark(message=message, ok=False, error=error)
        return DeliveryResult.failed(error)
    try:
        threads = Capability.MAIL_THREADS in driver.capabilities
        result = driver.send(build_outbound(message, inbox, threads=threads), config)
    except Exception as exc:  # a driver bug must not leave the message queued forever
        log.exception("driver %s crashed sending message %s", kind, message_id)
        result = DeliveryResult.retry(f"{exc.__class__.__name__} in the {kind} driver")
    final = result.ok or not result.transient or message.delivery_attempts + 1 >= MAX_ATTEMPTS
    error = result.error
    if not result.ok and result.transient and final:
        error = f"Gave up after {MAX_ATTEMPTS} attempts: {result.error}"
    delivery_mark(message=message, ok=result.ok, provider_id=result.provider_id, error=error, final=final)
    if final and not result.ok:
        # Terminal now (also a transient error after the last attempt): the task schedules no retry.
        return DeliveryResult.failed(error)
    return result if final else DeliveryResult.retry(error)


def _inbox_for(message: Message, kind: str) -> Inbox | None:
    """The inbox whose settings the driver uses: the message's own when it is of that kind, else the
    shop's first active inbox of that kind (another kind's settings would not even validate)."""
    if message.inbox is not None and message.inbox.kind == kind:
        return message.inbox
    return Inbox.objects.filter(shop_id=message.shop_id, kind=kind, is_active=True).order_by("id").first()


def retry_delay(attempt: int) -> int:
    return BASE_DELAY * 2 ** max(0, attempt - 1)
