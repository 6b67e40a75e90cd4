"""Domain events of conversations (published after commit; see opiekun.core.events)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    # What the inbound paths have in memory anyway, so a subscriber reading the words (an order number
    # mentioned in a chat line) needs no query per message; None when the publisher did not say.
    # Kept in the process: never in frames, never in repr (logs).
    text: str | None = field(default=None, repr=False)
    subject: str | None = field(default=None, repr=False)
    order_ref: str | None = None  # the case's linked order ("" none), as the message was stored


@dataclass(frozen=True)
class OutboundQueued(DomainEvent):
    """A public reply waits for its channel's delivery task."""

    message_id: int


@dataclass(frozen=True)
class MessageUpdated(DomainEvent):
    """A message's delivery status changed."""

    conversation_id: int
    message_id: int
    number: int = 0  # the case number when the publisher had it at hand (spares subscribers a lookup)
