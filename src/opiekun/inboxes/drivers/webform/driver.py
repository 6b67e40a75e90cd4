"""The public contact form: a form post in, replies out by e-mail with a link to the customer portal."""

from __future__ import annotations

import logging
import smtplib
from email.utils import make_msgid
from typing import Any, ClassVar

from django.core.mail import EmailMultiAlternatives
from django.utils import translation
from django.utils.translation import gettext as _
from pydantic import Field

from opiekun.inboxes.base import (
    Capability,
    DeliveryResult,
    DriverConfig,
    InboundAttachment,
    InboundMessage,
    OutboundMessage,
    SenderHints,
)

log = logging.getLogger(__name__)

ALLOWED_TYPES = ("image/jpeg", "image/png", "application/pdf")


class WebformConfig(DriverConfig):
    intro: str = ""
    allowed_types: list[str] = Field(default_factory=lambda: list(ALLOWED_TYPES))
    send_acknowledgment: bool = True


class WebformDriver:
    kind: ClassVar[str] = "webform"
    capabilities: ClassVar[Capability] = (
        Capability.RECEIVE | Capability.SEND | Capability.ATTACHMENTS | Capability.MAIL_THREADS
    )
    Config: ClassVar[type[DriverConfig]] = WebformConfig

    def verify(self, *, headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> None:
        # The form is public: CSRF, the honeypot and the rate limit guard it at the view.
        return None

    def parse_inbound(self, payload: Any) -> list[InboundMessage]:
        """`payload` is the cleaned form: name, email, phone, order_ref, message, files, language."""
        files = tuple(
            InboundAttachment(
                filename=f["filename"], content=f["content"], declared_type=f.get("content_type", "")
            )
            for f in payload.get("files", ())
        )
        return [
            InboundMessage(
                sender=SenderHints(
                    name=payload.get("name", "").strip(),
                    email=payload.get("email", "").strip(),
                    phone=payload.get("phone", "").strip(),
                    contact_id=payload.get("contact_id"),
                ),
                subject=payload.get("subject", "").strip(),
                text=payload["message"],
                attachments=files,
                order_ref=payload.get("order_ref", "").strip(),
                language=payload.get("language", ""),
                conversation_id=payload.get("conversation_id"),
                meta={k: payload[k] for k in ("page_url", "via") if payload.get(k)},
            )
        ]

    def send(self, message: OutboundMessage, config: DriverConfig) -> DeliveryResult:
        """The reply is in the portal already; tell the customer by e-mail, with the text and the link."""
        if not message.to_email:
            return DeliveryResult.failed("The contact has no e-mail address to notify.")
        with translation.override(message.language or None):
            fallback = _("Your request")
            subject = f"[#{message.conversation_number}] {message.subject or fallback}"
            lines = [message.text.rstrip()]
            if message.signature:
                lines += ["", "-- ", message.signature]
            if message.portal_url:
                lines += ["", _("See your case and reply: %(url)s") % {"url": message.portal_url}]
        mail = EmailMultiAlternatives(
            subject=subject,
            body="\n".join(lines),
            from_email=_formatted(message.from_name, message.from_email) or None,
            to=[_formatted(message.to_name, message.to_email)],
            reply_to=[message.reply_to] if message.reply_to else None,
            # Set here, not left to the backend, so the id can be kept as the message's provider id.
            headers={
                "Message-ID": f"<{message.rfc_message_id}>"
                if message.rfc_message_id
                else make_msgid(domain=message.from_email.rpartition("@")[2] or None)
            },
        )
        for att in message.attachments:
            mail.attach(att.filename, att.path.read_bytes(), att.mime_type)
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            return DeliveryResult.failed(f"Recipient refused: {exc.recipients}")
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            return DeliveryResult.retry(text) if 400 <= exc.smtp_code < 500 else DeliveryResult.failed(text)
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            return DeliveryResult.retry(f"Mail server unreachable: {exc.__class__.__name__}")
        return DeliveryResult.sent(mail.extra_headers.get("Message-ID", ""))


def _formatted(name: str, address: str) -> str:
    from email.utils import formataddr

    return formataddr((name, address)) if address else ""
