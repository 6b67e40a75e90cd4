"""The channel seam: what a driver is, and the dataclasses it speaks.

A driver only translates between its transport (a form post, an IMAP fetch, a webhook body) and
these dataclasses. It never looks up contacts or conversations: the inbound pipeline and the
delivery task do that. Drivers import this module and the kernel only (import-linter enforces it).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel


class Capability(enum.Flag):
    NONE = 0
    RECEIVE = enum.auto()
    SEND = enum.auto()
    ATTACHMENTS = enum.auto()
    HTML = enum.auto()
    SUBJECT = enum.auto()
    # Replies go out as e-mails that thread in the customer's mail program: delivery gives each one a
    # Message-ID (kept across retries) and its In-Reply-To/References chain. Other transports skip that.
    MAIL_THREADS = enum.auto()


@dataclass(frozen=True)
class SenderHints:
    """Who the transport says sent the message; the pipeline turns this into a Contact."""

    name: str = ""
    email: str = ""
    phone: str = ""
    chat_session: str = ""
    messenger_id: str = ""
    # Set when the transport already authenticated the contact (portal session, agent logging a call).
    contact_id: int | None = None


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content: bytes
    declared_type: str = ""
    content_id: str = ""


@dataclass(frozen=True)
class BounceReport:
    """A delivery status notification (RFC 3464) about a message we sent."""

    original_message_id: str
    recipient: str = ""
    status: str = ""
    diagnostic: str = ""
    permanent: bool = True


@dataclass(frozen=True)
class InboundMessage:
    sender: SenderHints
    text: str
    subject: str = ""
    html: str = ""
    external_id: str | None = None
    attachments: tuple[InboundAttachment, ...] = ()
    order_ref: str = ""
    language: str = ""
    received_at: dt.datetime | None = None
    # Threading hints, strongest first: an authenticated reply names its conversation outright.
    conversation_id: int | None = None
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    # Transport signals the loop/auto-reply guard reads (e.g. Auto-Submitted header values).
    auto_submitted: bool = False
    # E-mail: the transport's own id (Message-ID), the folded rest of the body (quoted history and
    # signature, shown collapsed), every address the mail was sent to (per-agent addresses, plus-address
    # reply tokens, our own addresses), and the delivery report when the mail is a bounce.
    rfc_message_id: str = ""
    quoted: str = ""
    recipients: tuple[str, ...] = ()
    bounce: BounceReport | None = None
    direction: str = "in"  # "out" when an agent logs a contact they made (a call they placed)
    logged_by_agent_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundAttachment:
    filename: str
    mime_type: str
    path: Path


@dataclass(frozen=True)
class OutboundMessage:
    message_id: int
    conversation_number: int
    subject: str
    text: str
    html: str = ""
    to_name: str = ""
    to_email: str = ""
    to_phone: str = ""
    from_name: str = ""
    from_email: str = ""
    reply_to: str = ""
    signature: str = ""
    portal_url: str = ""
    shop_name: str = ""
    language: str = ""
    attachments: tuple[OutboundAttachment, ...] = ()
    # Threading (e-mail): our Message-ID for this message (stable across retries), the customer's
    # message it answers, and the chain before it (oldest first).
    rfc_message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    provider_id: str = ""
    error: str = ""
    transient: bool = False  # retry later (timeouts, 4xx SMTP, 429/5xx) vs. terminal (bad address)

    @classmethod
    def sent(cls, provider_id: str = "") -> DeliveryResult:
        return cls(ok=True, provider_id=provider_id)

    @classmethod
    def retry(cls, error: str) -> DeliveryResult:
        return cls(ok=False, error=error, transient=True)

    @classmethod
    def failed(cls, error: str) -> DeliveryResult:
        return cls(ok=False, error=error, transient=False)


class VerificationFailed(Exception):
    """The transport payload is not authentic (bad signature, wrong secret); nothing may be stored."""


class DriverConfig(BaseModel):
    """Per-kind settings stored on Inbox.config; each driver subclasses this."""

    model_config = {"extra": "forbid"}


@runtime_checkable
class Driver(Protocol):
    kind: ClassVar[str]
    capabilities: ClassVar[Capability]
    Config: ClassVar[type[DriverConfig]]

    def verify(self, *, headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> None:
        """Raise VerificationFailed unless the raw transport payload is authentic. Touches nothing."""

    def parse_inbound(self, payload: Any) -> list[InboundMessage]:
        """Translate one transport payload into messages. Pure: no database access."""

    def send(self, message: OutboundMessage, config: DriverConfig) -> DeliveryResult:
        """Deliver one outbound message over the transport; never raises for delivery errors."""
