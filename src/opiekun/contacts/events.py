from __future__ import annotations

from dataclasses import dataclass

from opiekun.core.events import DomainEvent


@dataclass(frozen=True)
class ContactChanged(DomainEvent):
    contact_id: int
