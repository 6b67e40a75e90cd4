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
    # What the fan-out needs, carried along so it asks the database nothing per message.
    public_key: str = ""
    number: int = 0
    contact_name: str = ""
    assignee_id: int | None = None
    team_id: int | None = None
    origin: str = ""  # the channel name of the socket that sent it (it has the ack; no push for it)


@dataclass(frozen=True)
class ChatVisitorChanged(DomainEvent):
    """What the desk shows about a visitor changed: online/offline, the page they are on, what they read."""

    session_id: int
    conversation_id: int
