"""SMS: SMSAPI.pl or Twilio Messages. Sends with delivery reports; inbound texts and reports arrive as
webhooks (telephony/sms.py verifies and routes them, calling `parse_inbound` and `parse_report` here).

Config (Inbox.config): provider ("smsapi" | "twilio"), sender (the number or registered sender name),
account_sid (Twilio), api_base (a stand-in's address; empty for the real API), status_callback (where
the provider posts delivery reports). Secrets (Inbox.secrets, sealed): api_token (SMSAPI OAuth token)
or auth_token (Twilio).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from opiekun.inboxes.base import (
    Capability,
    DeliveryResult,
    DriverConfig,
    InboundMessage,
    OutboundMessage,
    SenderHints,
)

from .transport import Unreachable, post

SMSAPI_URL = "https://api.smsapi.pl"
TWILIO_URL = "https://api.twilio.com"

# SMSAPI error codes that trying again may fix (their own system errors); the others are the request's fault.
SMSAPI_TRANSIENT = {8, 201, 999}
# SMSAPI delivery-report status codes (the `status` callback parameter) and what they mean to us.
SMSAPI_STATUS = {
    "401": ("failed", "not found"),
    "402": ("failed", "expired"),
    "403": ("sent", ""),
    "404": ("delivered", ""),
    "405": ("failed", "undelivered"),
    "406": ("failed", "failed"),
    "407": ("failed", "rejected"),
    "408": ("sent", ""),
    "409": ("sent", ""),
    "410": ("sent", ""),
    "411": ("sent", ""),
    "412": ("failed", "the number refuses messages (STOP)"),
}
TWILIO_STATUS = {
    "queued": "sent",
    "accepted": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}


class SmsConfig(DriverConfig):
    provider: Literal["smsapi", "twilio"] = "smsapi"
    sender: str = ""
    account_sid: str = ""
    api_base: str = ""
    status_callback: str = ""
    api_token: str = ""
    auth_token: str = ""

    def __repr__(self) -> str:  # never print the tokens
        return f"SmsConfig(provider={self.provider!r}, sender={self.sender!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class Report:
    """A delivery report: the provider's message id and what became of it (sent | delivered | failed)."""

    provider_id: str
    state: str
    reason: str = ""


# Set by the telephony app: tells whether the recipient opted out (the driver itself reads no database).
OptOutCheck = Callable[[OutboundMessage], str]


class SmsDriver:
    kind: ClassVar[str] = "sms"
    capabilities: ClassVar[Capability] = Capability.RECEIVE | Capability.SEND
    Config: ClassVar[type[DriverConfig]] = SmsConfig
    opted_out: ClassVar[OptOutCheck | None] = None

    def verify(self, *, headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> None:
        return None  # webhooks are verified by their webhook source (telephony/sms.py) before storing

    def parse_inbound(self, payload: Any) -> list[InboundMessage]:
        """`payload`: {"provider", "id", "from", "text", "at" (datetime)} — already read from the webhook."""
        text = str(payload.get("text") or "")
        return [
            InboundMessage(
                sender=SenderHints(phone=str(payload["from"])),
                text=text,
                external_id=f"{payload['provider']}:{payload['id']}",
                received_at=payload.get("at") if isinstance(payload.get("at"), dt.datetime) else None,
                meta={"sms_from": str(payload["from"]), "provider": payload["provider"]},
            )
        ]

    @staticmethod
    def parse_report(provider: str, form: dict[str, list[str]]) -> Report | None:
        """A delivery report from the callback's parameters; None when it is not one."""
        one = {k: (v[0] if v else "") for k, v in form.items()}
        if provider == "smsapi":
            if not one.get("MsgId"):
                return None
            state, reason = SMSAPI_STATUS.get(one.get("status", ""), ("sent", ""))
            return Report(
                one["MsgId"],
                state,
                reason and f"SMSAPI: {reason} ({one.get('status_name') or one.get('status')})",
            )
        sid, status = (
            one.get("MessageSid") or one.get("SmsSid", ""),
            one.get("MessageStatus") or one.get("SmsStatus", ""),
        )
        if not sid or status not in TWILIO_STATUS:
            return None
        reason = ""
        if TWILIO_STATUS[status] == "failed":
            reason = f"Twilio: {status}" + (f" (error {one['ErrorCode']})" if one.get("ErrorCode") else "")
        return Report(sid, TWILIO_STATUS[status], reason)

    def send(self, message: OutboundMessage, config: DriverConfig) -> DeliveryResult:
        assert isinstance(config, SmsConfig)
        if not message.to_phone:
            return DeliveryResult.failed("The customer has no phone number to text.")
        check = type(self).opted_out
        refusal = check(message) if check is not None else ""
        if refusal:
            return DeliveryResult.failed(refusal)
        text = message.text.strip()
        try:
            if config.provider == "twilio":
                return self._twilio(message, text, config)
            return self._smsapi(message, text, config)
        except Unreachable as exc:
            return DeliveryResult.retry(str(exc))

    def _smsapi(self, message: OutboundMessage, text: str, config: SmsConfig) -> DeliveryResult:
        if not config.api_token:
            return DeliveryResult.failed("The SMSAPI token is not set.")
        form = {
            "to": message.to_phone.lstrip("+"),
            "message": text,
            "format": "json",
            "encoding": "utf-8",
            "idx": str(message.message_id),
        }
        if config.sender:
            form["from"] = config.sender
        if config.status_callback:
            form["notify_url"] = config.status_callback
        reply = post(
            (config.api_base or SMSAPI_URL).rstrip("/") + "/sms.do",
            data=form,
            headers={"Authorization": f"Bearer {config.api_token}"},
        )
        if reply.status == 429 or reply.status >= 500:
            return DeliveryResult.retry(f"SMSAPI answered {reply.status}")
        data = reply.data if isinstance(reply.data, dict) else {}
        if "error" in data or reply.status >= 400:
            code = data.get("error")
            reason = f"SMSAPI refused: {str(data.get('message') or reply.status)[:200]}" + (
                f" (error {code})" if code else ""
            )
            if isinstance(code, int) and code in SMSAPI_TRANSIENT:
                return DeliveryResult.retry(reason)
            return DeliveryResult.failed(reason)
        items = data.get("list") or []
        if not items or not items[0].get("id"):
            return DeliveryResult.retry("SMSAPI answered without a message id")
        return DeliveryResult.sent(str(items[0]["id"]))

    def _twilio(self, message: OutboundMessage, text: str, config: SmsConfig) -> DeliveryResult:
        if not (config.account_sid and config.auth_token):
            return DeliveryResult.failed("The Twilio account sid or auth token is not set.")
        form = {"To": message.to_phone, "From": config.sender, "Body": text}
        if config.status_callback:
            form["StatusCallback"] = config.status_callback
        base = (config.api_base or TWILIO_URL).rstrip("/")
        reply = post(
            f"{base}/2010-04-01/Accounts/{config.account_sid}/Messages.json",
            data=form,
            auth=(config.account_sid, config.auth_token),
        )
        if reply.status == 429 or reply.status >= 500:
            return DeliveryResult.retry(f"Twilio answered {reply.status}")
        data = reply.data if isinstance(reply.data, dict) else {}
        if reply.status >= 400:
            return DeliveryResult.failed(
                f"Twilio refused: {str(data.get('message') or reply.status)[:200]}"
                + (f" (error {data['code']})" if data.get("code") else "")
            )
        if not data.get("sid"):
            return DeliveryResult.retry("Twilio answered without a message sid")
        return DeliveryResult.sent(str(data["sid"]))
