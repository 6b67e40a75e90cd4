"""Domain events of telephony (published after commit through core.events)."""

from __future__ import annotations

from dataclasses import dataclass

from opiekun.core.events import DomainEvent


@dataclass(frozen=True)
class CallbacksChanged(DomainEvent):
    """A callback was opened, merged, tried, escalated or closed in the shop (the desk's badge moves)."""
