"""The chat's live frames: to the visitor's sockets and to the desks' chat sockets, after commit.

Groups:
- `livechat.v.<public key>.<case number>`: the visitor sockets of one chat conversation (the driver
  sends agents' replies there too). Frames name a message id only; each socket reads the message
  itself, scoped to its own conversation, so a frame in the wrong group shows nothing.
- `livechat.d.<shop id>`: every desk chat socket of the shop (rings, visitor typing, presence, the
  list of waiting chats). Never message text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from opiekun.conversations.events import ConversationChanged, MessageCreated, MessageUpdated
from opiekun.conversations.models import ChannelKind, Conversation, Message
from opiekun.core.events import subscribe
from opiekun.inboxes.drivers.livechat.driver import PUSH_MESSAGE_TYPE, conversation_group
from opiekun.realtime import bridge

from .events import ChatMessageStored, ChatVisitorChanged
from .models import ChatSession

log = logging.getLogger(__name__)

DESK_MESSAGE_TYPE = "chat.desk"  # AgentChatConsumer.chat_desk
VISITOR_MESSAGE_TYPE = "chat.visitor"  # VisitorConsumer.chat_visitor


def desk_group(shop_id: int) -> str:
    return f"livechat.d.{shop_id}"


def session_group(session_id: int) -> str:
    return f"livechat.s.{session_id}"


def widget_group(inbox_id: int) -> str:
    """Every visitor socket of one widget (whether someone is there is pushed to them)."""
    return f"livechat.w.{inbox_id}"


def connect() -> None:
    subscribe(ChatMessageStored, on_chat_message)
    subscribe(ChatVisitorChanged, on_visitor_changed)
    subscribe(MessageUpdated, on_message_updated)
    subscribe(MessageCreated, on_message_created)
    subscribe(ConversationChanged, on_conversation_changed)


def to_desk(shop_id: int, frame: dict[str, Any]) -> None:
    bridge.group_send(desk_group(shop_id), {"type": DESK_MESSAGE_TYPE, "frame": frame})


def to_visitor_group(group: str, frame: dict[str, Any]) -> None:
    bridge.group_send(group, {"type": VISITOR_MESSAGE_TYPE, "frame": frame})


def on_chat_message(event: ChatMessageStored) -> None:
    """A visitor's message: their other tabs show it, the desks ring (new chat) and recount.

    Asks the database nothing: the event carries what the frames say (this runs after the commit of
    every visitor message, in the thread that stored it)."""
    if not bridge.is_live():
        return
    if event.new_chat:
        # Tabs of the session that opened before the case existed join its group now.
        to_visitor_group(session_group(event.session_id), {"type": "joined", "number": event.number})
    bridge.group_send(
        conversation_group(event.public_key, event.number),
        {"type": PUSH_MESSAGE_TYPE, "message_id": event.message_id, "origin": event.origin},
    )
    ring = {
        "type": "ring",
        "conversation_id": event.conversation_id,
        "number": event.number,
        "new_chat": event.new_chat,
        "name": event.contact_name,
        "assignee_id": event.assignee_id,
        "team_id": event.team_id,
    }
    to_desk(event.shop_id, ring)
    waiting_changed(event.shop_id)


def agent_name(agent: object) -> str:
    """How the widget names the agent: their first name only."""
    name = str(getattr(agent, "display_name", "") or "").strip()
    return name.split()[0] if name else ""


def on_conversation_changed(event: ConversationChanged) -> None:
    """A chat got (or lost) its agent: the visitor's header says who is answering (and an agent at their
    maximum of chats, or with room again, may change whether the shop's widgets are online)."""
    if event.what in ("assigned", "status") and bridge.is_live():
        online_changed(event.shop_id)
    if event.what != "assigned" or not bridge.is_live():
        return
    conversation = (
        Conversation.objects.select_related("inbox", "assignee")
        .filter(pk=event.conversation_id, shop_id=event.shop_id, inbox__kind=ChannelKind.LIVECHAT)
        .first()
    )
    key = (
        str((conversation.inbox.config or {}).get("public_key") or "")
        if conversation and conversation.inbox
        else ""
    )
    if conversation is None or not key:
        return
    to_visitor_group(
        conversation_group(key, conversation.number),
        {"type": "agent", "name": agent_name(conversation.assignee)},
    )


def on_visitor_changed(event: ChatVisitorChanged) -> None:
    if not bridge.is_live():
        return
    session = ChatSession.objects.filter(pk=event.session_id).first()
    if session is None:
        return
    from .selectors import session_is_online

    to_desk(
        event.shop_id,
        {
            "type": "visitor",
            "conversation_id": event.conversation_id,
            "online": session_is_online(session),
            "page_url": session.page_url,
            "page_title": session.page_title,
            "visitor_read_up_to": session.visitor_read_up_to,
        },
    )


def on_message_updated(event: MessageUpdated) -> None:
    # Runs in the thread that committed the delivery status; cheap when it is not a chat reply.
    try:
        from .services import chat_reconcile_delivered

        chat_reconcile_delivered(message_id=event.message_id)
    except Exception:
        log.warning("delivered-state reconciliation of message %s failed", event.message_id, exc_info=True)


def on_message_created(event: MessageCreated) -> None:
    """An agent answered somewhere: the waiting-chats list may have shrunk, and a chat reply is looked
    at again in a few minutes (e-mailed when the visitor left without seeing it)."""
    if event.direction != Message.Direction.OUTBOUND or event.is_internal:
        return
    try:
        from .services import chat_reply_sent

        chat_reply_sent(
            message_id=event.message_id, shop_id=event.shop_id, conversation_id=event.conversation_id
        )
    except Exception:
        log.warning("the e-mail check of reply %s was not scheduled", event.message_id, exc_info=True)
    if not bridge.is_live():
        return
    is_chat = Conversation.objects.filter(pk=event.conversation_id, inbox__kind=ChannelKind.LIVECHAT).exists()
    if is_chat:
        waiting_changed(event.shop_id)


WAITING_DELAY = 0.25  # seconds a shop's changes are gathered before its waiting chats are read once
_armed: set[tuple[int, int]] = set()  # (id of the loop, shop) with a round pending


def waiting_changed(shop_id: int) -> None:
    """Note (from any thread) that the shop's waiting chats changed; the desks get the list once per
    WAITING_DELAY however many messages arrived meanwhile (as the desk's counts are pushed)."""
    bridge.call_soon(_arm, shop_id)


def _arm(shop_id: int) -> None:
    key = (id(asyncio.get_running_loop()), shop_id)
    if key in _armed:
        return
    _armed.add(key)
    bridge.spawn(_waiting_round(key, shop_id))


async def _waiting_round(key: tuple[int, int], shop_id: int) -> None:
    from .selectors import waiting_chats

    await asyncio.sleep(WAITING_DELAY)
    _armed.discard(key)  # a change from here on arms the next round
    try:
        chats = await database_sync_to_async(waiting_chats)(shop_id=shop_id)
    except Exception:
        log.warning("waiting chats of shop %s could not be read", shop_id, exc_info=True)
        return
    frame = {"type": "waiting", "chats": chats}
    await get_channel_layer().group_send(desk_group(shop_id), {"type": DESK_MESSAGE_TYPE, "frame": frame})


ONLINE_DELAY = 0.5  # seconds a shop's presence changes are gathered before its widgets are re-asked
_online_armed: set[tuple[int, int]] = set()
_online_told: dict[int, bool] = {}  # widget (inbox id) → what its visitors were last told, in this process


def online_changed(shop_id: int) -> None:
    """Note (from any thread) that someone came to or left the shop's desks, or took or closed a chat:
    once per ONLINE_DELAY the shop's widgets are asked whether they are online, and their open panels
    are told when that changed (the widget turns into the "leave a message" form, or back)."""
    bridge.call_soon(_arm_online, shop_id)


def _arm_online(shop_id: int) -> None:
    key = (id(asyncio.get_running_loop()), shop_id)
    if key in _online_armed:
        return
    _online_armed.add(key)
    bridge.spawn(_online_round(key, shop_id))


def widgets_online(shop_id: int) -> dict[int, bool]:
    """Each active widget of the shop: whether it offers a live chat right now (asked afresh)."""
    from django.core.cache import cache

    from .selectors import shop_widgets, widget_online

    found = {}
    for widget in shop_widgets(shop_id=shop_id):
        cache.delete(f"livechat:online:{widget.inbox.pk}")  # the brief cache would answer the old state
        found[widget.inbox.pk] = widget_online(widget=widget)
    return found


async def _online_round(key: tuple[int, int], shop_id: int) -> None:
    await asyncio.sleep(ONLINE_DELAY)
    _online_armed.discard(key)
    try:
        states = await database_sync_to_async(widgets_online)(shop_id)
    except Exception:
        log.warning("whether the widgets of shop %s are online could not be read", shop_id, exc_info=True)
        return
    layer = get_channel_layer()
    for inbox_id, online in states.items():
        if _online_told.get(inbox_id) is online:
            continue
        _online_told[inbox_id] = online
        await layer.group_send(
            widget_group(inbox_id),
            {"type": VISITOR_MESSAGE_TYPE, "frame": {"type": "online", "online": online}},
        )
