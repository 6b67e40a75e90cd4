"""Reads of the live chat: widgets by public key, a visitor's session and history, who is online,
and the statistics of a chat. Everything is scoped to the widget's shop (and a session to its key)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from pydantic import ValidationError

from opiekun.agents.models import Agent
from opiekun.conversations.models import Attachment, ChannelKind, Conversation, Message, Status
from opiekun.core import clock
from opiekun.core.bulk import marks
from opiekun.core.errors import NotFound
from opiekun.core.rowload import Join, JoinedRow
from opiekun.inboxes.drivers.livechat.driver import LivechatConfig, within_hours
from opiekun.inboxes.models import Inbox

from .models import AgentPresence, ChatSession

PRESENCE_TTL = dt.timedelta(seconds=90)  # the desk's chat socket pings every 25 s
ACTIVE_CHAT = dt.timedelta(hours=1)  # a chat nobody wrote in for an hour no longer holds its agent
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER)
HISTORY_LIMIT = 100
WIDGET_CACHE_SECONDS = 30


@dataclass(frozen=True)
class Widget:
    inbox: Inbox
    config: LivechatConfig

    @property
    def shop_id(self) -> int:
        return self.inbox.shop_id


def access_widget(public_key: str) -> Widget:
    """The active livechat inbox a public key names, with its settings (secrets joined), or NotFound."""
    if not isinstance(public_key, str) or not 16 <= len(public_key) <= 64:
        raise NotFound()
    inbox = (
        Inbox.objects.select_related("shop")
        .filter(kind=ChannelKind.LIVECHAT, is_active=True, config__public_key=public_key)
        .first()
    )
    if inbox is None:
        raise NotFound()
    try:
        config = inbox.settings(LivechatConfig)
    except ValidationError:
        raise NotFound() from None
    return Widget(inbox=inbox, config=config)


def widget_for_inbox(inbox: Inbox) -> Widget | None:
    try:
        return Widget(inbox=inbox, config=inbox.settings(LivechatConfig))
    except ValidationError:
        return None


def access_session(*, widget: Widget, key: str) -> ChatSession:
    """The session `key` of this widget (never another widget's or shop's), or NotFound."""
    session = (
        ChatSession.objects.select_related("contact", "conversation__assignee")
        .filter(inbox=widget.inbox, key=key, ended_at__isnull=True)
        .first()
    )
    if session is None:
        raise NotFound()
    return session


def session_of_conversation(*, shop_id: int, conversation_id: int) -> ChatSession | None:
    """The newest chat session of a conversation of the shop (a case may have had several)."""
    return (
        ChatSession.objects.filter(shop_id=shop_id, conversation_id=conversation_id)
        .order_by("-last_seen_at", "-id")
        .first()
    )


def session_history(*, session: ChatSession, after_id: int = 0, limit: int = HISTORY_LIMIT) -> list[Message]:
    """The public messages of the visitor's conversation (never internal notes), oldest first."""
    if session.conversation_id is None:
        return []
    rows = (
        Message.objects.filter(conversation_id=session.conversation_id, is_internal=False, pk__gt=after_id)
        .exclude(channel=ChannelKind.NOTE)
        .select_related("author_agent")
        .prefetch_related("attachments")
        .order_by("-created_at", "-id")[:limit]
    )
    return list(reversed(rows))


@dataclass(frozen=True)
class PushedMessage:
    message: Message
    files: list[Attachment]


_MESSAGE_ROWS = JoinedRow(
    Message, [Join(Agent, "author_agent", via=0, column="id", other_column="author_agent_id")]
)
_FILE_ROWS = JoinedRow(Attachment, [], where_column="message_id")


def session_message(*, session: ChatSession, message_id: int) -> PushedMessage | None:
    """One public message of the visitor's own conversation with its files, or None (a foreign id reads
    as nothing). Read by every socket of the chat for every message pushed to it, in SQL written once."""
    if session.conversation_id is None:
        return None
    message: Any = _MESSAGE_ROWS.get(message_id)
    if (
        message is None
        or message.conversation_id != session.conversation_id
        or message.is_internal
        or message.channel == ChannelKind.NOTE
    ):
        return None
    files: Any = sorted(_FILE_ROWS.many([message.pk]), key=lambda a: a.pk)
    return PushedMessage(message, files)


def shop_widgets(*, shop_id: int) -> list[Widget]:
    """The shop's active livechat inboxes with their settings (those that do not validate are left out)."""
    inboxes = Inbox.objects.select_related("shop").filter(
        shop_id=shop_id, kind=ChannelKind.LIVECHAT, is_active=True
    )
    return [w for w in (widget_for_inbox(i) for i in inboxes) if w is not None]


def agents_present(*, shop_id: int, at: dt.datetime | None = None) -> list[int]:
    """Ids of the shop's agents whose desk chat socket is connected and alive."""
    at = at or clock.now()
    return list(
        AgentPresence.objects.filter(
            shop_id=shop_id, sockets__gt=0, seen_at__gte=at - PRESENCE_TTL, agent__user__is_active=True
        ).values_list("agent_id", flat=True)
    )


def chat_load(*, agent_ids: list[int], at: dt.datetime | None = None) -> dict[int, int]:
    """How many live chats each agent holds right now (open, written in within the last hour)."""
    if not agent_ids:
        return {}
    at = at or clock.now()
    rows = Conversation.objects.filter(
        assignee_id__in=agent_ids,
        status__in=ACTIVE_STATUSES,
        inbox__kind=ChannelKind.LIVECHAT,
        last_message_at__gte=at - ACTIVE_CHAT,
    ).values_list("assignee_id", flat=True)
    load = dict.fromkeys(agent_ids, 0)
    for agent_id in rows:
        load[agent_id] += 1
    return load


def agents_with_room(*, widget: Widget, at: dt.datetime | None = None) -> list[int]:
    """Present agents who may take one more chat (the widget's maximum per agent)."""
    present = agents_present(shop_id=widget.shop_id, at=at)
    limit = widget.config.max_chats_per_agent
    if not limit:
        return present
    load = chat_load(agent_ids=present, at=at)
    return [a for a in present if load.get(a, 0) < limit]


def widget_online(*, widget: Widget, at: dt.datetime | None = None) -> bool:
    """Whether the widget offers a live chat now: within hours, and someone there (unless not required).

    Cached briefly per widget: every page view of a busy shop asks.
    """
    at = at or clock.now()
    if not within_hours(widget.config, at):
        return False
    if not widget.config.offline_when_no_agents:
        return True
    key = f"livechat:online:{widget.inbox.pk}"
    cached = cache.get(key)
    if cached is not None:
        return bool(cached)
    online = bool(agents_with_room(widget=widget, at=at))
    cache.set(key, online, timeout=5)
    return online


def waiting_chats(*, shop_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Open chat cases waiting for an answer, oldest first: what the desk rings for and counts."""
    rows = (
        Conversation.objects.filter(
            shop_id=shop_id,
            inbox__kind=ChannelKind.LIVECHAT,
            status__in=(Status.NEW, Status.OPEN),
            waiting_since__isnull=False,
        )
        .order_by("waiting_since", "id")
        .values("id", "number", "assignee_id", "team_id", "waiting_since")[:limit]
    )
    return [
        {
            "conversation_id": r["id"],
            "number": r["number"],
            "assignee_id": r["assignee_id"],
            "team_id": r["team_id"],
            "waiting_since": r["waiting_since"].isoformat() if r["waiting_since"] else None,
        }
        for r in rows
    ]


def agent_team_ids(*, agent_id: int) -> set[int]:
    return set(Agent.objects.get(pk=agent_id).teams.values_list("pk", flat=True))


def access_chat_conversation(*, agent: Agent, conversation_id: int) -> Conversation:
    """A conversation of the agent's shop, or NotFound (another shop's id looks the same)."""
    conversation = (
        Conversation.objects.select_related("inbox").filter(pk=conversation_id, shop_id=agent.shop_id).first()
    )
    if conversation is None:
        raise NotFound()
    return conversation


def session_is_online(session: ChatSession, at: dt.datetime | None = None) -> bool:
    at = at or clock.now()
    return session.connected > 0 and session.last_seen_at >= at - PRESENCE_TTL and session.ended_at is None


def visitor_messages_filter() -> Q:
    return Q(direction=Message.Direction.INBOUND, is_internal=False)


# -- the intake's reads, once per batch of visitor messages (SQL written once: the ORM's compiling of
# these cost more than the database answering them, at hundreds of lines a second) ---------------------

_CASE_ROWS = JoinedRow(Conversation, [])


def stored_external_ids(*, inbox_id: int, external_ids: set[str]) -> dict[str, int]:
    """Which of these external ids the inbox's messages have already (a resend): id of each found."""
    if not external_ids:
        return {}
    quote = connection.ops.quote_name
    table = quote(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT external_id, id FROM {table}"
            f" WHERE inbox_id = %s AND external_id IN ({marks(len(external_ids))})",
            [inbox_id, *external_ids],
        )
        return {str(external_id): int(pk) for external_id, pk in cursor.fetchall()}


def session_links(*, session_ids: set[int]) -> dict[int, tuple[int | None, int | None]]:
    """Each session's case and contact as stored now (another thread or process may have moved them)."""
    if not session_ids:
        return {}
    table = connection.ops.quote_name(ChatSession._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, conversation_id, contact_id FROM {table} WHERE id IN ({marks(len(session_ids))})",
            list(session_ids),
        )
        return {
            int(pk): (conversation_id, contact_id) for pk, conversation_id, contact_id in cursor.fetchall()
        }


def cases_by_id(*, ids: set[int]) -> dict[int, Conversation]:
    """The cases, as whole rows (`in_bulk` without compiling a query per batch)."""
    return {case.pk: case for case in _CASE_ROWS.many(list(ids))}  # type: ignore[misc]


def reply_confirmed_early(*, message_id: int) -> tuple[int, int] | None:
    """(case, shop) of a chat reply marked `sent` whose widget had already confirmed it (the visitor's
    acknowledgment overtook the delivery task's bookkeeping), else None. Asked after every delivery."""
    quote = connection.ops.quote_name
    messages, sessions = quote(Message._meta.db_table), quote(ChatSession._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.conversation_id, m.shop_id FROM {messages} m"
            f" JOIN {sessions} s ON s.conversation_id = m.conversation_id"
            " WHERE m.id = %s AND m.channel = %s AND m.delivery_status = %s"
            " AND s.visitor_delivered_up_to >= m.id LIMIT 1",
            [message_id, ChannelKind.LIVECHAT.value, Message.Delivery.SENT.value],
        )
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]))
