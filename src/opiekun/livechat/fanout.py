"""The chat's live frames: to the visitor's sockets and to the desks' chat sockets, after commit.

Groups:
- `livechat.v.<public key>.<case number>`: the visitor sockets of one chat conversation (the driver
  sends agents' replies there too). Frames name a message id only; each socket reads the message
  itself, scoped to its own conversation, so a frame in the wrong group shows nothing.
- `livechat.d.<shop id>`: every desk chat socket of the shop (rings, visitor typing, presence, the
  list of waiting chats). Never message text.
"""

from __future__ import annotations

import logging
from typing import Any

from opiekun.conversations.events import MessageCreated, MessageUpdated
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


def connect() -> None:
    subscribe(ChatMessageStored, on_chat_message)
    subscribe(ChatVisitorChanged, on_visitor_changed)
    subscribe(MessageUpdated, on_message_updated)
    subscribe(MessageCreated, on_message_created)


def to_desk(shop_id: int, frame: dict[str, Any]) -> None:
    bridge.group_send(desk_group(shop_id), {"type": DESK_MESSAGE_TYPE, "frame": frame})


def to_visitor_group(group: str, frame: dict[str, Any]) -> None:
    bridge.group_send(group, {"type": VISITOR_MESSAGE_TYPE, "frame": frame})


def _public_key(conversation: Conversation) -> str | None:
    inbox = conversation.inbox
    if inbox is None or inbox.kind != ChannelKind.LIVECHAT:
        return None
    return str((inbox.config or {}).get("public_key") or "") or None


def on_chat_message(event: ChatMessageStored) -> None:
    """A visitor's message: their other tabs show it, the desks ring (new chat) and recount."""
    if not bridge.is_live():
        return
    conversation = (
        Conversation.objects.select_related("inbox", "contact").filter(pk=event.conversation_id).first()
    )
    if conversation is None:
        return
    key = _public_key(conversation)
    if key:
        if event.new_chat:
            # Tabs of the session that opened before the case existed join its group now.
            to_visitor_group(
                session_group(event.session_id), {"type": "joined", "number": conversation.number}
            )
        bridge.group_send(
            conversation_group(key, conversation.number),
            {"type": PUSH_MESSAGE_TYPE, "message_id": event.message_id},
        )
    ring = {
        "type": "ring",
        "conversation_id": conversation.pk,
        "number": conversation.number,
        "new_chat": event.new_chat,
        "name": conversation.contact.name,
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
    }
    to_desk(event.shop_id, ring)
    send_waiting(event.shop_id)


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
    """An agent answered somewhere: the waiting-chats list may have shrunk."""
    if event.direction != Message.Direction.OUTBOUND or event.is_internal or not bridge.is_live():
        return
    is_chat = Conversation.objects.filter(pk=event.conversation_id, inbox__kind=ChannelKind.LIVECHAT).exists()
    if is_chat:
        send_waiting(event.shop_id)


def send_waiting(shop_id: int) -> None:
    from .selectors import waiting_chats

    to_desk(shop_id, {"type": "waiting", "chats": waiting_chats(shop_id=shop_id)})
