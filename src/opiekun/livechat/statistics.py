"""Statistics of chats: per chat (shown on the conversation) and per agent and hour (for reports).

Computed from the messages themselves, so they are never out of step with the thread: the wait to the
first agent reply, every reply time (a visitor's first unanswered message → the next agent reply),
the length (duration and message count), and whether the chat was missed (the visitor left before
anyone answered).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from opiekun.conversations.models import ChannelKind, Conversation, Message
from opiekun.core import clock

from .models import ChatSession
from .selectors import PRESENCE_TTL, session_is_online

MISSED_AFTER = dt.timedelta(minutes=2)  # the visitor's socket has been gone this long, unanswered


@dataclass
class ChatStats:
    started_at: dt.datetime | None = None
    first_reply_at: dt.datetime | None = None
    first_agent_id: int | None = None
    wait_seconds: int | None = None
    reply_seconds: list[int] = field(default_factory=list)
    reply_agents: list[int | None] = field(default_factory=list)
    reply_hours: list[dt.datetime] = field(default_factory=list)
    last_message_at: dt.datetime | None = None
    visitor_messages: int = 0
    agent_messages: int = 0
    missed: bool = False
    waiting: bool = False
    visitor_online: bool = False

    @property
    def duration_seconds(self) -> int:
        if self.started_at is None or self.last_message_at is None:
            return 0
        return int((self.last_message_at - self.started_at).total_seconds())

    @property
    def message_count(self) -> int:
        return self.visitor_messages + self.agent_messages

    @property
    def average_reply_seconds(self) -> int | None:
        return round(sum(self.reply_seconds) / len(self.reply_seconds)) if self.reply_seconds else None

    @property
    def longest_reply_seconds(self) -> int | None:
        return max(self.reply_seconds) if self.reply_seconds else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "first_reply_at": self.first_reply_at.isoformat() if self.first_reply_at else None,
            "wait_seconds": self.wait_seconds,
            "average_reply_seconds": self.average_reply_seconds,
            "longest_reply_seconds": self.longest_reply_seconds,
            "replies": len(self.reply_seconds),
            "duration_seconds": self.duration_seconds,
            "visitor_messages": self.visitor_messages,
            "agent_messages": self.agent_messages,
            "message_count": self.message_count,
            "missed": self.missed,
        }


def _fold(rows: list[tuple[str, int | None, dt.datetime]]) -> ChatStats:
    """rows: (direction, author agent id, created_at) of the public messages, oldest first."""
    stats = ChatStats()
    unanswered_since: dt.datetime | None = None
    for direction, agent_id, at in rows:
        if direction == Message.Direction.INBOUND:
            stats.visitor_messages += 1
            if stats.started_at is None:
                stats.started_at = at
            if unanswered_since is None:
                unanswered_since = at
        else:
            if stats.started_at is None:
                continue  # an agent's greeting before the visitor wrote: not a reply
            stats.agent_messages += 1
            if unanswered_since is not None:
                seconds = max(0, int((at - unanswered_since).total_seconds()))
                stats.reply_seconds.append(seconds)
                stats.reply_agents.append(agent_id)
                stats.reply_hours.append(at.replace(minute=0, second=0, microsecond=0))
                unanswered_since = None
            if stats.first_reply_at is None:
                stats.first_reply_at, stats.first_agent_id = at, agent_id
                stats.wait_seconds = max(0, int((at - stats.started_at).total_seconds()))
        stats.last_message_at = at
    stats.waiting = unanswered_since is not None
    return stats


def _rows(conversation_ids: list[int]) -> dict[int, list[tuple[str, int | None, dt.datetime]]]:
    found: dict[int, list[tuple[str, int | None, dt.datetime]]] = defaultdict(list)
    for cid, direction, agent_id, at in (
        Message.objects.filter(conversation_id__in=conversation_ids, is_internal=False)
        .exclude(channel=ChannelKind.NOTE)
        .order_by("created_at", "id")
        .values_list("conversation_id", "direction", "author_agent_id", "created_at")
    ):
        found[cid].append((direction, agent_id, at))
    return found


def _missed(stats: ChatStats, session: ChatSession | None, now: dt.datetime) -> bool:
    if stats.first_reply_at is not None or stats.started_at is None:
        return False
    if session is None:
        return stats.last_message_at is not None and now - stats.last_message_at > MISSED_AFTER
    if session.ended_at is not None:
        return True
    return not session_is_online(session, now) and now - session.last_seen_at > MISSED_AFTER - PRESENCE_TTL


def chat_stats(*, conversation: Conversation, session: ChatSession | None = None) -> ChatStats:
    """One chat's figures (one query for the messages)."""
    now = clock.now()
    stats = _fold(_rows([conversation.pk]).get(conversation.pk, []))
    stats.missed = _missed(stats, session, now)
    stats.visitor_online = session is not None and session_is_online(session, now)
    return stats


def chat_report(*, shop_id: int, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """Figures for reports: chats started in [since, until), per agent and per hour (UTC hours).

    Touches the shop's chat conversations, their sessions and messages (three queries).
    """
    now = clock.now()
    conversation_ids = list(
        Conversation.objects.filter(
            shop_id=shop_id, inbox__kind=ChannelKind.LIVECHAT, created_at__gte=since, created_at__lt=until
        ).values_list("pk", flat=True)
    )
    sessions = {
        s.conversation_id: s
        for s in ChatSession.objects.filter(shop_id=shop_id, conversation_id__in=conversation_ids).order_by(
            "last_seen_at"
        )
    }
    rows = _rows(conversation_ids)
    total: dict[str, Any] = {"chats": 0, "missed": 0, "answered": 0, "wait_seconds": [], "reply_seconds": []}
    per_agent: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {"chats": 0, "replies": 0, "reply_seconds": []}
    )
    per_hour: dict[str, dict[str, Any]] = defaultdict(lambda: {"chats": 0, "missed": 0, "replies": 0})
    for cid in conversation_ids:
        stats = _fold(rows.get(cid, []))
        if stats.started_at is None:
            continue
        stats.missed = _missed(stats, sessions.get(cid), now)
        hour = stats.started_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0).isoformat()
        total["chats"] += 1
        per_hour[hour]["chats"] += 1
        if stats.missed:
            total["missed"] += 1
            per_hour[hour]["missed"] += 1
        if stats.wait_seconds is not None:
            total["answered"] += 1
            total["wait_seconds"].append(stats.wait_seconds)
            per_agent[stats.first_agent_id]["chats"] += 1
        for seconds, agent_id, at in zip(
            stats.reply_seconds, stats.reply_agents, stats.reply_hours, strict=True
        ):
            total["reply_seconds"].append(seconds)
            per_agent[agent_id]["replies"] += 1
            per_agent[agent_id]["reply_seconds"].append(seconds)
            per_hour[at.astimezone(dt.UTC).isoformat()]["replies"] += 1

    def avg(values: list[int]) -> int | None:
        return round(sum(values) / len(values)) if values else None

    return {
        "chats": total["chats"],
        "answered": total["answered"],
        "missed": total["missed"],
        "average_wait_seconds": avg(total["wait_seconds"]),
        "average_reply_seconds": avg(total["reply_seconds"]),
        "per_agent": {
            str(agent_id): {
                "chats": v["chats"],
                "replies": v["replies"],
                "average_reply_seconds": avg(v["reply_seconds"]),
            }
            for agent_id, v in per_agent.items()
        },
        "per_hour": dict(sorted(per_hour.items())),
    }
