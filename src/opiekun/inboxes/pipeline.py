"""The ordered inbound pipeline every channel goes through.

    verify → de-duplicate → loop/auto-reply guard → identify contact → thread → route → store + SLA stamp

Each step is a small function over one typed context; the list below is the whole order. A step
may end the run with an outcome (duplicate, auto_reply, rejected). Idempotency lives in the schema:
the (inbox, external_id) unique constraint is the final word on duplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from opiekun.agents.models import Agent
from opiekun.contacts import services as contacts
from opiekun.contacts.models import Contact
from opiekun.conversations import services as conversations
from opiekun.conversations.attachments import CheckedFile, check_files
from opiekun.conversations.models import Conversation, Message
from opiekun.conversations.routing import Route, route_new_conversation
from opiekun.core import clock
from opiekun.core.errors import ValidationFailed
from opiekun.shops.models import Shop

from .base import InboundMessage
from .models import Inbox

log = logging.getLogger(__name__)

CREATED, APPENDED, DUPLICATE, AUTO_REPLY, REJECTED = (
    "created",
    "appended",
    "duplicate",
    "auto_reply",
    "rejected",
)


class Stop(Exception):
    def __init__(self, outcome: str, reason: str = "") -> None:
        super().__init__(reason or outcome)
        self.outcome = outcome
        self.reason = reason


@dataclass
class Context:
    inbox: Inbox
    message: InboundMessage
    allowed_types: list[str] | None = None
    max_files: int | None = None
    shop: Shop = field(init=False)
    files: list[CheckedFile] = field(default_factory=list)
    contact: Contact | None = None
    conversation: Conversation | None = None
    route: Route | None = None
    is_auto_reply: bool = False
    logged_by: Agent | None = None

    def __post_init__(self) -> None:
        self.shop = self.inbox.shop


@dataclass(frozen=True)
class Result:
    outcome: str
    conversation: Conversation | None = None
    message: Message | None = None
    contact: Contact | None = None
    reason: str = ""


def verify(ctx: Context) -> None:
    """The transport verified authenticity (driver.verify); here: the inbox is on and the content sane."""
    if not ctx.inbox.is_active:
        raise Stop(REJECTED, "This inbox is switched off.")
    if not ctx.message.text.strip() and not ctx.message.attachments:
        raise ValidationFailed("The message is empty.", field="message")
    ctx.files = check_files(
        ((a.filename, a.content) for a in ctx.message.attachments),
        allowed_types=ctx.allowed_types,
        max_files=ctx.max_files,
    )
    if ctx.message.logged_by_agent_id is not None:
        ctx.logged_by = Agent.objects.filter(pk=ctx.message.logged_by_agent_id, shop=ctx.shop).first()
        if ctx.logged_by is None:
            raise Stop(REJECTED, "Unknown agent.")


def deduplicate(ctx: Context) -> None:
    """A message already stored under this external id is a duplicate (the constraint decides races)."""
    if (
        ctx.message.external_id
        and Message.objects.filter(inbox=ctx.inbox, external_id=ctx.message.external_id).exists()
    ):
        raise Stop(DUPLICATE)


_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?reply|out of (the )?office|autoreply|automatyczna odpowied[zź]|nieobecno[sś][cć]|"
    r"автоответ|автоматический ответ|вне офиса)",
    re.IGNORECASE,
)


def guard_loops(ctx: Context) -> None:
    """Auto-replies never open a case (they are kept on an existing one) and never get an acknowledgment."""
    ctx.is_auto_reply = ctx.message.auto_submitted or bool(_AUTO_SUBJECT.match(ctx.message.subject or ""))


def identify_contact(ctx: Context) -> None:
    sender = ctx.message.sender
    if sender.contact_id is not None:
        ctx.contact = Contact.objects.filter(pk=sender.contact_id, shop=ctx.shop).first()
        if ctx.contact is None:
            raise Stop(REJECTED, "Unknown contact.")
        return
    try:
        addresses = contacts.addresses_from(
            email=sender.email,
            phone=sender.phone,
            chat_session=sender.chat_session,
            messenger_id=sender.messenger_id,
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="email") from None
    if not addresses:
        raise ValidationFailed("We need an address to answer you.", field="email")
    ctx.contact, _ = contacts.contact_identify(
        shop=ctx.shop, addresses=addresses, name=sender.name, language=ctx.message.language
    )


def thread(ctx: Context) -> None:
    """Join the conversation the message belongs to. Foundation: an authenticated conversation id
    (portal reply, agent logging on a case); channel-specific hints (References…) come with their drivers."""
    conversation_id = ctx.message.conversation_id
    if conversation_id is not None:
        assert ctx.contact is not None
        ctx.conversation = Conversation.objects.filter(
            pk=conversation_id, shop=ctx.shop, contact=ctx.contact
        ).first()
        if ctx.conversation is None:
            raise Stop(REJECTED, "Unknown conversation.")
        if ctx.conversation.merged_into_id:
            ctx.conversation = Conversation.objects.get(pk=ctx.conversation.merged_into_id)
    if ctx.conversation is None and ctx.is_auto_reply:
        raise Stop(AUTO_REPLY, "An automatic reply does not open a case.")


def route(ctx: Context) -> None:
    if ctx.conversation is None:
        assert ctx.contact is not None
        ctx.route = route_new_conversation(contact=ctx.contact, team=ctx.inbox.team)


STEPS: list[Callable[[Context], None]] = [verify, deduplicate, guard_loops, identify_contact, thread, route]


def store(ctx: Context) -> Result:
    """Create the conversation when needed and the message, stamping the SLA clock (in one transaction)."""
    assert ctx.contact is not None
    msg = ctx.message
    at = msg.received_at or clock.now()
    with transaction.atomic():
        created = ctx.conversation is None
        if created:
            subject = msg.subject or _subject_from(msg.text)
            ctx.conversation = conversations.conversation_create(
                shop=ctx.shop,
                contact=ctx.contact,
                subject=subject,
                inbox=ctx.inbox,
                route=ctx.route,
                order_ref=msg.order_ref,
                language=msg.language,
                at=at,
            )
        elif msg.order_ref and ctx.conversation is not None and not ctx.conversation.order_ref:
            conversations.conversation_link_order(
                conversation=ctx.conversation, order_ref=msg.order_ref, actor=None
            )
        assert ctx.conversation is not None
        message = conversations.message_record_inbound(
            conversation=ctx.conversation,
            channel=ctx.inbox.kind,
            inbox=ctx.inbox,
            text=msg.text,
            html=msg.html,
            external_id=msg.external_id,
            author_contact=ctx.contact if msg.direction == "in" else None,
            files=ctx.files,
            meta={**msg.meta, **({"auto_reply": True} if ctx.is_auto_reply else {})},
            at=at,
            direction=msg.direction,
            logged_by=ctx.logged_by,
            count_for_sla=not ctx.is_auto_reply,
        )
        Inbox.objects.filter(pk=ctx.inbox.pk).update(last_activity_at=at)
    return Result(CREATED if created else APPENDED, ctx.conversation, message, ctx.contact)


def _subject_from(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:80] + ("…" if len(first) > 80 else "")


def process(
    *,
    inbox: Inbox,
    message: InboundMessage,
    allowed_types: list[str] | None = None,
    max_files: int | None = None,
) -> Result:
    """Run every step in order and store the message; a Stop ends the run with its outcome.

    ValidationFailed propagates (the form/API shows it as a field error); nothing is stored then.
    """
    ctx = Context(inbox=inbox, message=message, allowed_types=allowed_types, max_files=max_files)
    try:
        for step in STEPS:
            step(ctx)
        return store(ctx)
    except Stop as stop:
        return Result(stop.outcome, ctx.conversation, None, ctx.contact, stop.reason)
    except IntegrityError:
        if (
            message.external_id
            and Message.objects.filter(inbox=inbox, external_id=message.external_id).exists()
        ):
            return Result(DUPLICATE, ctx.conversation, None, ctx.contact)
        raise
