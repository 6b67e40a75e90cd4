"""Appending to the customer timeline (Event rows are never updated or deleted)."""

from __future__ import annotations

from typing import Any

from opiekun.agents.models import Agent
from opiekun.core import clock

from .models import Conversation, Event


def event_build(
    *,
    shop_id: int,
    kind: str,
    conversation: Conversation | None = None,
    contact: Any = None,
    actor: Agent | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """An unsaved timeline entry (for bulk inserts); `event_append` saves one."""
    contact_id = (
        getattr(contact, "pk", contact)
        if contact is not None
        else (conversation.contact_id if conversation is not None else None)
    )
    return Event(
        shop_id=shop_id,
        conversation=conversation,
        contact_id=contact_id,
        kind=kind,
        actor=actor,
        data=data or {},
        created_at=clock.now(),
    )


def event_append(
    *,
    shop_id: int,
    kind: str,
    conversation: Conversation | None = None,
    contact: Any = None,
    actor: Agent | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    event = event_build(
        shop_id=shop_id, kind=kind, conversation=conversation, contact=contact, actor=actor, data=data
    )
    event.save(force_insert=True)
    return event
