"""The desk's chat panel on a conversation (`{% livechat_panel %}` in the side panel): where the visitor
is, whether they are there, the chat's statistics and its actions. Reads through the chat's selectors."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from opiekun.agents.selectors import agents_of_shop, teams_of_shop
from opiekun.conversations.models import ChannelKind

from ..selectors import session_is_online, session_of_conversation, widget_for_inbox
from ..statistics import chat_stats

register = template.Library()


@register.inclusion_tag("desk/_livechat.html", takes_context=True)
def livechat_panel(context: template.Context, conversation: Any) -> dict[str, Any]:
    """Nothing for other channels; for a chat, the visitor panel (a few indexed queries)."""
    inbox = getattr(conversation, "inbox", None)
    if inbox is None or inbox.kind != ChannelKind.LIVECHAT:
        return {"is_chat": False}
    agent = context.get("agent")
    session = session_of_conversation(shop_id=conversation.shop_id, conversation_id=conversation.pk)
    stats = chat_stats(conversation=conversation, session=session)
    widget = widget_for_inbox(inbox)
    limit = widget.config.max_chats_per_agent if widget else 0
    return {
        "is_chat": True,
        "conversation": conversation,
        "agent": agent,
        "session": session,
        "online": session is not None and session_is_online(session),
        "stats": stats,
        "limit": limit,
        "is_mine": agent is not None and conversation.assignee_id == agent.pk,
        "agents": agents_of_shop(shop=conversation.shop) if agent is not None else [],
        "teams": teams_of_shop(shop=conversation.shop) if agent is not None else [],
        "csrf_token": context.get("csrf_token"),
        "is_open": conversation.status not in ("resolved", "closed"),
    }


@register.filter
def lc_duration(seconds: Any) -> str:
    """12 s · 3 min 05 s · 1 h 20 min — short, for the statistics."""
    if seconds is None or seconds == "":
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
