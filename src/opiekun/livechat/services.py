"""Writes of the live chat. The consumers, the widget's HTTP endpoints and the desk go through these.

A visitor's message goes through the channel's driver and the inbound pipeline like every other
channel (so the desk learns of it through conversations.services), with the client's message id as
its external id: a message resent after a reconnect is stopped by the (inbox, external_id) unique
constraint and answered with the id it already has — nothing lost, nothing stored twice.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils.translation import gettext as _

from opiekun.agents.models import Agent, Team
from opiekun.contacts import normalise
from opiekun.contacts.models import Contact, Identity
from opiekun.contacts.services import addresses_from, contact_identify, contact_merge, identity_add
from opiekun.conversations import services as conversations
from opiekun.conversations.attachments import CheckedFile
from opiekun.conversations.events import MessageUpdated
from opiekun.conversations.models import ChannelKind, Conversation, Message, Status
from opiekun.conversations.routing import Route
from opiekun.core import clock, ratelimit
from opiekun.core.errors import RateLimited, ValidationFailed
from opiekun.core.events import publish
from opiekun.inboxes import acknowledgments, pipeline
from opiekun.inboxes.base import InboundMessage, SenderHints
from opiekun.inboxes.drivers.livechat.driver import ALLOWED_TYPES
from opiekun.inboxes.drivers.livechat.identity import identity_verify
from opiekun.inboxes.models import Inbox
from opiekun.inboxes.registry import drivers
from opiekun.inboxes.services import inbox_for_kind, inbox_touch

from . import selectors
from .events import ChatMessageStored, ChatVisitorChanged
from .models import AgentPresence, ChatSession
from .selectors import Widget, agents_present, chat_load

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # characters of one chat message
MESSAGE_LIMIT = (20, 60)  # messages per visitor per window (seconds)
UPLOAD_LIMIT = (10, 600)
TRANSCRIPT_LIMIT = (3, 3600)
OFFLINE_LIMIT = (5, 600)  # offline messages per IP per window
SESSION_LIMIT = (30, 600)  # new sessions per IP per window
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def limit(name: str, default: tuple[int, int]) -> tuple[int, int]:
    """A rate limit, overridable per installation in settings.OPIEKUN_CHAT_LIMITS (e.g. a load test
    from one address needs more than 30 new sessions per IP)."""
    value = getattr(settings, "OPIEKUN_CHAT_LIMITS", {}).get(name)
    return (int(value[0]), int(value[1])) if value else default


@dataclass(frozen=True)
class StoredMessage:
    message: Message
    duplicate: bool


# --- sessions ---------------------------------------------------------------------------------------


def _clip(value: Any, limit: int) -> str:
    return str(value or "").replace("\x00", "").strip()[:limit]


def chat_session_open(
    *,
    widget: Widget,
    key: str | None,
    identity: Any = None,
    page_url: str = "",
    page_title: str = "",
    language: str = "",
    user_agent: str = "",
    ip: str = "",
) -> ChatSession:
    """The visitor's session: the one `key` names (a verified token) or a new one; counts a socket.

    A valid identity token from the shop makes the session identified: its contact becomes the shop's
    customer with that address (an anonymous contact of the same session is folded into it). An
    invalid one is ignored. Writes ChatSession (and Contact/Identity for an identity).
    """
    now = clock.now()
    session = None
    if key:
        session = (
            ChatSession.objects.select_related("contact", "conversation__assignee")
            .filter(inbox=widget.inbox, key=key, ended_at__isnull=True)
            .first()
        )
    if session is None:
        if ip:
            count, window = limit("session", SESSION_LIMIT)
            ratelimit.hit(f"livechat:session:{ip}", limit=count, window=window)
        session = ChatSession.objects.create(
            shop_id=widget.shop_id,
            inbox=widget.inbox,
            key=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
        )
    fields: dict[str, Any] = {"last_seen_at": now}
    if page_url:
        fields.update(page_url=_clip(page_url, 1000), page_title=_clip(page_title, 300))
    if language in {code for code, _name in settings.LANGUAGES}:
        fields["language"] = language
    if user_agent:
        fields["user_agent"] = _clip(user_agent, 300)
    ChatSession.objects.filter(pk=session.pk).update(connected=F("connected") + 1, **fields)
    for name, value in fields.items():
        setattr(session, name, value)
    session.connected += 1
    verified = identity_verify(
        identity, secret=widget.config.identity_secret.get_secret_value(), now=time.time()
    )
    if verified is not None:
        _identify(session, widget, email=verified.email, name=verified.name)
    _changed(session)
    return session


def _identify(session: ChatSession, widget: Widget, *, email: str, name: str) -> None:
    """Land the session on the shop's customer with this (verified) address."""
    try:
        addresses = addresses_from(email=email)
    except ValueError:
        return
    with transaction.atomic():
        contact, _created = contact_identify(shop=widget.inbox.shop, addresses=addresses, name=name)
        previous = session.contact
        if previous is not None and previous.pk != contact.pk:
            if _anonymous(previous):
                # The same person, now signed in at the shop: their anonymous chat joins their history.
                contact_merge(source=previous, target=contact, actor=None)
            elif session.conversation_id is not None:
                # Someone else signed in on this browser: they do not inherit the previous chat.
                session.conversation = None
        session.contact = contact
        session.identified = True
        session.given_email = session.given_email or email
        session.given_name = session.given_name or name[:200]
        session.save(update_fields=["contact", "identified", "conversation", "given_email", "given_name"])


def _anonymous(contact: Contact) -> bool:
    """A contact that only ever had chat-session addresses (made by an anonymous chat)."""
    return not contact.identities.exclude(kind=Identity.Kind.CHAT).exists()


def chat_session_left(*, session_id: int) -> None:
    """One of the visitor's sockets closed."""
    now = clock.now()
    ChatSession.objects.filter(pk=session_id).update(
        connected=Greatest(F("connected") - 1, 0), last_seen_at=now
    )
    session = ChatSession.objects.filter(pk=session_id).first()
    if session is not None:
        _changed(session)


def chat_session_seen(*, session_id: int) -> None:
    ChatSession.objects.filter(pk=session_id).update(last_seen_at=clock.now())


def chat_session_page(*, session: ChatSession, url: str, title: str = "") -> None:
    """The visitor moved to another page of the shop (the desk shows where they are)."""
    url, title = _clip(url, 1000), _clip(title, 300)
    if url == session.page_url and title == session.page_title:
        return
    ChatSession.objects.filter(pk=session.pk).update(page_url=url, page_title=title, last_seen_at=clock.now())
    session.page_url, session.page_title = url, title
    _changed(session)


def chat_prechat(
    *, session: ChatSession, widget: Widget, name: str = "", email: str = "", phone: str = ""
) -> None:
    """The pre-chat form: who the visitor says they are (kept on the session, not trusted as identity)."""
    name, phone = _clip(name, 200), _clip(phone, 40)
    email = _clip(email, 320)
    if email:
        try:
            email = normalise.email(email)
        except ValueError:
            raise ValidationFailed(_("Enter a valid e-mail address."), field="email") from None
    for required in widget.config.prechat_required:
        if (
            required in widget.config.prechat_fields
            and not {"name": name, "email": email, "phone": phone}[required]
        ):
            raise ValidationFailed(_("Please fill in this field."), field=required)
    ChatSession.objects.filter(pk=session.pk).update(given_name=name, given_email=email, given_phone=phone)
    session.given_name, session.given_email, session.given_phone = name, email, phone
    if session.contact is not None and name and not session.contact.name:
        Contact.objects.filter(pk=session.contact.pk).update(name=name)
    _changed(session)


def chat_session_end(*, session: ChatSession) -> None:
    """The visitor closed the chat for good: the next message starts a new session."""
    ChatSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(ended_at=clock.now())
    session.ended_at = clock.now()
    _changed(session)


def _changed(session: ChatSession) -> None:
    if session.conversation_id is not None:
        publish(
            ChatVisitorChanged(
                shop_id=session.shop_id, session_id=session.pk, conversation_id=session.conversation_id
            )
        )


# --- messages ---------------------------------------------------------------------------------------


def _contact_for(session: ChatSession, widget: Widget) -> Contact:
    """The session's contact, made on its first message (an anonymous visitor: by the chat address)."""
    if session.contact is not None:
        return session.contact
    contact, created = contact_identify(
        shop=widget.inbox.shop,
        addresses=addresses_from(chat_session=session.key),
        name=session.given_name,
        language=session.language,
    )
    if created and session.given_email:
        # Typed, not proven: only a brand-new contact gets it, and only when nobody else owns it — a
        # visitor typing a customer's address must never land in that customer's history and orders.
        try:
            identity_add(contact=contact, kind=Identity.Kind.EMAIL, value=session.given_email)
        except ValidationFailed:
            pass
    ChatSession.objects.filter(pk=session.pk).update(contact=contact)
    session.contact = contact
    return contact


def chat_message_store(
    *,
    session: ChatSession,
    widget: Widget,
    client_id: str,
    text: str,
    files: list[CheckedFile] | None = None,
    origin: str = "",
) -> StoredMessage:
    """Store a visitor's message (once per client id) on their chat case, opening it on the first one.

    Raises RateLimited past MESSAGE_LIMIT and ValidationFailed for an empty or too long message.
    Writes Contact (first message), Conversation, Message, Attachment, ChatSession.
    """
    client_id = _clip(client_id, 64)
    if not client_id:
        raise ValidationFailed("A message needs its client id.", field="client_id")
    text = (text or "").replace("\x00", "").strip()
    if len(text) > MAX_TEXT:
        raise ValidationFailed(_("The message is too long."), field="text")
    if not text and not files:
        raise ValidationFailed(_("The message is empty."), field="text")
    external_id = f"{session.key}:{client_id}"
    existing = Message.objects.filter(inbox=widget.inbox, external_id=external_id).first()
    if existing is not None:
        return StoredMessage(existing, duplicate=True)
    count, window = limit("message", MESSAGE_LIMIT)
    ratelimit.hit(f"livechat:msg:{session.key}", limit=count, window=window)
    # Another tab of the visitor may have opened the case (or made the contact) a moment ago.
    stored_ids = (
        ChatSession.objects.filter(pk=session.pk).values_list("conversation_id", "contact_id").first()
    )
    if stored_ids is not None and stored_ids != (session.conversation_id, session.contact_id):
        session.refresh_from_db(fields=["conversation", "contact"])
    contact = _contact_for(session, widget)
    driver = drivers.get(ChannelKind.LIVECHAT)
    for attempt in range(2):
        payload = {
            "session_key": session.key,
            "client_id": client_id,
            "text": text,
            "contact_id": contact.pk,
            "conversation_id": session.conversation_id,
            "language": session.language,
            "page_url": session.page_url,
            "files": [{"filename": f.filename, "content": f.content} for f in files or ()],
        }
        (inbound,) = driver.parse_inbound(payload)
        result = pipeline.process(
            inbox=widget.inbox, message=inbound, allowed_types=list(ALLOWED_TYPES), max_bytes=MAX_UPLOAD_BYTES
        )
        if result.outcome == pipeline.DUPLICATE:
            stored = Message.objects.get(inbox=widget.inbox, external_id=external_id)
            return StoredMessage(stored, duplicate=True)
        if result.outcome == pipeline.REJECTED and attempt == 0 and session.conversation_id is not None:
            # Its case is gone or belongs to someone else now (merged, moved): start a new one.
            session.conversation = None
            continue
        break
    if result.message is None or result.conversation is None:
        raise ValidationFailed(_("We could not take your message just now. Please try again."))
    return _stored(session, widget, result, origin=origin)


@dataclass(frozen=True)
class ChatMessageRequest:
    """One visitor message for `chat_messages_store_many`."""

    session: ChatSession
    widget: Widget
    client_id: str
    text: str
    origin: str = ""  # the sending socket's channel name (its own push is skipped)


def chat_messages_store_many(requests: list[ChatMessageRequest]) -> list[StoredMessage | Exception]:
    """`chat_message_store` for messages that arrived together (group commit): one pass of the
    inbound pipeline per widget for all of them, so the cases, messages, search rows and timeline
    entries of the batch are written together. One outcome per request, in order: the stored message,
    or the ValidationFailed / RateLimited it earned (nothing stored for it).

    Writes Contact (first messages), Conversation, Message, ChatSession."""
    outcomes: list[StoredMessage | Exception | None] = [None] * len(requests)
    live: list[tuple[int, ChatMessageRequest, str, str]] = []  # index, request, client id, text
    for index, request in enumerate(requests):
        client_id = _clip(request.client_id, 64)
        text = (request.text or "").replace("\x00", "").strip()
        if not client_id:
            outcomes[index] = ValidationFailed("A message needs its client id.", field="client_id")
        elif len(text) > MAX_TEXT:
            outcomes[index] = ValidationFailed(_("The message is too long."), field="text")
        elif not text:
            outcomes[index] = ValidationFailed(_("The message is empty."), field="text")
        else:
            live.append((index, request, client_id, text))
    # Already stored (a resend after a reconnect): answered with the id it has, not counted again.
    wanted_by_inbox: dict[int, set[str]] = {}
    for _i, r, cid, _t in live:
        wanted_by_inbox.setdefault(r.widget.inbox.pk, set()).add(f"{r.session.key}:{cid}")
    found_ids = {
        (inbox_id, external_id): pk
        for inbox_id, wanted in wanted_by_inbox.items()
        for external_id, pk in selectors.stored_external_ids(inbox_id=inbox_id, external_ids=wanted).items()
    }
    found_messages = Message.objects.in_bulk(list(found_ids.values())) if found_ids else {}
    fresh_sessions = selectors.session_links(session_ids={r.session.pk for _i, r, _c, _t in live})
    batch: list[tuple[int, ChatMessageRequest, str, str]] = []
    later: list[tuple[int, ChatMessageRequest, str, str]] = []
    opening: set[int] = set()  # sessions whose first message (opening their case) is in this batch
    seen: set[str] = set()
    fresh: list[tuple[int, ChatMessageRequest, str, str]] = []
    for index, request, client_id, text in live:
        external_id = f"{request.session.key}:{client_id}"
        found = found_messages.get(found_ids.get((request.widget.inbox.pk, external_id), 0))
        if found is not None:
            outcomes[index] = StoredMessage(found, duplicate=True)
        elif external_id in seen:
            later.append((index, request, client_id, text))  # the same message twice in one batch
        else:
            seen.add(external_id)
            fresh.append((index, request, client_id, text))
    count, window = limit("message", MESSAGE_LIMIT)
    refusals = ratelimit.hit_many(
        [f"livechat:msg:{r.session.key}" for _i, r, _c, _t in fresh], limit=count, window=window
    )
    for (index, request, client_id, text), refused in zip(fresh, refusals, strict=True):
        session = request.session
        if refused is not None:
            outcomes[index] = refused
            continue
        ids = fresh_sessions.get(session.pk)
        if ids is not None and ids != (session.conversation_id, session.contact_id):
            session.refresh_from_db(fields=["conversation", "contact"])
        if session.conversation_id is None:
            if session.pk in opening:
                # A second message before the case exists: it joins the case after this batch made it.
                later.append((index, request, client_id, text))
                continue
            opening.add(session.pk)
        batch.append((index, request, client_id, text))
    driver = drivers.get(ChannelKind.LIVECHAT)
    appended, batch = _append_to_open_chats(batch, driver)
    for index, stored in appended:
        outcomes[index] = stored
    by_inbox: dict[int, list[tuple[int, ChatMessageRequest, str, str]]] = {}
    for item in batch:
        by_inbox.setdefault(item[1].widget.inbox.pk, []).append(item)
    for items in by_inbox.values():
        inbox = items[0][1].widget.inbox
        messages = []
        for _index, request, client_id, text in items:
            contact = _contact_for(request.session, request.widget)
            payload = {
                "session_key": request.session.key,
                "client_id": client_id,
                "text": text,
                "contact_id": contact.pk,
                "conversation_id": request.session.conversation_id,
                "language": request.session.language,
                "page_url": request.session.page_url,
            }
            messages.append(driver.parse_inbound(payload)[0])
        results = pipeline.process_many(inbox=inbox, messages=messages, allowed_types=[])
        for (index, request, client_id, text), result in zip(items, results, strict=True):
            if result.message is not None and result.conversation is not None:
                outcomes[index] = _stored(request.session, request.widget, result, origin=request.origin)
            else:
                # A duplicate from another process, a case that is gone: the one-by-one path decides.
                later.append((index, request, client_id, text))
    for index, request, client_id, text in later:
        try:
            outcomes[index] = chat_message_store(
                session=request.session,
                widget=request.widget,
                client_id=client_id,
                text=text,
                origin=request.origin,
            )
        except (ValidationFailed, RateLimited) as exc:
            outcomes[index] = exc
    return [
        o if o is not None else ValidationFailed(_("We could not take your message just now."))
        for o in outcomes
    ]


def _append_to_open_chats(
    items: list[tuple[int, ChatMessageRequest, str, str]], driver: Any
) -> tuple[list[tuple[int, StoredMessage]], list[tuple[int, ChatMessageRequest, str, str]]]:
    """The fast path: messages into chats that are open store without the rest of the pipeline.

    A visitor writing into their own open chat needs none of the pipeline's questions answered again
    (who is it, which case, who takes it): the session knows its contact and case. One load of the
    cases, then `messages_record_inbound_many` (one insert each for messages and search rows, one
    statement for the cases' counters, the SLA clock and the events) for all of them. A case that is
    not plainly open for this contact (gone, merged, closed, another contact's) and a batch that trips
    the (inbox, external_id) constraint go the pipeline's way. Returns (stored, the rest)."""
    wanted = {
        r.session.conversation_id
        for _i, r, _c, _t in items
        if r.session.contact_id is not None and r.session.conversation_id is not None
    }
    if not wanted:
        return [], items
    cases = selectors.cases_by_id(ids=wanted)
    fast: list[tuple[tuple[int, ChatMessageRequest, str, str], Conversation]] = []
    rest = []
    for item in items:
        session = item[1].session
        case = cases.get(session.conversation_id) if session.conversation_id is not None else None
        if (
            case is None
            or case.shop_id != session.shop_id
            or case.contact_id != session.contact_id
            or case.merged_into_id is not None
            or case.status == Status.CLOSED
        ):
            rest.append(item)
        else:
            fast.append((item, case))
    if not fast:
        return [], items
    records = []
    for (_index, request, client_id, text), case in fast:
        session = request.session
        (inbound,) = driver.parse_inbound(
            {
                "session_key": session.key,
                "client_id": client_id,
                "text": text,
                "contact_id": session.contact_id,
                "conversation_id": case.pk,
                "language": session.language,
                "page_url": session.page_url,
            }
        )
        records.append(
            conversations.InboundRecord(
                conversation=case,
                channel=ChannelKind.LIVECHAT,
                inbox=request.widget.inbox,
                text=inbound.text,
                external_id=inbound.external_id,
                author_contact=session.contact,
                meta=inbound.meta,
            )
        )
    try:
        with transaction.atomic():
            messages = conversations.messages_record_inbound_many(records)
            inbox_ids = {request.widget.inbox.pk for (_i, request, _c, _t), _case in fast}
            inbox_touch(inbox_ids)
    except IntegrityError:  # stored meanwhile by another process: the pipeline answers "duplicate"
        return [], items
    stored = []
    for ((index, request, _c, _t), case), message in zip(fast, messages, strict=True):
        result = pipeline.Result(pipeline.APPENDED, case, message, request.session.contact)
        stored.append((index, _stored(request.session, request.widget, result, origin=request.origin)))
    return stored, rest


def _stored(
    session: ChatSession, widget: Widget, result: pipeline.Result, *, origin: str = ""
) -> StoredMessage:
    """After the pipeline stored a visitor's message: the session learns its case, a new chat is
    offered, the fan-out is told (after commit)."""
    conversation, message = result.conversation, result.message
    assert conversation is not None and message is not None
    new_chat = False
    if session.conversation_id != conversation.pk:
        new_chat = result.outcome == pipeline.CREATED
        ChatSession.objects.filter(pk=session.pk).update(conversation=conversation)
        session.conversation = conversation
        if new_chat:
            _offer(conversation, widget)
    contact = session.contact
    publish(
        ChatMessageStored(
            shop_id=session.shop_id,
            session_id=session.pk,
            conversation_id=conversation.pk,
            message_id=message.pk,
            new_chat=new_chat,
            public_key=widget.config.public_key,
            number=conversation.number,
            contact_name=contact.name if contact is not None else "",
            assignee_id=conversation.assignee_id,
            team_id=conversation.team_id,
            origin=origin,
        )
    )
    return StoredMessage(message, duplicate=False)


def _offer(conversation: Conversation, widget: Widget) -> None:
    """A new chat needs someone now: the routing rules picked the caretaker (or backup); when they are
    not at the desk or already hold the widget's maximum of chats, it waits in the team queue instead,
    where it rings for everyone with room."""
    assignee = conversation.assignee
    if assignee is None:
        return
    present = set(agents_present(shop_id=conversation.shop_id))
    limit = widget.config.max_chats_per_agent
    busy = bool(limit) and chat_load(agent_ids=[assignee.pk]).get(assignee.pk, 0) > limit
    if assignee.pk in present and not busy:
        return
    conversations.conversation_assign(
        conversation=conversation,
        agent=None,
        actor=None,
        note="caretaker away from the chat" if assignee.pk not in present else "caretaker at the chat limit",
    )


def chat_reply_may_assign(conversation: Conversation, agent: Agent) -> bool:
    """A reply makes the agent the assignee of an unassigned chat only below the widget's maximum of
    chats per agent (as taking a ringing chat is refused there); over it, the chat stays with the team.
    Registered with conversations.routing in LivechatConfig.ready(); other channels answer True."""
    inbox = conversation.inbox
    if inbox is None or inbox.kind != ChannelKind.LIVECHAT:
        return True
    from .selectors import widget_for_inbox

    widget = widget_for_inbox(inbox)
    limit = widget.config.max_chats_per_agent if widget is not None else 0
    return not limit or chat_load(agent_ids=[agent.pk]).get(agent.pk, 0) < limit


def chat_mark_delivered(*, session: ChatSession, up_to: int) -> list[int]:
    """The widget received the agent messages up to `up_to`: sent → delivered. Returns the ids moved."""
    if session.conversation_id is None or up_to <= 0:
        return []
    ChatSession.objects.filter(pk=session.pk).update(
        visitor_delivered_up_to=Greatest(F("visitor_delivered_up_to"), up_to)
    )
    return _deliver(conversation_id=session.conversation_id, shop_id=session.shop_id, up_to=up_to)


def _deliver(*, conversation_id: int, shop_id: int, up_to: int) -> list[int]:
    ids = list(
        Message.objects.filter(
            conversation_id=conversation_id,
            direction=Message.Direction.OUTBOUND,
            is_internal=False,
            channel=ChannelKind.LIVECHAT,
            delivery_status=Message.Delivery.SENT,
            pk__lte=up_to,
        ).values_list("pk", flat=True)
    )
    if ids:
        with transaction.atomic():
            Message.objects.filter(pk__in=ids, delivery_status=Message.Delivery.SENT).update(
                delivery_status=Message.Delivery.DELIVERED
            )
            for pk in ids:
                publish(MessageUpdated(shop_id=shop_id, conversation_id=conversation_id, message_id=pk))
    return ids


def chat_reconcile_delivered(*, message_id: int) -> None:
    """A chat reply just became `sent`: when the widget already confirmed it (its acknowledgment can
    overtake the delivery task's own bookkeeping), it is delivered."""
    confirmed = selectors.reply_confirmed_early(message_id=message_id)
    if confirmed is not None:
        conversation_id, shop_id = confirmed
        _deliver(conversation_id=conversation_id, shop_id=shop_id, up_to=message_id)


def chat_mark_read_by_visitor(*, session: ChatSession, up_to: int) -> bool:
    """The visitor saw the agent messages up to `up_to` (the widget was open and visible)."""
    if up_to <= session.visitor_read_up_to or session.conversation_id is None:
        return False
    chat_mark_delivered(session=session, up_to=up_to)
    ChatSession.objects.filter(pk=session.pk).update(
        visitor_read_up_to=Greatest(F("visitor_read_up_to"), up_to)
    )
    session.visitor_read_up_to = up_to
    _changed(session)
    return True


def chat_mark_read_by_agent(*, agent: Agent, conversation: Conversation, up_to: int) -> ChatSession | None:
    """An agent has the chat open: the visitor's messages up to `up_to` are read (the widget says so)."""
    if conversation.shop_id != agent.shop_id:
        return None
    session = (
        ChatSession.objects.filter(shop_id=agent.shop_id, conversation=conversation)
        .order_by("-last_seen_at", "-id")
        .first()
    )
    if session is None or up_to <= session.agent_read_up_to:
        return None
    newest = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND, pk__lte=up_to)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if newest is None or newest <= session.agent_read_up_to:
        return None
    ChatSession.objects.filter(pk=session.pk).update(agent_read_up_to=Greatest(F("agent_read_up_to"), newest))
    session.agent_read_up_to = newest
    return session


# --- agents ----------------------------------------------------------------------------------------


def agent_presence_change(*, agent_id: int, shop_id: int, delta: int) -> None:
    """The agent's desk chat socket opened (+1), closed (-1) or pinged (0)."""
    now = clock.now()
    updated = AgentPresence.objects.filter(agent_id=agent_id).update(
        sockets=Greatest(F("sockets") + delta, 0), seen_at=now
    )
    if not updated:
        AgentPresence.objects.get_or_create(
            agent_id=agent_id, defaults={"shop_id": shop_id, "sockets": max(delta, 0), "seen_at": now}
        )


def chat_accept(*, conversation: Conversation, agent: Agent, widget: Widget | None) -> Conversation:
    """The agent takes a ringing chat, unless they already hold the widget's maximum of chats."""
    if conversation.shop_id != agent.shop_id:
        raise ValidationFailed("This conversation belongs to another shop.")
    if conversation.assignee_id == agent.pk:
        return conversation
    limit = widget.config.max_chats_per_agent if widget else 0
    if limit and chat_load(agent_ids=[agent.pk]).get(agent.pk, 0) >= limit:
        raise ValidationFailed(
            _("You already have %(n)d live chats open; close one before taking another.") % {"n": limit}
        )
    return conversations.conversation_assign(conversation=conversation, agent=agent, actor=agent)


def chat_transfer(
    *,
    conversation: Conversation,
    actor: Agent,
    agent: Agent | None = None,
    team: Team | None = None,
    note: str = "",
    ip: str | None = None,
) -> Conversation:
    """Hand the chat to another agent or a team's queue, with a note the next agent reads first."""
    if agent is None and team is None:
        raise ValidationFailed(_("Choose an agent or a team."), field="to")
    note = note.strip()[:2000]
    with transaction.atomic():
        if team is not None:
            conversations.conversation_assign(
                conversation=conversation,
                agent=agent,
                actor=actor,
                team=team,
                set_team=True,
                note=note,
                ip=ip,
            )
        else:
            conversations.conversation_assign(
                conversation=conversation, agent=agent, actor=actor, note=note, ip=ip
            )
        if note:
            to = agent.display_name if agent is not None else team.name  # type: ignore[union-attr]
            conversations.note_add(
                conversation=conversation,
                agent=actor,
                text=_("Transfer to %(to)s: %(note)s") % {"to": to, "note": note},
                ip=ip,
            )
    return conversation


def _email_inbox(shop_id: int) -> Inbox | None:
    return (
        Inbox.objects.filter(shop_id=shop_id, kind=ChannelKind.EMAIL, is_active=True).order_by("id").first()
    )


def chat_follow_up(*, conversation: Conversation, actor: Agent, subject: str, note: str = "") -> Conversation:
    """Turn the chat into a follow-up case (answered by e-mail) owned by the agent, linked to the chat;
    the chat itself is resolved."""
    if conversation.shop_id != actor.shop_id:
        raise ValidationFailed("This conversation belongs to another shop.")
    subject = (subject or "").strip()[:300] or _("Follow-up of chat #%(n)d") % {"n": conversation.number}
    inbox = _email_inbox(conversation.shop_id) or inbox_for_kind(conversation.shop, ChannelKind.WEBFORM)
    with transaction.atomic():
        follow_up = conversations.conversation_create(
            shop=conversation.shop,
            contact=conversation.contact,
            subject=subject,
            inbox=inbox,
            route=Route(assignee=actor, team=conversation.team, reason="follow_up"),
            order_ref=conversation.order_ref,
            language=conversation.language,
            follow_up_of=conversation,
        )
        conversations.conversation_set_status(conversation=follow_up, status=Status.OPEN, actor=actor)
        text = note.strip() or _("Follow-up of live chat #%(n)d.") % {"n": conversation.number}
        conversations.note_add(conversation=follow_up, agent=actor, text=text)
        if conversation.status not in (Status.RESOLVED, Status.CLOSED):
            conversations.conversation_set_status(
                conversation=conversation, status=Status.RESOLVED, actor=actor
            )
    return follow_up


# --- offline messages and transcripts ---------------------------------------------------------------


def chat_offline_message(
    *, widget: Widget, name: str, email: str, text: str, page_url: str = "", language: str = "", ip: str = ""
) -> Conversation:
    """ "Leave a message" while nobody is there: an e-mail case (the shop's mailbox, else the contact
    form's inbox, whose replies go out by e-mail with a portal link) and its acknowledgment."""
    if ip:
        ratelimit.hit(f"livechat:offline:{ip}", limit=OFFLINE_LIMIT[0], window=OFFLINE_LIMIT[1])
    name, text = _clip(name, 200), (text or "").replace("\x00", "").strip()
    try:
        email = normalise.email(_clip(email, 320))
    except ValueError:
        raise ValidationFailed(_("Enter a valid e-mail address."), field="email") from None
    if not text:
        raise ValidationFailed(_("Write your message first."), field="message")
    if len(text) > conversations.MAX_TEXT:
        raise ValidationFailed(_("The message is too long."), field="message")
    shop = widget.inbox.shop
    inbox = _email_inbox(shop.pk) or inbox_for_kind(shop, ChannelKind.WEBFORM)
    message = InboundMessage(
        sender=SenderHints(name=name, email=email),
        subject=_("Message left in the chat"),
        text=text,
        language=language if language in {c for c, _n in settings.LANGUAGES} else "",
        meta={"via": "livechat_offline", **({"page_url": _clip(page_url, 1000)} if page_url else {})},
    )
    result = pipeline.process(inbox=inbox, message=message)
    if result.conversation is None or result.message is None:
        raise ValidationFailed(_("We could not take your message just now. Please try again."))
    acknowledgments.acknowledgment_schedule(message=result.message, to_email=email)
    return result.conversation


def chat_transcript_request(*, session: ChatSession, email: str = "") -> str:
    """Queue the chat's transcript to the visitor's address (theirs if verified, else the one typed);
    returns the address. Limited per session (a chat is not a way to mail strangers)."""
    if session.conversation_id is None:
        raise ValidationFailed(_("There is nothing to send yet."), field="email")
    address = _clip(email, 320) or session.given_email
    try:
        address = normalise.email(address)
    except ValueError:
        raise ValidationFailed(_("Enter a valid e-mail address."), field="email") from None
    ratelimit.hit(f"livechat:transcript:{session.key}", limit=TRANSCRIPT_LIMIT[0], window=TRANSCRIPT_LIMIT[1])
    ChatSession.objects.filter(pk=session.pk).update(transcripts_sent=F("transcripts_sent") + 1)
    session_id = session.pk

    def enqueue() -> None:
        from .tasks import send_transcript

        send_transcript(session_id, address)

    transaction.on_commit(enqueue, robust=True)
    return address


# --- a reply to a visitor who has left ---------------------------------------------------------------

EMAIL_AFTER_MINUTES = 5  # a reply not seen this long by a visitor with no socket open goes by e-mail


def email_after_minutes() -> int:
    """OPIEKUN_CHAT_EMAIL_AFTER_MINUTES (0: never e-mail chat replies)."""
    return int(getattr(settings, "OPIEKUN_CHAT_EMAIL_AFTER_MINUTES", EMAIL_AFTER_MINUTES))


def chat_reply_email_if_away(*, message_id: int) -> Message | None:
    """An agent's chat reply the visitor has not received (no widget acknowledged it) while no socket of
    theirs is open: the same text goes to the contact's e-mail address (given in the pre-chat form or by
    the shop's identity token) as an e-mail reply on the same case — threaded by its case number, with
    the portal link, through the ordinary e-mail delivery. Once per reply. Returns the e-mail reply, or
    None when there was nothing to do. Writes Message (through conversations.message_send)."""
    message = (
        Message.objects.select_related("conversation", "author_agent")
        .filter(
            pk=message_id,
            channel=ChannelKind.LIVECHAT,
            direction=Message.Direction.OUTBOUND,
            is_internal=False,
        )
        .first()
    )
    if message is None or message.author_agent is None or (message.meta or {}).get("emailed_as"):
        return None
    if message.delivery_status not in (Message.Delivery.QUEUED, Message.Delivery.SENT):
        return None  # delivered or read: the widget showed it (or it failed: the agent sees why)
    conversation = message.conversation
    if ChatSession.objects.filter(conversation=conversation, connected__gt=0).exists():
        return None  # a tab is open: the widget shows it there
    has_email = Identity.objects.filter(contact_id=conversation.contact_id, kind=Identity.Kind.EMAIL).exists()
    if not has_email or _email_inbox(conversation.shop_id) is None:
        return None
    with transaction.atomic():
        reply = conversations.message_send(
            conversation=conversation,
            agent=message.author_agent,
            text=message.text,
            channel=ChannelKind.EMAIL,
            status_after=None,
        )
        Message.objects.filter(pk=message.pk).update(meta={**(message.meta or {}), "emailed_as": reply.pk})
    return reply


def chat_reply_sent(*, message_id: int, shop_id: int, conversation_id: int) -> None:
    """After an agent's reply is stored: when it is a chat reply, look again in a few minutes whether the
    visitor has seen it (and e-mail it if they left)."""
    minutes = email_after_minutes()
    if minutes <= 0:
        return
    is_chat = Message.objects.filter(
        pk=message_id, shop_id=shop_id, conversation_id=conversation_id, channel=ChannelKind.LIVECHAT
    ).exists()
    if not is_chat:
        return
    message_id_ = message_id

    def enqueue() -> None:
        from .tasks import email_reply_if_away

        email_reply_if_away.schedule((message_id_,), delay=minutes * 60)

    transaction.on_commit(enqueue, robust=True)
