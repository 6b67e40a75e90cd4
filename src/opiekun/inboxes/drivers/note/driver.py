"""Logged contacts: an agent records a phone call, letter, fax or visit on the customer's timeline."""

from __future__ import annotations

from typing import Any, ClassVar

from opiekun.inboxes.base import (
    Capability,
    DeliveryResult,
    DriverConfig,
    InboundAttachment,
    InboundMessage,
    OutboundMessage,
    SenderHints,
)

NOTE_KINDS = ("call", "letter", "fax", "visit", "other")


class NoteConfig(DriverConfig):
    pass


class NoteDriver:
    kind: ClassVar[str] = "note"
    capabilities: ClassVar[Capability] = Capability.RECEIVE | Capability.ATTACHMENTS
    Config: ClassVar[type[DriverConfig]] = NoteConfig

    def verify(self, *, headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> None:
        return None  # only logged-in agents reach it

    def parse_inbound(self, payload: Any) -> list[InboundMessage]:
        """`payload`: contact_id, agent_id, note_kind, direction (in/out), text, files, conversation_id."""
        note_kind = payload.get("note_kind", "other")
        if note_kind not in NOTE_KINDS:
            raise ValueError(f"unknown kind of logged contact: {note_kind!r}")
        direction = payload.get("direction", "in")
        if direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
        return [
            InboundMessage(
                sender=SenderHints(contact_id=payload["contact_id"]),
                subject=payload.get("subject", ""),
                text=payload["text"],
                attachments=tuple(
                    InboundAttachment(
                        filename=f["filename"], content=f["content"], declared_type=f.get("content_type", "")
                    )
                    for f in payload.get("files", ())
                ),
                conversation_id=payload.get("conversation_id"),
                direction=direction,
                logged_by_agent_id=payload["agent_id"],
                meta={"note_kind": note_kind},
            )
        ]

    def send(self, message: OutboundMessage, config: DriverConfig) -> DeliveryResult:
        return DeliveryResult.failed("A logged contact cannot be sent.")
