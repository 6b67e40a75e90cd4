"""Writes on conversations and messages. Every UI, API, socket and task goes through these.

Each service opens a transaction, validates, writes, appends timeline Events, and publishes domain
events that subscribers (realtime, delivery) receive after commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from opiekun.agents.models import Agent, Team
from opiekun.agents.services import audit_record
from opiekun.core import clock
from opiekun.core.bulk import bulk_insert, execute_arrays, value_rows
from opiekun.core.errors import ValidationFailed
from opiekun.core.events import DomainEvent, publish, publish_many
from opiekun.shops.models import Shop

from .attachments import CheckedFile, attachments_store, attachments_store_many
from .events import ConversationChanged, MessageCreated, MessageUpdated, OutboundQueued
from .listcache import list_version_bump
from .models import OPEN_STATUSES, ChannelKind, Conversation, Message, Priority, Status, Tag
from .routing import Route, may_auto_assign
from .search import message_search_text, search_entry, search_index_entries
from .timeline import event_append, event_build

MAX_TEXT = 100_000

# Which statuses an agent may move a conversation to from each status.
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {
        Status.OPEN,
        Status.PENDING_CUSTOMER,
        Status.PENDING_INTERNAL,
        Status.RESOLVED,
        Status.CLOSED,
    },
    Status.OPEN: {Status.PENDING_CUSTOMER, Status.PENDING_INTERNAL, Status.RESOLVED, Status.CLOSED},
    Status.PENDING_CUSTOMER: {Status.OPEN, Status.PENDING_INTERNAL, Status.RESOLVED, Status.CLOSED},
    Status.PENDING_INTERNAL: {Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED},
    Status.RESOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: {Status.OPEN},
}


def _conversation_changed(*, shop_id: int, conversation_id: int, what: str, number: int = 0) -> None:
    """Inside the change's transaction: move the shop's list version on, announce the change after commit
    (with the case number when the caller has it: the desk's fan-out then needs no lookup)."""
    list_version_bump(shop_id=shop_id)
    publish(ConversationChanged(shop_id=shop_id, conversation_id=conversation_id, what=what, number=number))


def _sla_due(shop: Shop, since: dt.datetime) -> dt.datetime:
    return since + dt.timedelta(minutes=shop.sla_first_response_minutes)


@dataclass
class NewConversation:
    """One case for `conversations_create_many`."""

    contact: Any
    subject: str = ""
    inbox: Any = None
    route: Route | None = None
    order_ref: str = ""
    language: str = ""
    at: dt.datetime | None = None
    follow_up_of: Conversation | None = None
    # The case opens with a message arriving at `first_message_at` (recorded right after with
    # `opens_conversation=True`): created already counting it, and waiting for an answer when
    # `awaits_reply` — one insert instead of an insert and an update of every index.
    first_message_at: dt.datetime | None = None
    awaits_reply: bool = False


def conversation_create(
    *,
    shop: Shop,
    contact: Any,
    subject: str = "",
    inbox: Any = None,
    route: Route | None = None,
    order_ref: str = "",
    language: str = "",
    at: dt.datetime | None = None,
    follow_up_of: Conversation | None = None,
) -> Conversation:
    """A new case with the next per-shop number, routed per `route` (assignee/team)."""
    spec = NewConversation(contact, subject, inbox, route, order_ref, language, at, follow_up_of)
    return conversations_create_many(shop=shop, specs=[spec])[0]


def conversations_follow_caretaker(*, contact: Any) -> None:
    """Copy the contact's caretaker onto all its conversations (Conversation.caretaker; inside the caller's
    transaction). Every write of Contact.caretaker or of a conversation's contact calls it; the caller's
    own change announcement (ContactChanged, ConversationChanged) moves the lists on."""
    Conversation.objects.filter(contact_id=contact.pk).exclude(caretaker_id=contact.caretaker_id).update(
        caretaker_id=contact.caretaker_id
    )


def conversations_create_many(*, shop: Shop, specs: list[NewConversation]) -> list[Conversation]:
    """New cases with consecutive per-shop numbers (one counter bump for all), their timeline entries."""
    if not specs:
        return []
    with transaction.atomic():
        Shop.objects.filter(pk=shop.pk).update(conversation_seq=F("conversation_seq") + len(specs))
        last = Shop.objects.filter(pk=shop.pk).values_list("conversation_seq", flat=True).get()
        created = []
        for offset, spec in enumerate(specs):
            at = spec.at or clock.now()
            route = spec.route
            opened = spec.first_message_at
            waiting = opened if opened is not None and spec.awaits_reply else None
            created.append(
                Conversation(
                    shop=shop,
                    number=last - len(specs) + 1 + offset,
                    subject=spec.subject.strip()[:300],
                    contact=spec.contact,
                    inbox=spec.inbox,
                    assignee=route.assignee if route else None,
                    team=route.team if route else None,
                    caretaker_id=spec.contact.caretaker_id,
                    order_ref=spec.order_ref.strip()[:64],
                    language=spec.language,
                    created_at=at,
                    updated_at=opened or at,
                    last_message_at=opened or at,
                    message_count=1 if opened is not None else 0,
                    waiting_since=waiting,
                    sla_due_at=_sla_due(shop, waiting) if waiting is not None else None,
                    follow_up_of=spec.follow_up_of,
                )
            )
        bulk_insert(created)
        events = []
        for spec, conversation in zip(specs, created, strict=True):
            route = spec.route
            events.append(
                event_build(
                    shop_id=shop.pk,
                    conversation=conversation,
                    kind="conversation_created",
                    data={
                        "number": conversation.number,
                        "channel": getattr(spec.inbox, "kind", ""),
                        "routed": route.reason if route else "",
                        "assignee": route.assignee.display_name if route and route.assignee else None,
                    },
                )
            )
            if spec.follow_up_of is not None:
                events.append(
                    event_build(
                        shop_id=shop.pk,
                        conversation=spec.follow_up_of,
                        kind="follow_up_opened",
                        data={"number": conversation.number},
                    )
                )
        bulk_insert(events)
        list_version_bump(shop_id=shop.pk)
        for conversation in created:
            publish(ConversationChanged(shop_id=shop.pk, conversation_id=conversation.pk, what="created"))
    return created


@dataclass
class InboundRecord:
    """One message for `messages_record_inbound_many` (see `message_record_inbound`)."""

    conversation: Conversation
    channel: str
    text: str
    inbox: Any = None
    html: str = ""
    external_id: str | None = None
    author_contact: Any = None
    files: Iterable[CheckedFile] = ()
    meta: dict[str, Any] | None = None
    at: dt.datetime | None = None
    direction: str = Message.Direction.INBOUND
    logged_by: Agent | None = None
    count_for_sla: bool = True
    quoted: str = ""
    rfc_message_id: str = ""
    content_ids: dict[str, str] | None = None
    # This message opened its case (conversations_create_many with `first_message_at`): the case
    # already counts it and runs its clock, so there is nothing to update.
    opens_conversation: bool = False


def message_record_inbound(**fields: Any) -> Message:
    """Store a customer's message on `conversation`; reopen it and start the SLA clock if needed.

    The (inbox, external_id) unique constraint makes a re-delivered message fail with IntegrityError,
    which the pipeline turns into a "duplicate" outcome. Logged contacts (channel note) may be outbound.
    Takes the fields of InboundRecord as keywords.
    """
    return messages_record_inbound_many([InboundRecord(**fields)])[0]


_REOPENS = (Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED)


def _bump_cases(bumps: list[tuple[int, dt.datetime]]) -> None:
    """One more message on each case, at its time: one statement for all of them (not one per case).
    A case that got several messages counts them all and keeps the time of the last, as row-by-row
    updates would."""
    if not bumps:
        return
    merged: dict[int, list[Any]] = {}
    for pk, at in bumps:
        entry = merged.setdefault(pk, [at, 0])
        entry[0], entry[1] = at, entry[1] + 1
    quote = connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    if connection.vendor == "postgresql":
        execute_arrays(
            f"UPDATE {table} SET last_message_at = v.at, updated_at = v.at, "
            f"message_count = {table}.message_count + v.n "
            "FROM UNNEST((%b)::bigint[], (%b)::timestamptz[], (%b)::integer[]) AS v(id, at, n) "
            f"WHERE {table}.id = v.id",
            [list(merged), [at for at, _n in merged.values()], [n for _at, n in merged.values()]],
        )
        return
    field = Conversation._meta.get_field("last_message_at")
    rows = [(pk, field.get_db_prep_save(at, connection), n) for pk, (at, n) in merged.items()]
    with connection.cursor() as cursor:
        for values, flat in value_rows(rows):
            cursor.execute(
                f"UPDATE {table} SET last_message_at = v.column2, updated_at = v.column2, "
                f"message_count = {table}.message_count + v.column3 "
                f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
                flat,
            )


def _message_created(message: Message, record: InboundRecord) -> MessageCreated:
    return MessageCreated(
        shop_id=message.shop_id,
        conversation_id=record.conversation.pk,
        message_id=message.pk,
        direction=record.direction,
        is_internal=False,
        number=record.conversation.number or 0,
        text=message.text,
        subject=record.conversation.subject,
        order_ref=record.conversation.order_ref or "",
    )


def _apply_inbound(conversation: Conversation, changes: set[str]) -> None:
    """Write one message's effect on an existing case's status and clock with conditional updates, so
    an agent's change that committed meanwhile (PostgreSQL) is not overwritten blindly. (The count and
    the time of the last message are written for all of a batch at once, by `_bump_cases`.)"""
    if "status" in changes:
        Conversation.objects.filter(pk=conversation.pk, status__in=_REOPENS).update(
            status=Status.OPEN, resolved_at=None, closed_at=None
        )
    if "waiting_since" in changes:
        Conversation.objects.filter(pk=conversation.pk, waiting_since__isnull=True).update(
            waiting_since=conversation.waiting_since, sla_due_at=conversation.sla_due_at
        )


def messages_record_inbound_many(records: list[InboundRecord]) -> list[Message]:
    """Store many customers' messages at once: one insert each for messages, attachments, the search
    index and timeline entries, one update per touched case (reopen, SLA clock), in one transaction."""
    for record in records:
        if len(record.text) > MAX_TEXT:
            raise ValidationFailed("The message is too long.", field="text")
    if not records:
        return []
    # Worked out before the transaction, which on SQLite holds the writers' lock from its BEGIN.
    messages = []
    for record in records:
        record.at = record.at or clock.now()
        messages.append(
            Message(
                shop_id=record.conversation.shop_id,
                conversation=record.conversation,
                direction=record.direction,
                channel=record.channel,
                inbox=record.inbox,
                author_contact=record.author_contact,
                author_agent=record.logged_by,
                text=record.text,
                html=record.html,
                quoted=record.quoted,
                rfc_message_id=record.rfc_message_id[:255],
                external_id=record.external_id,
                meta=record.meta or {},
                created_at=record.at,
            )
        )
    entries = [
        search_entry(
            shop_id=m.shop_id,
            is_internal=False,
            text=message_search_text(m),
            language=r.conversation.language or getattr(r.author_contact, "language", ""),
        )
        for m, r in zip(messages, records, strict=True)
    ]
    # The pipelines call this inside their own transaction and handle a failure outside it: a savepoint
    # would only add two statements under the writers' lock.
    with transaction.atomic(savepoint=False):
        bulk_insert(messages)
        attachments_store_many(
            [(m, list(r.files), r.content_ids) for m, r in zip(messages, records, strict=True) if r.files]
        )
        search_index_entries((m.pk, e) for m, e in zip(messages, entries, strict=True))
        events = []
        announced: list[DomainEvent] = []
        shops: dict[int, Shop] = {}
        touched: dict[int, Conversation] = {}
        bumps: list[tuple[int, dt.datetime]] = []
        for message, record in zip(messages, records, strict=True):
            conversation = record.conversation
            touched[conversation.pk] = conversation
            at = record.at
            assert at is not None
            if record.opens_conversation:
                announced.append(_message_created(message, record))
                continue
            bumps.append((conversation.pk, at))
            conversation.last_message_at = conversation.updated_at = at
            conversation.message_count = (conversation.message_count or 0) + 1
            changes = {"last_message_at", "updated_at", "message_count"}
            if record.direction == Message.Direction.INBOUND and record.count_for_sla:
                if conversation.status in _REOPENS:
                    if conversation.status in (Status.RESOLVED, Status.CLOSED):
                        events.append(
                            event_build(
                                shop_id=conversation.shop_id,
                                conversation=conversation,
                                kind="reopened",
                                data={"by": "customer"},
                            )
                        )
                    conversation.status, conversation.resolved_at, conversation.closed_at = (
                        Status.OPEN,
                        None,
                        None,
                    )
                    changes |= {"status", "resolved_at", "closed_at"}
                if conversation.waiting_since is None:
                    shop = shops.get(conversation.shop_id)
                    if shop is None:
                        shop = shops[conversation.shop_id] = Shop.objects.get(pk=conversation.shop_id)
                    conversation.waiting_since, conversation.sla_due_at = at, _sla_due(shop, at)
                    changes |= {"waiting_since", "sla_due_at"}
            _apply_inbound(conversation, changes)
            announced.append(_message_created(message, record))
        _bump_cases(bumps)
        bulk_insert(events)
        for shop_id in {c.shop_id for c in touched.values()}:
            list_version_bump(shop_id=shop_id)
        announced += [
            ConversationChanged(
                shop_id=conversation.shop_id,
                conversation_id=conversation.pk,
                what="message",
                number=conversation.number or 0,
            )
            for conversation in touched.values()
        ]
        publish_many(announced)
    return messages


def message_send(
    *,
    conversation: Conversation,
    agent: Agent,
    text: str,
    channel: str | None = None,
    inbox: Any = None,
    files: Iterable[CheckedFile] = (),
    status_after: str | None = Status.PENDING_CUSTOMER,
    ip: str | None = None,
) -> Message:
    """Queue a public reply from `agent`; the channel's delivery task sends it and records the status.

    Stamps the first response, stops the SLA clock, assigns the case to the agent when unassigned and
    (per shop setting) makes the agent caretaker of a contact who has none.
    """
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("Write a reply first.", field="text")
    if len(text) > MAX_TEXT:
        raise ValidationFailed("The reply is too long.", field="text")
    _check_same_shop(conversation, agent)
    # A reply may leave the case in any working state (not back to "new"); a closed case stays closed.
    if status_after is not None and (status_after not in Status.values or status_after == Status.NEW):
        raise ValidationFailed(
            "The conversation cannot move to that status after the reply.", field="status_after"
        )
    channel = channel or _reply_channel(conversation)
    # Everything that only reads is asked before the transaction: on SQLite it holds the one writers'
    # lock from its start, and the visitors' chat lines of every process wait behind it.
    inbox = inbox or _inbox_of_kind(conversation, channel)
    assign = conversation.assignee_id is None and may_auto_assign(conversation, agent)
    contact, shop = conversation.contact, conversation.shop
    takes_caretaker = contact.caretaker_id is None and shop.caretaker_on_first_reply
    now = clock.now()
    message = Message(
        shop_id=conversation.shop_id,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        channel=channel,
        inbox=inbox,
        author_agent=agent,
        text=text,
        delivery_status=Message.Delivery.QUEUED,
        created_at=now,
    )
    updates: dict[str, Any] = {
        "last_message_at": now,
        "updated_at": now,
        "message_count": F("message_count") + 1,
        "waiting_since": None,
        "sla_due_at": None,
        "first_response_at": Coalesce("first_response_at", Value(now)),
    }
    if assign:  # unless someone took the case meanwhile
        updates["assignee_id"] = Coalesce("assignee_id", Value(agent.pk))
    if status_after and status_after != conversation.status and conversation.status != Status.CLOSED:
        updates["status"] = status_after
        if status_after == Status.RESOLVED:
            updates["resolved_at"] = now
    entry = search_entry(
        shop_id=conversation.shop_id, is_internal=False, text=text, language=conversation.language
    )
    with transaction.atomic():
        bulk_insert([message])
        attachments_store(message=message, files=files)
        search_index_entries([(message.pk, entry)])
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
        # The contact's model lives in a layer above this one: reached through the case's relation.
        if takes_caretaker and type(contact)._default_manager.filter(
            pk=contact.pk, caretaker__isnull=True
        ).update(caretaker=agent):
            contact.caretaker = agent
            conversations_follow_caretaker(contact=contact)
            event_append(
                shop_id=shop.pk,
                contact=contact,
                kind="caretaker_set",
                actor=agent,
                data={"caretaker": agent.display_name, "reason": "first_reply"},
            )
        audit_record(
            actor=agent, action="message.send", obj=conversation, data={"message": message.pk}, ip=ip
        )
        publish(
            MessageCreated(
                shop_id=conversation.shop_id,
                conversation_id=conversation.pk,
                message_id=message.pk,
                direction=Message.Direction.OUTBOUND,
                is_internal=False,
                number=conversation.number,
            )
        )
        _conversation_changed(
            shop_id=conversation.shop_id,
            conversation_id=conversation.pk,
            what="message",
            number=conversation.number,
        )
        publish(OutboundQueued(shop_id=conversation.shop_id, message_id=message.pk))
    conversation.refresh_from_db()
    return message


def message_resend(*, message: Message, agent: Agent, ip: str | None = None) -> Message:
    """Queue a reply that could not be delivered once more, as it was (same text, files, Message-ID).

    Only a public outbound message whose delivery failed; the attempts start again from zero.
    """
    if message.direction != Message.Direction.OUTBOUND or message.is_internal:
        raise ValidationFailed("Only a reply to the customer can be sent again.")
    if message.delivery_status != Message.Delivery.FAILED:
        raise ValidationFailed("Only a reply that was not delivered can be sent again.")
    if message.shop_id != agent.shop_id:
        raise ValidationFailed("This reply belongs to another shop.")
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, delivery_status=Message.Delivery.FAILED).update(
            delivery_status=Message.Delivery.QUEUED, delivery_error="", delivery_attempts=0
        )
        if not updated:  # someone else sent it again a moment ago
            raise ValidationFailed("Only a reply that was not delivered can be sent again.")
        event_append(
            shop_id=message.shop_id,
            conversation=message.conversation,
            kind="delivery_retried",
            actor=agent,
            data={"message": message.pk},
        )
        audit_record(
            actor=agent,
            action="message.resend",
            obj=message.conversation,
            data={"message": message.pk},
            ip=ip,
        )
        publish(
            MessageUpdated(
                shop_id=message.shop_id, conversation_id=message.conversation_id, message_id=message.pk
            )
        )
        publish(OutboundQueued(shop_id=message.shop_id, message_id=message.pk))
    message.refresh_from_db()
    return message


def note_add(
    *,
    conversation: Conversation,
    agent: Agent,
    text: str,
    files: Iterable[CheckedFile] = (),
    ip: str | None = None,
) -> Message:
    """An internal note: visible to agents only, never handed to a driver."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("Write the note first.", field="text")
    if len(text) > MAX_TEXT:
        raise ValidationFailed("The note is too long.", field="text")
    _check_same_shop(conversation, agent)
    now = clock.now()
    entry = search_entry(
        shop_id=conversation.shop_id, is_internal=True, text=text, language=conversation.language
    )
    with transaction.atomic():
        message = Message.objects.create(
            shop_id=conversation.shop_id,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            is_internal=True,
            channel=ChannelKind.NOTE,
            author_agent=agent,
            text=text,
            created_at=now,
        )
        attachments_store(message=message, files=files)
        search_index_entries([(message.pk, entry)])
        Conversation.objects.filter(pk=conversation.pk).update(
            updated_at=now, message_count=F("message_count") + 1
        )
        audit_record(actor=agent, action="note.add", obj=conversation, data={"message": message.pk}, ip=ip)
        publish(
            MessageCreated(
                shop_id=conversation.shop_id,
                conversation_id=conversation.pk,
                message_id=message.pk,
                direction=Message.Direction.OUTBOUND,
                is_internal=True,
            )
        )
    return message


def _reply_channel(conversation: Conversation) -> str:
    """Answer on the channel the customer last wrote on; a case made only of logged contacts (calls,
    letters) is answered like the contact form: by e-mail with a link to the portal."""
    last = (
        conversation.messages.filter(direction=Message.Direction.INBOUND, is_internal=False)
        .exclude(channel=ChannelKind.NOTE)
        .order_by("-created_at", "-id")
        .values_list("channel", flat=True)
        .first()
    )
    if last:
        return last
    inbox = conversation.inbox
    if inbox is not None and inbox.kind != ChannelKind.NOTE:
        return inbox.kind
    return ChannelKind.WEBFORM


def _inbox_of_kind(conversation: Conversation, kind: str) -> Any:
    """The case's own inbox when it speaks `kind`, else None (delivery then uses the shop's inbox of it)."""
    return conversation.inbox if conversation.inbox is not None and conversation.inbox.kind == kind else None


def _check_same_shop(conversation: Conversation, agent: Agent | None) -> None:
    if agent is not None and agent.shop_id != conversation.shop_id:
        raise ValidationFailed("This conversation belongs to another shop.")


def conversation_assign(
    *,
    conversation: Conversation,
    agent: Agent | None,
    actor: Agent | None,
    team: Team | None = None,
    set_team: bool = False,
    note: str = "",
    ip: str | None = None,
) -> Conversation:
    """Give the case to `agent` (None: back to the queue); optionally move it to `team` as well."""
    _check_same_shop(conversation, agent)
    if team is not None and team.shop_id != conversation.shop_id:
        raise ValidationFailed("That team belongs to another shop.")
    changes: dict[str, Any] = {}
    if (agent.pk if agent else None) != conversation.assignee_id:
        changes["assignee"] = agent
    if set_team and (team.pk if team else None) != conversation.team_id:
        changes["team"] = team
    if not changes:
        return conversation
    with transaction.atomic():
        for field, value in changes.items():
            setattr(conversation, field, value)
        if conversation.status == Status.NEW and agent is not None:
            conversation.status = Status.OPEN
            changes["status"] = Status.OPEN
        conversation.updated_at = clock.now()
        conversation.save(update_fields=[*changes.keys(), "updated_at"])
        event_append(
            shop_id=conversation.shop_id,
            conversation=conversation,
            kind="assigned",
            actor=actor,
            data={
                "assignee": agent.display_name if agent else None,
                **({"team": team.name if team else None} if "team" in changes else {}),
                **({"note": note} if note else {}),
            },
        )
        if actor:
            audit_record(
                actor=actor,
                action="conversation.assign",
                obj=conversation,
                data={"assignee": agent.pk if agent else None},
                ip=ip,
            )
        _conversation_changed(shop_id=conversation.shop_id, conversation_id=conversation.pk, what="assigned")
    return conversation


def conversation_set_status(
    *, conversation: Conversation, status: str, actor: Agent | None, ip: str | None = None
) -> Conversation:
    """Move along the status machine; resolved/closed stamp their times, reopening clears them."""
    if status not in Status.values:
        raise ValidationFailed(f"Unknown status {status!r}.", field="status")
    if status == conversation.status:
        return conversation
    if status not in TRANSITIONS[conversation.status]:
        raise ValidationFailed(
            f"A {conversation.get_status_display().lower()} conversation cannot become "
            f"{Status(status).label.lower()}.",
            field="status",
        )
    _check_same_shop(conversation, actor)
    now = clock.now()
    old = conversation.status
    with transaction.atomic():
        conversation.status = status
        conversation.updated_at = now
        fields = ["status", "updated_at"]
        if status == Status.RESOLVED:
            conversation.resolved_at = now
            fields.append("resolved_at")
        elif status == Status.CLOSED:
            conversation.closed_at = now
            conversation.resolved_at = conversation.resolved_at or now
            fields += ["closed_at", "resolved_at"]
        elif old in (Status.RESOLVED, Status.CLOSED):
            conversation.resolved_at = conversation.closed_at = None
            fields += ["resolved_at", "closed_at"]
        if status not in OPEN_STATUSES or status == Status.PENDING_CUSTOMER:
            conversation.waiting_since = conversation.sla_due_at = None
            fields += ["waiting_since", "sla_due_at"]
        conversation.save(update_fields=fields)
        event_append(
            shop_id=conversation.shop_id,
            conversation=conversation,
            kind="status_changed",
            actor=actor,
            data={"from": old, "to": status},
        )
        if actor:
            audit_record(
                actor=actor,
                action="conversation.status",
                obj=conversation,
                data={"from": old, "to": status},
                ip=ip,
            )
        _conversation_changed(shop_id=conversation.shop_id, conversation_id=conversation.pk, what="status")
    return conversation


def conversation_set_priority(
    *, conversation: Conversation, priority: int, actor: Agent | None
) -> Conversation:
    if priority not in Priority.values:
        raise ValidationFailed("Unknown priority.", field="priority")
    if priority != conversation.priority:
        with transaction.atomic():
            old = conversation.priority
            conversation.priority = priority
            conversation.updated_at = clock.now()
            conversation.save(update_fields=["priority", "updated_at"])
            event_append(
                shop_id=conversation.shop_id,
                conversation=conversation,
                kind="priority_changed",
                actor=actor,
                data={"from": old, "to": priority},
            )
            if actor:
                audit_record(
                    actor=actor, action="conversation.priority", obj=conversation, data={"to": priority}
                )
            _conversation_changed(
                shop_id=conversation.shop_id, conversation_id=conversation.pk, what="priority"
            )
    return conversation


def conversation_tag(
    *, conversation: Conversation, add: Iterable[str] = (), remove: Iterable[str] = (), actor: Agent | None
) -> Conversation:
    """Add/remove tags by name (created in the shop on first use, trimmed, lower-cased)."""
    add_names = {n.strip().lower()[:50] for n in add if n.strip()}
    remove_names = {n.strip().lower() for n in remove if n.strip()}
    with transaction.atomic():
        for name in add_names:
            tag, _ = Tag.objects.get_or_create(shop_id=conversation.shop_id, name=name)
            conversation.tags.add(tag)
        if remove_names:
            conversation.tags.remove(*Tag.objects.filter(shop_id=conversation.shop_id, name__in=remove_names))
        if add_names or remove_names:
            event_append(
                shop_id=conversation.shop_id,
                conversation=conversation,
                kind="tags_changed",
                actor=actor,
                data={"added": sorted(add_names), "removed": sorted(remove_names)},
            )
            _conversation_changed(shop_id=conversation.shop_id, conversation_id=conversation.pk, what="tags")
    return conversation


def conversation_link_order(
    *, conversation: Conversation, order_ref: str, actor: Agent | None
) -> Conversation:
    order_ref = order_ref.strip()[:64]
    if order_ref != conversation.order_ref:
        with transaction.atomic():
            conversation.order_ref = order_ref
            conversation.save(update_fields=["order_ref"])
            event_append(
                shop_id=conversation.shop_id,
                conversation=conversation,
                kind="order_linked",
                actor=actor,
                data={"order_ref": order_ref},
            )
            _conversation_changed(shop_id=conversation.shop_id, conversation_id=conversation.pk, what="order")
    return conversation


def conversation_merge(*, source: Conversation, target: Conversation, actor: Agent | None) -> Conversation:
    """Move every message and event of `source` into `target`; `source` is closed, pointing at `target`."""
    if source.pk == target.pk or source.shop_id != target.shop_id:
        raise ValidationFailed("Pick two different conversations of the same shop.")
    if source.merged_into_id:
        raise ValidationFailed("That conversation was already merged.")
    _check_same_shop(target, actor)
    now = clock.now()
    with transaction.atomic():
        moved = source.messages.update(conversation=target)
        source.events.update(conversation=target)
        target.tags.add(*source.tags.all())
        last = max(source.last_message_at, target.last_message_at)
        waiting = min([w for w in (source.waiting_since, target.waiting_since) if w], default=None)
        Conversation.objects.filter(pk=target.pk).update(
            message_count=F("message_count") + moved,
            last_message_at=last,
            updated_at=now,
            waiting_since=waiting,
            order_ref=target.order_ref or source.order_ref,
        )
        Conversation.objects.filter(pk=source.pk).update(
            merged_into=target,
            status=Status.CLOSED,
            closed_at=now,
            message_count=0,
            waiting_since=None,
            sla_due_at=None,
            updated_at=now,
        )
        target.refresh_from_db()
        event_append(
            shop_id=target.shop_id,
            conversation=target,
            kind="merged",
            actor=actor,
            data={"from_number": source.number, "messages": moved},
        )
        event_append(
            shop_id=source.shop_id,
            conversation=source,
            kind="merged_into",
            actor=actor,
            data={"into_number": target.number},
        )
        if actor:
            audit_record(actor=actor, action="conversation.merge", obj=target, data={"source": source.number})
        _conversation_changed(shop_id=target.shop_id, conversation_id=target.pk, what="merged")
        _conversation_changed(shop_id=source.shop_id, conversation_id=source.pk, what="merged")
    return target


def delivery_mark(
    *,
    message: Message,
    ok: bool,
    provider_id: str = "",
    error: str = "",
    final: bool = True,
    count_attempt: bool = True,
) -> None:
    """Record a delivery attempt's outcome on the message (visible to the agent in the thread).

    `count_attempt=False` for news about an earlier attempt (a bounce arriving days later).
    """
    fields: dict[str, Any] = {"delivery_attempts": F("delivery_attempts") + 1} if count_attempt else {}
    if ok:
        fields.update(
            delivery_status=Message.Delivery.SENT,
            provider_id=provider_id[:255],
            sent_at=clock.now(),
            delivery_error="",
        )
    elif final:
        fields.update(delivery_status=Message.Delivery.FAILED, delivery_error=error[:500])
    else:
        fields.update(delivery_error=error[:500])
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(**fields)
        if not ok and final:
            event_append(
                shop_id=message.shop_id,
                conversation=message.conversation,
                kind="delivery_failed",
                data={"message": message.pk, "error": error[:500]},
            )
        # The delivery task loaded the case with the message: its number spares the desk's fan-out a read.
        number = message.conversation.number if Message.conversation.is_cached(message) else 0
        publish(
            MessageUpdated(
                shop_id=message.shop_id,
                conversation_id=message.conversation_id,
                message_id=message.pk,
                number=number,
            )
        )
