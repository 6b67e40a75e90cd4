"""Domain events of the commerce mirror (published after commit; see opiekun.core.events)."""

from __future__ import annotations

from dataclasses import dataclass, field

from opiekun.core.events import DomainEvent


@dataclass(frozen=True)
class OrdersChanged(DomainEvent):
    """A batch of a connector's orders was created or updated; `contact_ids` are the customers touched."""

    connector_id: int
    contact_ids: list[int] = field(default_factory=list)
