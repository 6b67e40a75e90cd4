"""Domain events of conversations (published after commit; see opiekun.core.events)."""

from __future__ import annotations

from dataclasses import dataclass

from opiekun.core.events import DomainEvent


@dataclass(frozen=True)
class ConversationChanged(DomainEvent):
    """Anything visible in the inbox list changed: status, assignee, team, tags, priority, new case."""

    conversation_id: int
    what: str
    number: int = 0  # the case number when the publisher had it at hand (spares subscribers a lookup)


@dataclass(frozen=True)
class MessageCreated(DomainEvent):
    conversation_id: int
    message_id: int
    direction: str
    is_internal: bool
    number: int = 0  # the case number when the publisher had it at hand (spares subscribers a lookup)


@dataclass(frozen=True)
class OutboundQueued(DomainEvent):
    """A public reply waits for its channel's delivery task."""

    message_id: int


@dataclass(frozen=True)
class MessageUpdated(DomainEvent):
    """A message's delivery status changed."""

    conversation_id: int
    message_id: int
