"""Live chat: the widget's socket in, an agent's reply out to the visitor's socket.

Inbound, the chat consumer (opiekun.livechat) hands each visitor message to `parse_inbound` and the
pipeline. Outbound, `send` tells the visitor's conversation group on the channel layer that a reply
is there; the visitor's socket reads it (scoped to its own conversation) and acknowledges it, which
moves the message from "sent" to "delivered". The driver imports only the channel seam, the kernel
and the Channels library.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import zoneinfo
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from pydantic import Field, SecretStr, field_validator

from opiekun.core.serving import serving_loop
from opiekun.inboxes.base import (
    Capability,
    DeliveryResult,
    DriverConfig,
    InboundAttachment,
    InboundMessage,
    OutboundMessage,
    SenderHints,
)

ALLOWED_TYPES = ("image/jpeg", "image/png", "application/pdf")
PUSH_MESSAGE_TYPE = "chat.push"  # VisitorConsumer.chat_push
SEND_TIMEOUT = 5.0
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PrechatField = Literal["name", "email", "phone"]


class LivechatConfig(DriverConfig):
    """One chat widget. The identity secret lives in Inbox.secrets (`identity_secret`)."""

    public_key: str = Field(description="Names the widget in the embed snippet and its socket URL.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description='Pages that may open the chat: "https://shop.pl", "shop.pl" or "*.shop.pl".',
    )
    colour: str = "#2f6f4f"
    position: Literal["right", "left"] = "right"
    title: dict[str, str] = Field(default_factory=dict, description="Header text per language code.")
    greeting: dict[str, str] = Field(default_factory=dict, description="First words per language code.")
    prechat_enabled: bool = False
    prechat_fields: list[PrechatField] = Field(default_factory=lambda: list[PrechatField](["name", "email"]))
    prechat_required: list[PrechatField] = Field(default_factory=lambda: list[PrechatField](["email"]))
    # Opening hours per weekday in `timezone`, e.g. {"mon": "08:00-16:00"}; a day left out is closed.
    # No hours at all: open around the clock (still offline when no agent is there, see below).
    business_hours: dict[str, str] = Field(default_factory=dict)
    timezone: str = "Europe/Warsaw"
    offline_when_no_agents: bool = True
    max_chats_per_agent: int = Field(default=3, ge=0, le=50, description="0 means no limit.")
    identity_secret: SecretStr = SecretStr("")

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("16–64 letters, digits, '-' or '_'.")  # noqa: RUF001 — a real dash
        return value

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _HEX.match(value):
            raise ValueError("A colour like #2f6f4f.")
        return value.lower()

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        cleaned = []
        for entry in value:
            entry = entry.strip().lower().rstrip("/")
            if not entry:
                continue
            if any(c in entry for c in " \t\r\n,"):
                raise ValueError(f"{entry!r} is not an origin or a domain.")
            cleaned.append(entry)
        return cleaned

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            if day not in DAYS:
                raise ValueError(f"Unknown day {day!r} (use {', '.join(DAYS)}).")
            if span and _span(span) is None:
                raise ValueError(f"{span!r} is not a span like 08:00-16:00.")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"Unknown time zone {value!r}.") from None
        return value


def _span(text: str) -> tuple[int, int] | None:
    match = _HOURS.match(text)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < end <= 24 * 60) or m1 > 59 or m2 > 59:
        return None
    return start, end


def within_hours(config: LivechatConfig, at: dt.datetime) -> bool:
    """Whether `at` falls in the widget's opening hours (always, when none are set)."""
    if not config.business_hours:
        return True
    local = at.astimezone(zoneinfo.ZoneInfo(config.timezone))
    span = _span(config.business_hours.get(DAYS[local.weekday()], "") or "")
    if span is None:
        return False
    minute = local.hour * 60 + local.minute
    return span[0] <= minute < span[1]


def origin_allowed(origin: str, config: LivechatConfig) -> bool:
    """Whether a page at `origin` may open this widget: an exact origin, a host, or `*.domain`."""
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin.lower())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname
    full = f"{parts.scheme}://{parts.netloc}"
    for entry in config.allowed_origins:
        if "://" in entry:  # an exact origin: scheme, host and port
            if entry == full:
                return True
        elif ":" in entry:  # host:port, either scheme
            if parts.netloc == entry:
                return True
        elif parts.port is None:  # a host or *.domain, either scheme, default port
            if host == entry or (entry.startswith("*.") and host.endswith(entry[1:]) and host != entry[2:]):
                return True
    return False


def conversation_group(public_key: str, number: int) -> str:
    """The channel-layer group of one chat conversation's visitor sockets."""
    return f"livechat.v.{public_key}.{int(number)}"


def group_send_from_sync(group: str, message: dict[str, Any]) -> bool:
    """Hand `message` to `group` from a sync thread; True once the layer took it.

    With the in-memory layer the sockets live on the serving loop, so the send must run there; a
    process with a cross-process layer and no serving loop (a worker) sends from a private loop.
    """
    layer = get_channel_layer()
    if layer is None:
        return False
    loop = serving_loop()
    if loop is not None and not loop.is_closed():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # called on the loop itself (inline tasks in tests): do not wait on ourselves
            loop.create_task(layer.group_send(group, message))
            return True
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        future.result(timeout=SEND_TIMEOUT)
        return True
    if isinstance(layer, InMemoryChannelLayer):
        return False  # nothing in this process holds a socket, and no other process can be reached
    async_to_sync(layer.group_send)(group, message)
    return True


class LivechatDriver:
    kind: ClassVar[str] = "livechat"
    capabilities: ClassVar[Capability] = Capability.RECEIVE | Capability.SEND | Capability.ATTACHMENTS
    Config: ClassVar[type[DriverConfig]] = LivechatConfig

    def verify(self, *, headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> None:
        # The socket checked the Origin and the signed chat session before anything reaches here.
        return None

    def parse_inbound(self, payload: Any) -> list[InboundMessage]:
        """`payload`: session_key, client_id, text, contact_id, conversation_id, language, page_url, files."""
        session_key = str(payload["session_key"])
        client_id = str(payload.get("client_id") or "")
        return [
            InboundMessage(
                sender=SenderHints(chat_session=session_key, contact_id=payload.get("contact_id")),
                text=str(payload.get("text", "")),
                # Unique per inbox: a resent message (same client id) is stopped as a duplicate.
                external_id=f"{session_key}:{client_id}" if client_id else None,
                attachments=tuple(
                    InboundAttachment(filename=f["filename"], content=f["content"])
                    for f in payload.get("files", ())
                ),
                language=str(payload.get("language", "")),
                conversation_id=payload.get("conversation_id"),
                meta={
                    "chat_session": session_key,
                    **({"client_id": client_id} if client_id else {}),
                    **({"page_url": payload["page_url"][:1000]} if payload.get("page_url") else {}),
                },
            )
        ]

    def send(self, message: OutboundMessage, config: DriverConfig) -> DeliveryResult:
        """Tell the visitor's sockets a reply is there; the visitor's acknowledgment marks it delivered."""
        assert isinstance(config, LivechatConfig)
        group = conversation_group(config.public_key, message.conversation_number)
        try:
            group_send_from_sync(group, {"type": PUSH_MESSAGE_TYPE, "message_id": message.message_id})
        except (TimeoutError, OSError, RuntimeError) as exc:
            return DeliveryResult.retry(f"The chat layer did not take the reply: {exc.__class__.__name__}")
        # Sent even when no socket listens right now: the widget fetches what it missed on reconnect.
        return DeliveryResult.sent(f"livechat:{message.message_id}")
