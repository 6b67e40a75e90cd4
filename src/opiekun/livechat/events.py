"""Domain events of the live chat (published after commit; see opiekun.core.events)."""

from __future__ import annotations

from dataclasses import dataclass

from opiekun.core.events import DomainEvent


@dataclass(frozen=True)
class ChatMessageStored(DomainEvent):
    """A visitor's message is stored: other tabs of the visitor see it, the desk rings for a new chat."""

    session_id: int
    conversation_id: int
    message_id: int
    new_chat: bool


@dataclass(frozen=True)
class ChatVisitorChanged(DomainEvent):
    """What the desk shows about a visitor changed: online/offline, the page they are on, what they read."""

    session_id: int
    conversation_id: int
