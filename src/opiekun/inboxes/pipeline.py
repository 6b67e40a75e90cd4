"""The ordered inbound pipeline every channel goes through.

    verify → de-duplicate → bounce → loop/auto-reply guard → identify contact → thread → route
    → store + SLA stamp

It runs over a batch of messages of one inbox (a form post is a batch of one; a mailbox fetch or an
import is many), so each step asks the database once for the whole batch instead of once per
message — that is what lets e-mail ingest group-commit. Each step is a function over the batch; the
list STEPS is the whole order. A step may end one message's run with an outcome (duplicate,
auto_reply, bounce, rejected) or a field error, without touching the others. Idempotency lives in
the schema: the (inbox, external_id) unique constraint is the final word on duplicates.
"""

from __future__ import annotations

import datetime as dt
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
from .services import inbox_touch

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


@dataclass(frozen=True)
class Result:
    outcome: str
    conversation: Conversation | None = None
    message: Message | None = None
    contact: Contact | None = None
    reason: str = ""
    # Set when the message itself is unacceptable (empty, a forbidden file): the form shows it as a
    # field error; a mailbox quarantines the mail with it. Nothing was stored.
    error: ValidationFailed | None = None


@dataclass(eq=False)  # compared and hashed by identity: a batch keys its look-ups by context
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
    # An earlier message of the same batch this one replies to: it joins whatever case that one gets.
    joins: Context | None = None
    route: Route | None = None
    is_auto_reply: bool = False
    # Mail from one of the shop's own addresses: joins a case it threads into (an agent's copy of a
    # reply), never opens one and is never acknowledged.
    is_own: bool = False
    follow_up_of: Conversation | None = None
    logged_by: Agent | None = None
    at: dt.datetime | None = None  # when the message is recorded as arrived (set by store)
    result: Result | None = None

    def __post_init__(self) -> None:
        self.shop = self.inbox.shop


@dataclass
class Batch:
    inbox: Inbox
    shop: Shop
    contexts: list[Context]
    _own: set[str] | None = None

    def live(self) -> list[Context]:
        return [c for c in self.contexts if c.result is None]

    def own_addresses(self) -> set[str]:
        if self._own is None:
            self._own = own_addresses(self.shop)
        return self._own


def _each(batch: Batch, step: Callable[[Context], None]) -> None:
    """Run a one-message step over every live message; a Stop or field error ends only that one."""
    for ctx in batch.live():
        _guarded(ctx, step)


def _guarded(ctx: Context, step: Callable[[Context], None]) -> None:
    try:
        step(ctx)
    except Stop as stop:
        ctx.result = Result(stop.outcome, ctx.conversation, None, ctx.contact, stop.reason)
    except ValidationFailed as exc:
        ctx.result = Result(REJECTED, None, None, ctx.contact, str(exc), error=exc)


# -- verify


def verify(batch: Batch) -> None:
    """The transport verified authenticity (driver.verify); here: the inbox is on and the content sane."""
    _each(batch, _verify_one)


def _verify_one(ctx: Context) -> None:
    if not ctx.inbox.is_active:
        raise Stop(REJECTED, "This inbox is switched off.")
    message = ctx.message
    if not message.text.strip() and not message.attachments and not message.subject.strip():
        raise ValidationFailed("The message is empty.", field="message")
    if len(message.text) > conversations.MAX_TEXT:
        raise ValidationFailed("The message is too long.", field="text")
    ctx.files = check_files(
        ((a.filename, a.content) for a in message.attachments),
        allowed_types=ctx.allowed_types,
        max_files=ctx.max_files,
        max_bytes=ctx.max_bytes,
    )
    if message.logged_by_agent_id is not None:
        ctx.logged_by = Agent.objects.filter(pk=message.logged_by_agent_id, shop=ctx.shop).first()
        if ctx.logged_by is None:
            raise Stop(REJECTED, "Unknown agent.")


# -- de-duplicate


def sibling_inboxes(inbox: Inbox) -> list[int]:
    """The shop's inboxes of the same kind (this one included): what one message is de-duplicated across.

    A customer who writes to two of the shop's addresses (support@ and sales@, both mailboxes here) sends
    one mail that arrives twice; it must open one case, not two.
    """
    return list(Inbox.objects.filter(shop_id=inbox.shop_id, kind=inbox.kind).values_list("id", flat=True))


def deduplicate(batch: Batch) -> None:
    """A message already stored in any of the shop's inboxes of this kind (or earlier in the batch) under
    its external id is a duplicate."""
    live = [c for c in batch.live() if c.message.external_id]
    if not live:
        return
    stored = set(
        Message.objects.filter(
            inbox_id__in=sibling_inboxes(batch.inbox), external_id__in={c.message.external_id for c in live}
        ).values_list("external_id", flat=True)
    )
    for ctx in live:
        if ctx.message.external_id in stored:
            ctx.result = Result(DUPLICATE)
        else:
            stored.add(ctx.message.external_id)


# -- bounce


def bounce(batch: Batch) -> None:
    _each(batch, _bounce_one)


def _bounce_one(ctx: Context) -> None:
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


# -- loop / auto-reply guard

_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?reply|out of (the )?office|autoreply|automatyczna odpowied[zź]|nieobecno[sś][cć]|"
    r"автоответ|автоматический ответ|вне офиса)",
    re.IGNORECASE,
)


def guard_loops(batch: Batch) -> None:
    """Auto-replies never open a case (they are kept on an existing one) and never get an acknowledgment.

    Our own mail coming back (its Message-ID is one we gave a reply) is a loop and is not stored again.
    """
    own_senders = []
    for ctx in batch.live():
        message = ctx.message
        ctx.is_auto_reply = message.auto_submitted or bool(_AUTO_SUBJECT.match(message.subject or ""))
        sender = (message.sender.email or "").strip().lower()
        if sender and sender in batch.own_addresses():
            ctx.is_own = True
            if message.rfc_message_id:
                own_senders.append(ctx)
    if own_senders:
        ours = set(
            Message.objects.filter(
                shop=batch.shop,
                direction=Message.Direction.OUTBOUND,
                rfc_message_id__in={mailthreads.strip_angles(c.message.rfc_message_id) for c in own_senders},
            ).values_list("rfc_message_id", flat=True)
        )
        for ctx in own_senders:
            if mailthreads.strip_angles(ctx.message.rfc_message_id) in ours:
                ctx.result = Result(REJECTED, reason="Our own message came back (mail loop).")


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


# -- identify the contact


def identify_contact(batch: Batch) -> None:
    """Who wrote: an authenticated contact as given, else the owner of the sender's addresses (or new)."""
    pending: list[tuple[Context, contacts.Identify]] = []
    live = batch.live()
    # Authenticated senders (a portal or chat session knows its contact): one query for the batch.
    given = {c.message.sender.contact_id for c in live if c.message.sender.contact_id is not None}
    known = Contact.objects.filter(shop=batch.shop, pk__in=given).in_bulk() if given else {}
    for ctx in live:
        sender = ctx.message.sender
        if sender.contact_id is not None:
            ctx.contact = known.get(sender.contact_id)
            if ctx.contact is None:
                ctx.result = Result(REJECTED, reason="Unknown contact.")
            continue
        try:
            addresses = contacts.addresses_from(
                email=sender.email,
                phone=sender.phone,
                chat_session=sender.chat_session,
                messenger_id=sender.messenger_id,
            )
        except ValueError as exc:
            error = ValidationFailed(str(exc), field="email")
            ctx.result = Result(REJECTED, reason=str(error), error=error)
            continue
        if not addresses:
            error = ValidationFailed("We need an address to answer you.", field="email")
            ctx.result = Result(REJECTED, reason=str(error), error=error)
            continue
        pending.append((ctx, contacts.Identify(addresses, sender.name, ctx.message.language)))
    if pending:
        found = contacts.contacts_identify_many(shop=batch.shop, requests=[r for _c, r in pending])
        for (ctx, _request), contact in zip(pending, found, strict=True):
            ctx.contact = contact


# -- thread


def thread(batch: Batch) -> None:
    """Join the conversation each message belongs to, strongest hint first:

    1. an authenticated conversation id (portal reply, agent logging on a case);
    2. References / In-Reply-To naming a message of a case (Message-IDs are unguessable) — or an
       earlier message of the same batch;
    3. a signed plus-address reply token (`support+c1234-<sig>@…`);
    4. `[#1234]` in the subject — only when the sender takes part in that case, so a stranger who types
       a case number gets a case of their own, never someone else's.
    A reply to a closed case reopens it, or starts a linked follow-up when the shop says so.
    """
    live = batch.live()
    references = {ctx: _reference_ids(ctx.message) for ctx in live}
    wanted = {i for ids in references.values() for i in ids}
    by_rfc: dict[str, int] = {}
    if wanted:
        by_rfc = dict(
            Message.objects.filter(shop=batch.shop, rfc_message_id__in=wanted).values_list(
                "rfc_message_id", "conversation_id"
            )
        )
    numbers: dict[Context, tuple[int | None, int | None]] = {}
    for ctx in live:
        token = (
            mailthreads.number_from_recipients(ctx.message.recipients, shop_id=batch.shop.pk)
            if ctx.message.recipients
            else None
        )
        numbers[ctx] = (token, mailthreads.number_from_subject(ctx.message.subject))
    # Authenticated conversation ids (portal replies, chat sessions) load with the referenced ones.
    given = {ctx.message.conversation_id for ctx in live if ctx.message.conversation_id is not None}
    conversation_ids = set(by_rfc.values()) | given
    conversation_numbers = {n for pair in numbers.values() for n in pair if n is not None}
    loaded: dict[int, Conversation] = {}
    if conversation_ids:
        loaded.update(
            (c.pk, c) for c in Conversation.objects.filter(shop=batch.shop, pk__in=conversation_ids)
        )
    by_number: dict[int, Conversation] = {}
    if conversation_numbers:
        for c in Conversation.objects.filter(shop=batch.shop, number__in=conversation_numbers):
            by_number[c.number] = c
    earlier: dict[str, Context] = {}
    for ctx in live:
        _guarded(ctx, lambda c: _thread_one(c, references[c], by_rfc, loaded, numbers[c], by_number, earlier))
        rfc_id = mailthreads.strip_angles(ctx.message.rfc_message_id)
        if rfc_id and ctx.result is None:
            earlier.setdefault(rfc_id, ctx)


def _reference_ids(message: InboundMessage) -> list[str]:
    """In-Reply-To, then References nearest first — without angle brackets, at most 50."""
    ids = [mailthreads.strip_angles(i) for i in (message.in_reply_to, *reversed(message.references)) if i]
    return [i for i in dict.fromkeys(ids) if i][:50]


def _thread_one(
    ctx: Context,
    reference_ids: list[str],
    by_rfc: dict[str, int],
    loaded: dict[int, Conversation],
    numbers: tuple[int | None, int | None],
    by_number: dict[int, Conversation],
    earlier: dict[str, Context],
) -> None:
    assert ctx.contact is not None
    message = ctx.message
    if message.conversation_id is not None:
        # Only the sender's own case of this shop (loaded for the batch with the shop as a condition).
        ctx.conversation = loaded.get(message.conversation_id)
        if ctx.conversation is None or ctx.conversation.contact_id != ctx.contact.pk:
            ctx.conversation = None
            raise Stop(REJECTED, "Unknown conversation.")
    if ctx.conversation is None:
        for rfc_id in reference_ids:  # the nearest ancestor wins
            if rfc_id in by_rfc and by_rfc[rfc_id] in loaded:
                ctx.conversation = loaded[by_rfc[rfc_id]]
                break
            if rfc_id in earlier:
                ctx.joins = earlier[rfc_id]
                return
    token_number, subject_number = numbers
    if ctx.conversation is None and token_number is not None:
        ctx.conversation = by_number.get(token_number)
    if ctx.conversation is None and subject_number is not None:
        candidate = by_number.get(subject_number)
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
    _no_case_yet(ctx)


def _no_case_yet(ctx: Context) -> None:
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


def _takes_part(contact: Contact, conversation: Conversation) -> bool:
    if conversation.contact_id == contact.pk:
        return True
    return Message.objects.filter(conversation=conversation, author_contact=contact).exists()


# -- route


def route(batch: Batch) -> None:
    """A new case goes to the agent whose own address the customer wrote to, else per the routing rules."""
    new = [c for c in batch.live() if c.conversation is None and c.joins is None]
    recipients = {r.lower() for c in new for r in c.message.recipients}
    agents: dict[str, Agent] = {}
    if recipients:
        for agent in Agent.objects.filter(shop=batch.shop, sender_email__in=recipients).select_related(
            "user"
        ):
            agents.setdefault(agent.sender_email.lower(), agent)
    now = clock.now()
    for ctx in new:
        assert ctx.contact is not None
        addressed = next((agents[r.lower()] for r in ctx.message.recipients if r.lower() in agents), None)
        # An agent on leave does not hold the mail written to them: it follows the routing rules.
        if addressed is not None and agent_can_take(addressed, now):
            ctx.route = Route(assignee=addressed, team=ctx.inbox.team, reason="agent_address")
        else:
            ctx.route = route_new_conversation(contact=ctx.contact, team=ctx.inbox.team)


STEPS: list[Callable[[Batch], None]] = [
    verify,
    deduplicate,
    bounce,
    guard_loops,
    identify_contact,
    thread,
    route,
]


# -- store


def store(batch: Batch) -> None:
    """Create the conversations needed and the messages, stamping the SLA clock (in one transaction)."""
    with transaction.atomic():
        _settle_joins(batch)
        live = batch.live()
        for ctx in live:
            ctx.at = ctx.message.received_at or clock.now()
        new = [c for c in live if c.conversation is None and c.joins is None]
        specs = [
            conversations.NewConversation(
                contact=c.contact,
                subject=c.message.subject or _subject_from(c.message.text),
                inbox=c.inbox,
                route=c.route,
                order_ref=c.message.order_ref,
                language=c.message.language,
                at=c.at,
                follow_up_of=c.follow_up_of,
                first_message_at=c.at,
                awaits_reply=c.message.direction == "in" and not c.is_auto_reply,
            )
            for c in new
        ]
        created = conversations.conversations_create_many(shop=batch.shop, specs=specs)
        for ctx, conversation in zip(new, created, strict=True):
            ctx.conversation = conversation
        fresh = {id(c) for c in new}
        for ctx in live:
            if ctx.joins is not None:
                ctx.conversation = ctx.joins.conversation
            msg = ctx.message
            case = ctx.conversation
            assert case is not None
            if id(ctx) not in fresh and msg.order_ref and not case.order_ref:
                conversations.conversation_link_order(conversation=case, order_ref=msg.order_ref, actor=None)
        records = [_record(ctx, opens=id(ctx) in fresh) for ctx in live]
        stored = conversations.messages_record_inbound_many(records)
        if live:
            inbox_touch({batch.inbox.pk})
        for ctx, message in zip(live, stored, strict=True):
            outcome = CREATED if id(ctx) in fresh else APPENDED
            ctx.result = Result(outcome, ctx.conversation, message, ctx.contact)


def _settle_joins(batch: Batch) -> None:
    """A reply to a message earlier in the batch joins that one's case — if it got one."""
    for ctx in batch.live():
        if ctx.joins is None:
            continue
        target = ctx.joins
        while target.joins is not None and target.result is None:
            target = target.joins
        if target.result is not None:  # the message it answers was a duplicate, bounce…: think again
            ctx.joins = None
            ctx.conversation = target.result.conversation
            _guarded(ctx, _no_case_yet)
            if ctx.result is None and ctx.conversation is None:
                ctx.route = route_new_conversation(contact=ctx.contact, team=ctx.inbox.team)
        else:
            ctx.joins = target


def _record(ctx: Context, *, opens: bool) -> conversations.InboundRecord:
    msg = ctx.message
    assert ctx.conversation is not None
    return conversations.InboundRecord(
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
        at=ctx.at,
        direction=msg.direction,
        logged_by=ctx.logged_by,
        count_for_sla=not ctx.is_auto_reply,
        quoted=msg.quoted,
        rfc_message_id=mailthreads.strip_angles(msg.rfc_message_id),
        content_ids={a.filename: a.content_id for a in msg.attachments if a.content_id} or None,
        opens_conversation=opens,
    )


def _subject_from(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:80] + ("…" if len(first) > 80 else "")


# -- running it


def process_many(
    *,
    inbox: Inbox,
    messages: list[InboundMessage],
    allowed_types: list[str] | None = None,
    max_files: int | None = None,
    max_bytes: int | None = None,
) -> list[Result]:
    """Run every step over the batch and store what survives; one Result per message, in order.

    A field error is returned in its Result (`.error`), never raised. When another process stored one
    of the messages at the same moment (a unique constraint trips), the batch is redone one by one.
    """
    contexts = [
        Context(inbox=inbox, message=m, allowed_types=allowed_types, max_files=max_files, max_bytes=max_bytes)
        for m in messages
    ]
    batch = Batch(inbox=inbox, shop=inbox.shop, contexts=contexts)
    try:
        with transaction.atomic():
            for step in STEPS:
                step(batch)
            store(batch)
    except IntegrityError:
        if len(messages) == 1:
            message = messages[0]
            if (
                message.external_id
                and Message.objects.filter(inbox=inbox, external_id=message.external_id).exists()
            ):
                return [Result(DUPLICATE)]
            raise
        return [
            process_many(
                inbox=inbox,
                messages=[m],
                allowed_types=allowed_types,
                max_files=max_files,
                max_bytes=max_bytes,
            )[0]
            for m in messages
        ]
    return [c.result or Result(REJECTED, reason="not processed") for c in contexts]


def process(
    *,
    inbox: Inbox,
    message: InboundMessage,
    allowed_types: list[str] | None = None,
    max_files: int | None = None,
    max_bytes: int | None = None,
) -> Result:
    """Run one message through the pipeline; a Stop ends the run with its outcome.

    ValidationFailed propagates (the form/API shows it as a field error); nothing is stored then.
    """
    (result,) = process_many(
        inbox=inbox, messages=[message], allowed_types=allowed_types, max_files=max_files, max_bytes=max_bytes
    )
    if result.error is not None:
        raise result.error
    return result
