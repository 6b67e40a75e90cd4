"""The e-mail channel: raw RFC 5322 bytes in (IMAP pull, SMTP intake, imported files), SMTP out.

The driver only translates. `parse_inbound` turns one raw mail into the seam's InboundMessage
(the new text split from quoted history, attachments, threading and loop-safety signals);
`send` composes a threaded reply and hands it to the inbox's SMTP server, or to the installation's
outgoing mail when the inbox has none of its own. Storing the raw bytes first, de-duplication and
threading happen in the mail store and the pipeline.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any, ClassVar, Literal

from django.core.mail import EmailMessage as DjangoEmailMessage
from django.core.mail import get_connection
from pydantic import Field, SecretStr, field_validator

from opiekun.inboxes.base import (
    BounceReport,
    Capability,
    DeliveryResult,
    DriverConfig,
    InboundAttachment,
    InboundMessage,
    OutboundMessage,
    SenderHints,
)

from .compose import HeaderInjection, compose
from .imap import ImapSettings
from .parse import ParsedMail, fingerprint, parse_mail
from .reply import split_reply
from .smtp_send import SmtpSettings
from .smtp_send import send as smtp_send

log = logging.getLogger(__name__)

MAX_MESSAGE_MB = 50


class EmailConfig(DriverConfig):
    """One support mailbox. Passwords live in Inbox.secrets (`imap_password`, `smtp_password`)."""

    address: str = Field(description="The support address customers write to, e.g. support@shop.pl.")
    aliases: list[str] = Field(default_factory=list, description="Other addresses delivered here.")
    display_name: str = ""
    send_acknowledgment: bool = True
    max_message_mb: int = Field(default=MAX_MESSAGE_MB, ge=1, le=200)
    # Pull (leave imap_host empty for an inbox fed by the SMTP intake or by imports only).
    imap_host: str = ""
    imap_port: int = 993
    imap_security: Literal["ssl", "starttls", "none"] = "ssl"
    imap_username: str = ""
    imap_password: SecretStr = SecretStr("")
    imap_folder: str = "INBOX"
    imap_after: Literal["seen", "move"] = "seen"
    imap_history: Literal["unread", "all"] = "unread"  # mail already in the folder: see ImapSettings.history
    imap_move_to: str = "Opiekun"
    imap_verify_tls: bool = True
    imap_ca_file: str = ""
    # Send (leave smtp_host empty to use the installation's outgoing mail settings).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: Literal["ssl", "starttls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_verify_tls: bool = True
    smtp_ca_file: str = ""

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip().lower()
        local, at, domain = value.partition("@")
        if not at or not local or "." not in domain or any(c in value for c in " \r\n<>,"):
            raise ValueError("Enter the mailbox's e-mail address, e.g. support@shop.pl.")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        return [a.strip().lower() for a in value if a.strip()]

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def addresses(self) -> list[str]:
        return [self.address, *self.aliases]

    def imap(self) -> ImapSettings | None:
        if not self.imap_host:
            return None
        return ImapSettings(
            host=self.imap_host,
            port=self.imap_port,
            username=self.imap_username or self.address,
            password=self.imap_password,
            security=self.imap_security,
            folder=self.imap_folder,
            after=self.imap_after,
            history=self.imap_history,
            move_to=self.imap_move_to,
            verify_tls=self.imap_verify_tls,
            ca_file=self.imap_ca_file or None,
        )

    def smtp(self) -> SmtpSettings | None:
        if not self.smtp_host:
            return None
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            username=self.smtp_username,
            password=self.smtp_password,
            security=self.smtp_security,
            verify_tls=self.smtp_verify_tls,
            ca_file=self.smtp_ca_file or None,
        )


class EmailDriver:
    kind: ClassVar[str] = "email"
    capabilities: ClassVar[Capability] = (
        Capability.RECEIVE
        | Capability.SEND
        | Capability.ATTACHMENTS
        | Capability.HTML
        | Capability.SUBJECT
        | Capability.MAIL_THREADS
    )
    Config: ClassVar[type[DriverConfig]] = EmailConfig

    def verify(self, *, headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> None:
        # Mail arrives over authenticated IMAP, our own SMTP intake (recipient-checked) or an operator's
        # import; the pipeline's participant check guards threading against forged senders.
        return None

    def parse_inbound(self, payload: Any) -> list[InboundMessage]:
        """`payload` is the raw mail (bytes). Raises MailParseError when it is not a mail at all."""
        raw = bytes(payload)
        return [inbound_from(parse_mail(raw), fingerprint=fingerprint(raw))]

    def send(self, message: OutboundMessage, config: DriverConfig) -> DeliveryResult:
        """Compose the threaded reply and send it; SMTP errors become retry/failed, never exceptions."""
        assert isinstance(config, EmailConfig)
        if not message.to_email:
            return DeliveryResult.failed("The contact has no e-mail address.")
        try:
            mail = compose(
                message,
                message_id=message.rfc_message_id,
                in_reply_to=message.in_reply_to,
                references=message.references,
                reply_to=message.reply_to,
                domain=config.domain,
            )
        except HeaderInjection as exc:
            return DeliveryResult.failed(f"The reply cannot be sent: {exc}")
        envelope_from = message.from_email or config.address
        smtp = config.smtp()
        if smtp is not None:
            return smtp_send(smtp, mail, envelope_from=envelope_from, recipients=[message.to_email])
        return _send_through_django(mail, envelope_from=envelope_from, recipients=[message.to_email])


def inbound_from(parsed: ParsedMail, *, fingerprint: str) -> InboundMessage:
    """The seam's view of a parsed mail: new text first, the quoted rest folded, every signal kept."""
    split = split_reply(parsed.text)
    reply, quoted = split.reply, "\n\n".join(p for p in (split.quoted, split.signature) if p)
    if not reply.strip():  # a mail that is only a quote (a bare forward) keeps its whole text visible
        reply, quoted = parsed.text.strip(), ""
    recipients = tuple(
        dict.fromkeys(
            _text(a)
            for a in [a.email for a in (*parsed.to, *parsed.cc) if a.email]
            + [a for a in parsed.delivered_to if a]
        )
    )
    bounce = None
    if parsed.bounce is not None:
        b = parsed.bounce
        bounce = BounceReport(
            original_message_id=b.original_message_id,
            recipient=b.recipient,
            status=b.status,
            diagnostic=b.diagnostic,
            permanent=b.permanent,
        )
    sender = parsed.sender
    if not sender.email and parsed.reply_to:
        sender = parsed.reply_to[0]
    meta: dict[str, Any] = {}
    if parsed.date is not None:
        meta["date"] = parsed.date.isoformat()
    if parsed.cc:
        meta["cc"] = [a.email for a in parsed.cc if a.email][:20]
    if parsed.auto_reason:
        meta["auto_reason"] = parsed.auto_reason
    if parsed.defects:
        meta["defects"] = list(parsed.defects)[:10]
    empty = [a.filename for a in parsed.attachments if not a.content]
    if empty:  # parts announced but with nothing in them: say so on the message instead of failing it
        meta["empty_attachments"] = empty[:20]
    return InboundMessage(
        sender=SenderHints(name=sender.name, email=sender.email),
        text=reply,
        quoted=quoted,
        subject=parsed.subject,
        html=parsed.html,
        external_id=f"mail:{fingerprint}",
        attachments=tuple(
            InboundAttachment(
                filename=a.filename, content=a.content, declared_type=a.content_type, content_id=a.content_id
            )
            for a in parsed.attachments
            if a.content
        ),
        language=parsed.language,
        rfc_message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        recipients=recipients,
        auto_submitted=parsed.auto_submitted,
        bounce=bounce,
        meta=meta,
    )


def _text(value: str) -> str:
    """Raw 8-bit header bytes the parser kept as surrogates (e.g. in Delivered-To) as real text: a
    surrogate cannot be stored in the database and would fail the whole mail."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


class _Composed(DjangoEmailMessage):
    """Hands an already composed stdlib message to any Django mail backend (SMTP, file, locmem)."""

    def __init__(self, mail: EmailMessage, *, envelope_from: str, recipients: list[str]) -> None:
        super().__init__(subject=str(mail["Subject"] or ""), from_email=envelope_from, to=recipients)
        self._mail = mail

    def message(self, *, policy: Any = None) -> Any:
        return _AsDjangoMessage(self._mail)


class _AsDjangoMessage:
    """Django's backends call `as_bytes(linesep=…)` (their own message class), the stdlib takes a policy."""

    def __init__(self, mail: EmailMessage) -> None:
        self._mail = mail

    def as_bytes(self, linesep: str = "\n") -> bytes:
        return self._mail.as_bytes(policy=self._mail.policy.clone(linesep=linesep))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mail, name)


def _send_through_django(mail: EmailMessage, *, envelope_from: str, recipients: list[str]) -> DeliveryResult:
    try:
        get_connection(fail_silently=False).send_messages(
            [_Composed(mail, envelope_from=envelope_from, recipients=recipients)]
        )
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(f"{addr}: {code} {msg!r}" for addr, (code, msg) in exc.recipients.items())
        return DeliveryResult.failed(f"The mail server refused the recipient: {refused}")
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error
        detail = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        text = f"SMTP {exc.smtp_code}: {detail}"
        return DeliveryResult.retry(text) if 400 <= exc.smtp_code < 500 else DeliveryResult.failed(text)
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        return DeliveryResult.retry(f"Mail server unreachable: {exc.__class__.__name__}")
    return DeliveryResult.sent(str(mail["Message-ID"] or "").strip("<> "))
