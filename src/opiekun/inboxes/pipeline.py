"""The ordered inbound pipeline every channel goes through.

    verify → de-duplicate → bounce → loop/auto-reply guard → identify contact → thread → route
    → store + SLA stamp

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
from opiekun.conversations.models import Conversation, Message, Status
from opiekun.conversations.routing import Route, agent_can_take, route_new_conversation
from opiekun.core import clock
from opiekun.core.errors import ValidationFailed
from opiekun.shops.models import Shop

from . import mailthreads
from .base import BounceReport, InboundMessage
from .models import Inbox

log = logging.getLogger(__name__)

CREATED, APPENDED, DUPLICATE, AUTO_REPLY, BOUNCE, REJECTED = (
    "created",
    "appended",
    "duplicate",
    "auto_reply",
    "bounce",
    "rejected",
)
OUTCOMES = (CREATED, APPENDED, DUPLICATE, AUTO_REPLY, BOUNCE, REJECTED)


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
    max_bytes: int | None = None
    shop: Shop = field(init=False)
    files: list[CheckedFile] = field(default_factory=list)
    contact: Contact | None = None
    conversation: Conversation | None = None
    route: Route | None = None
    is_auto_reply: bool = False
    # Mail from one of the shop's own addresses: joins a case it threads into (an agent's copy of a
    # reply), never opens one and is never acknowledged.
    is_own: bool = False
    follow_up_of: Conversation | None = None
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
    message = ctx.message
    if not message.text.strip() and not message.attachments and not message.subject.strip():
        raise ValidationFailed("The message is empty.", field="message")
    ctx.files = check_files(
        ((a.filename, a.content) for a in message.attachments),
        allowed_types=ctx.allowed_types,
        max_files=ctx.max_files,
        max_bytes=ctx.max_bytes,
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


def bounce(ctx: Context) -> None:
    """A delivery report marks the message it is about `failed` (with the reason) and flags the address.

    A bounce never opens a case and is never answered; the raw report stays with the received mail.
    """
    report = ctx.message.bounce
    if report is None:
        return
    original = None
    if report.original_message_id:
        original = (
            Message.objects.select_related("conversation")
            .filter(
                shop=ctx.shop,
                rfc_message_id=mailthreads.strip_angles(report.original_message_id),
                direction=Message.Direction.OUTBOUND,
            )
            .first()
        )
    reason = _bounce_reason(report)
    if original is not None:
        ctx.conversation = original.conversation
        if report.permanent and original.delivery_status != Message.Delivery.FAILED:
            conversations.delivery_mark(message=original, ok=False, error=reason, count_attempt=False)
    if report.permanent and report.recipient:
        contacts.identity_flag(shop_id=ctx.shop.pk, kind="email", value=report.recipient, reason=reason[:200])
    raise Stop(BOUNCE, reason)


def _bounce_reason(report: BounceReport) -> str:
    what = "The message could not be delivered" if report.permanent else "Delivery is delayed"
    parts = [p for p in (report.recipient, report.status, report.diagnostic) if p]
    return f"{what}: {' — '.join(parts)}" if parts else what


_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?reply|out of (the )?office|autoreply|automatyczna odpowied[zź]|nieobecno[sś][cć]|"
    r"автоответ|автоматический ответ|вне офиса)",
    re.IGNORECASE,
)


def guard_loops(ctx: Context) -> None:
    """Auto-replies never open a case (they are kept on an existing one) and never get an acknowledgment.

    Our own mail coming back (its Message-ID is one we gave a reply) is a loop and is not stored again.
    """
    message = ctx.message
    ctx.is_auto_reply = message.auto_submitted or bool(_AUTO_SUBJECT.match(message.subject or ""))
    sender = (message.sender.email or "").strip().lower()
    if sender and sender in own_addresses(ctx.shop):
        ctx.is_own = True
        if (
            message.rfc_message_id
            and Message.objects.filter(
                shop=ctx.shop,
                rfc_message_id=message.rfc_message_id,
                direction=Message.Direction.OUTBOUND,
            ).exists()
        ):
            raise Stop(REJECTED, "Our own message came back (mail loop).")


def own_addresses(shop: Shop) -> set[str]:
    """Every address the shop sends from or receives at: its default, its agents', its mail inboxes'."""
    found = {a.lower() for a in (shop.sender_email,) if a}
    found.update(
        a.lower()
        for a in Agent.objects.filter(shop=shop)
        .exclude(sender_email="")
        .values_list("sender_email", flat=True)
    )
    for config in Inbox.objects.filter(shop=shop, kind="email").values_list("config", flat=True):
        address = str((config or {}).get("address", "")).lower()
        if address:
            found.add(address)
    return found


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
    """Join the conversation the message belongs to, strongest hint first:

    1. an authenticated conversation id (portal reply, agent logging on a case);
    2. References / In-Reply-To naming a message of a case (Message-IDs are unguessable);
    3. a signed plus-address reply token (`support+c1234-<sig>@…`);
    4. `[#1234]` in the subject — only when the sender takes part in that case, so a stranger who types
       a case number gets a case of their own, never someone else's.
    A reply to a closed case reopens it, or starts a linked follow-up when the shop says so.
    """
    assert ctx.contact is not None
    message = ctx.message
    if message.conversation_id is not None:
        ctx.conversation = Conversation.objects.filter(
            pk=message.conversation_id, shop=ctx.shop, contact=ctx.contact
        ).first()
        if ctx.conversation is None:
            raise Stop(REJECTED, "Unknown conversation.")
    if ctx.conversation is None:
        ctx.conversation = _by_references(ctx.shop, message)
    if ctx.conversation is None and message.recipients:
        number = mailthreads.number_from_recipients(message.recipients, shop_id=ctx.shop.pk)
        if number is not None:
            ctx.conversation = Conversation.objects.filter(shop=ctx.shop, number=number).first()
    if ctx.conversation is None and message.subject:
        number = mailthreads.number_from_subject(message.subject)
        if number is not None:
            candidate = Conversation.objects.filter(shop=ctx.shop, number=number).first()
            if candidate is not None and _takes_part(ctx.contact, _final(candidate)):
                ctx.conversation = candidate
    if ctx.conversation is not None:
        ctx.conversation = _final(ctx.conversation)
        if (
            ctx.conversation.status == Status.CLOSED
            and not ctx.is_auto_reply
            and ctx.shop.closed_reply == Shop.ClosedReply.FOLLOW_UP
        ):
            ctx.follow_up_of, ctx.conversation = ctx.conversation, None
    if ctx.conversation is None and ctx.is_auto_reply:
        raise Stop(AUTO_REPLY, "An automatic reply does not open a case.")
    if ctx.conversation is None and ctx.is_own:
        # Our own notifications or a loop through a forwarder; an agent's copy of a reply still threads.
        raise Stop(REJECTED, "Mail from the shop's own address does not open a case.")


def _final(conversation: Conversation) -> Conversation:
    """Follow merges to the case that lives on (bounded: merge chains are short and acyclic)."""
    for _hop in range(10):
        if not conversation.merged_into_id:
            break
        conversation = Conversation.objects.get(pk=conversation.merged_into_id)
    return conversation


def _by_references(shop: Shop, message: InboundMessage) -> Conversation | None:
    ids = [mailthreads.strip_angles(i) for i in (message.in_reply_to, *reversed(message.references)) if i]
    ids = [i for i in dict.fromkeys(ids) if i][:50]
    if not ids:
        return None
    found = dict(
        Message.objects.filter(shop=shop, rfc_message_id__in=ids).values_list(
            "rfc_message_id", "conversation_id"
        )
    )
    for rfc_id in ids:  # the nearest ancestor wins
        if rfc_id in found:
            return Conversation.objects.filter(pk=found[rfc_id]).first()
    return None


def _takes_part(contact: Contact, conversation: Conversation) -> bool:
    if conversation.contact_id == contact.pk:
        return True
    return Message.objects.filter(conversation=conversation, author_contact=contact).exists()


def route(ctx: Context) -> None:
    """A new case goes to the agent whose own address the customer wrote to, else per the routing rules."""
    if ctx.conversation is not None:
        return
    assert ctx.contact is not None
    recipients = {r.lower() for r in ctx.message.recipients}
    if recipients:
        agent = (
            Agent.objects.filter(shop=ctx.shop, sender_email__in=recipients).select_related("user").first()
        )
        # An agent on leave does not hold the mail written to them: it follows the routing rules.
        if agent is not None and agent_can_take(agent, clock.now()):
            ctx.route = Route(assignee=agent, team=ctx.inbox.team, reason="agent_address")
            return
    ctx.route = route_new_conversation(contact=ctx.contact, team=ctx.inbox.team)


STEPS: list[Callable[[Context], None]] = [
    verify,
    deduplicate,
    bounce,
    guard_loops,
    identify_contact,
    thread,
    route,
]


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
                follow_up_of=ctx.follow_up_of,
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
            meta={
                **msg.meta,
                **({"auto_reply": True} if ctx.is_auto_reply else {}),
                **({"own_address": True} if ctx.is_own else {}),
            },
            at=at,
            direction=msg.direction,
            logged_by=ctx.logged_by,
            count_for_sla=not ctx.is_auto_reply,
            quoted=msg.quoted,
            rfc_message_id=mailthreads.strip_angles(msg.rfc_message_id),
            content_ids={a.filename: a.content_id for a in msg.attachments if a.content_id} or None,
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
    max_bytes: int | None = None,
) -> Result:
    """Run every step in order and store the message; a Stop ends the run with its outcome.

    ValidationFailed propagates (the form/API shows it as a field error); nothing is stored then.
    """
    ctx = Context(
        inbox=inbox, message=message, allowed_types=allowed_types, max_files=max_files, max_bytes=max_bytes
    )
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
