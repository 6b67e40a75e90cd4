"""Reads the API needs that no app selector offers yet; each takes the shop and answers NotFound across shops.

They belong with their apps' selectors eventually (contacts has no selectors module yet, and the
conversation list for a caller without an agent is the desk's list with the agent made optional).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from opiekun.agents.models import Agent
from opiekun.contacts.models import Identity
from opiekun.contacts.selectors import access_contact, contact_list, contact_owning  # noqa: F401 — re-exported
from opiekun.conversations.models import Attachment, Conversation, Message
from opiekun.core.errors import NotFound
from opiekun.inboxes.models import Inbox
from opiekun.shops.models import ApiToken, Shop


def agent_for_user(user: Any) -> Agent | None:
    """The active user's agent profile with its shop (one query), or None for a user who is no agent."""
    return Agent.objects.select_related("shop").filter(user_id=user.pk, user__is_active=True).first()


def access_conversation_in_shop(*, shop_id: int, conversation_id: int, detail: bool = True) -> Conversation:
    """The shop's conversation, or NotFound; with `detail` also its contact's identities, people and tags."""
    qs = Conversation.objects.filter(shop_id=shop_id, pk=conversation_id)
    if detail:
        qs = qs.select_related(
            "contact",
            "contact__caretaker",
            "contact__backup_caretaker",
            "assignee",
            "team",
            "inbox",
            "shop",
        ).prefetch_related(
            "tags",
            Prefetch("contact__identities", queryset=Identity.objects.order_by("-is_primary", "kind", "id")),
        )
    else:
        qs = qs.select_related("contact", "shop", "inbox", "assignee")
    conversation = qs.first()
    if conversation is None:
        raise NotFound()
    return conversation


def message_page(*, conversation: Conversation, limit: int = 50, offset: int = 0) -> list[Message]:
    """One page of the conversation's messages (notes included), oldest first; 2 queries."""
    return list(
        Message.objects.filter(shop_id=conversation.shop_id, conversation=conversation)
        .select_related("author_agent")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")[offset : offset + limit]
    )


def access_message(*, shop_id: int, message_id: int) -> Message:
    message = (
        Message.objects.filter(shop_id=shop_id, pk=message_id)
        .select_related("author_agent")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .first()
    )
    if message is None:
        raise NotFound()
    return message


def shop_inbox(*, shop_id: int, kind: str) -> Inbox | None:
    """The shop's first active inbox of `kind` (the oldest one, so the choice is stable)."""
    return Inbox.objects.filter(shop_id=shop_id, kind=kind, is_active=True).order_by("id").first()


def api_tokens_of_shop(*, shop: Shop | None = None) -> list[ApiToken]:
    qs = ApiToken.objects.select_related("shop").order_by("shop__slug", "created_at", "id")
    if shop is not None:
        qs = qs.filter(shop=shop)
    return list(qs)


def access_api_token(*, token_id_or_prefix: str, shop: Shop | None = None) -> ApiToken:
    """A token by id or by the key prefix `opiekun apitoken list` shows, or NotFound (also when ambiguous)."""
    qs = ApiToken.objects.select_related("shop")
    if shop is not None:
        qs = qs.filter(shop=shop)
    if token_id_or_prefix.isascii() and token_id_or_prefix.isdigit() and len(token_id_or_prefix) < 19:
        qs = qs.filter(pk=int(token_id_or_prefix))
    else:
        qs = qs.filter(prefix=token_id_or_prefix[:12])
    tokens = list(qs[:2])
    if len(tokens) != 1:
        raise NotFound()
    return tokens[0]


def conversation_id_for_external_id(*, inbox_id: int, external_id: str) -> int | None:
    """The case a message with this (inbox, external id) was stored on, if any."""
    return (
        Message.objects.filter(inbox_id=inbox_id, external_id=external_id)
        .values_list("conversation_id", flat=True)
        .first()
    )
