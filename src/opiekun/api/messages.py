"""/api/conversations/{id}/messages and /notes — read a case's thread, reply to the customer, add a note.

Internal notes are listed for every caller: sessions are agents, and a token is the shop's own
integration acting for the shop (docs/api.md). They never reach the customer.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from opiekun.conversations import services as conversations

from . import selectors
from .auth import caller, client_ip
from .common import author, page_of
from .schemas import ERRORS, Id, MessageOut, MessagePage, NoteCreate, PageParams, ReplyCreate
from .services import audit_token_call

router = Router(tags=["messages"])

ConversationId = Path[Id]


@router.get(
    "/{conversation_id}/messages",
    response={200: MessagePage, **ERRORS},
    url_name="message_list",
    summary="List a conversation's messages",
)
def message_list(
    request: HttpRequest, conversation_id: ConversationId, params: Query[PageParams]
) -> dict[str, Any]:
    """The case's messages and internal notes with their attachments, oldest first."""
    who = caller(request)
    conversation = selectors.access_conversation_in_shop(
        shop_id=who.shop.pk, conversation_id=conversation_id, detail=False
    )
    rows = selectors.message_page(conversation=conversation, limit=params.limit + 1, offset=params.offset)
    return page_of(rows, params)


@router.post(
    "/{conversation_id}/messages",
    response={201: MessageOut, **ERRORS},
    url_name="message_reply",
    summary="Reply to the customer",
)
def message_reply(request: HttpRequest, payload: ReplyCreate, conversation_id: ConversationId) -> Status[Any]:
    """Reply to the customer; the reply is queued and its channel's delivery sets `delivery_status`.

    With a token, `agent_id` names the agent the reply comes from (their name and signature go out).
    """
    who = caller(request)
    conversation = selectors.access_conversation_in_shop(
        shop_id=who.shop.pk, conversation_id=conversation_id, detail=False
    )
    agent = author(who, payload.agent_id)
    ip = client_ip(request)
    with transaction.atomic():
        message = conversations.message_send(
            conversation=conversation,
            agent=agent,
            text=payload.text,
            channel=payload.channel.value if payload.channel else None,
            status_after=payload.status_after.value,
            ip=ip,
        )
        audit_token_call(
            who,
            action="message.send",
            obj=conversation,
            data={"message": message.pk, "agent": agent.pk},
            ip=ip,
        )
    return Status(201, selectors.access_message(shop_id=who.shop.pk, message_id=message.pk))


@router.post(
    "/{conversation_id}/notes",
    response={201: MessageOut, **ERRORS},
    url_name="note_add",
    summary="Add an internal note",
)
def note_add(request: HttpRequest, payload: NoteCreate, conversation_id: ConversationId) -> Status[Any]:
    """Add an internal note (agents only ever see it)."""
    who = caller(request)
    conversation = selectors.access_conversation_in_shop(
        shop_id=who.shop.pk, conversation_id=conversation_id, detail=False
    )
    agent = author(who, payload.agent_id)
    ip = client_ip(request)
    with transaction.atomic():
        message = conversations.note_add(conversation=conversation, agent=agent, text=payload.text, ip=ip)
        audit_token_call(
            who,
            action="note.add",
            obj=conversation,
            data={"message": message.pk, "agent": agent.pk},
            ip=ip,
        )
    return Status(201, selectors.access_message(shop_id=who.shop.pk, message_id=message.pk))
