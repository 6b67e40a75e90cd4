"""Send one composed mail over SMTP and say plainly what happened: sent, retry later, or failed for good.

Certificates are verified by default (a private CA is added with `ca_file`, never by switching checks
off silently). `security="starttls"` requires STARTTLS: a server that does not offer it gets nothing,
least of all the password. The password never appears in a log line or a reason.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, SecretStr

from opiekun.inboxes.base import DeliveryResult

from .tls import client_context

log = logging.getLogger(__name__)


class SmtpSettings(BaseModel):
    model_config = {"extra": "forbid"}

    host: str
    port: int = 587
    username: str = ""
    password: SecretStr = SecretStr("")
    security: Literal["ssl", "starttls", "none"] = "starttls"
    verify_tls: bool = True
    ca_file: str | None = None
    timeout: float = 30.0
    helo_name: str | None = None  # defaults to the local host name (smtplib's choice)


class _StartTlsMissing(Exception):
    pass


def _ssl_context(settings: SmtpSettings) -> ssl.SSLContext:
    return client_context(ca_file=settings.ca_file, verify=settings.verify_tls)


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join(text.split())[:300]
    return f"{code} {text}".strip()


def _by_code(code: int, text: str) -> DeliveryResult:
    return DeliveryResult.retry(text) if 400 <= code < 500 else DeliveryResult.failed(text)


def send(
    settings: SmtpSettings, msg: EmailMessage, *, envelope_from: str, recipients: Sequence[str]
) -> DeliveryResult:
    """Deliver `msg` to `recipients`; never raises for delivery problems. Touches only the network.

    4xx replies, timeouts, refused or dropped connections → retry; 5xx replies, a refused login and
    TLS/certificate problems → failed (retrying would not help; an admin must act)."""
    provider_id = str(msg.get("Message-ID", "")).strip().strip("<>")
    try:
        client = _open(settings)
    except Exception as exc:
        return _classify(exc, settings)
    try:
        refused = client.send_message(msg, from_addr=envelope_from, to_addrs=list(recipients))
    except Exception as exc:
        return _classify(exc, settings)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    if refused:
        # Some recipients took it, others did not: it is sent (retrying would duplicate it for the
        # ones who got it), and the refusals are reported alongside.
        text = "; ".join(f"{addr}: {_reply_text(code, reply)}" for addr, (code, reply) in refused.items())
        log.warning("smtp send %s partly refused: %s", provider_id, text)
        return DeliveryResult(
            ok=True,
            provider_id=provider_id,
            error=_("Some recipients were refused: %(reply)s") % {"reply": text},
        )
    return DeliveryResult.sent(provider_id=provider_id)


def _classify(exc: BaseException, settings: SmtpSettings) -> DeliveryResult:
    """Retry or failed, with a short reason an agent can read, for anything sending raised."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, _StartTlsMissing):
        return DeliveryResult.failed(
            _("The mail server %(where)s does not offer STARTTLS, so nothing was sent over plain text.")
            % {"where": where}
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        text = _reply_text(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            return DeliveryResult.retry(
                _("The mail server could not log in right now: %(reply)s") % {"reply": text}
            )
        return DeliveryResult.failed(
            _("The mail server refused the login (check the user name and password): %(reply)s")
            % {"reply": text}
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryResult.failed(
            _("The mail server does not support %(what)s.") % {"what": str(exc)[:200]}
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = [(code, _reply_text(code, reply)) for code, reply in exc.recipients.values()]
        text = "; ".join(t for _code, t in replies)
        if all(400 <= code < 500 for code, _t in replies):
            return DeliveryResult.retry(
                _("The mail server refused the recipient for now: %(reply)s") % {"reply": text}
            )
        return DeliveryResult.failed(_("The mail server refused the recipient: %(reply)s") % {"reply": text})
    if isinstance(exc, smtplib.SMTPSenderRefused):
        text = _reply_text(exc.smtp_code, exc.smtp_error)
        return _by_code(
            exc.smtp_code, _("The mail server refused the sender address: %(reply)s") % {"reply": text}
        )
    if isinstance(exc, smtplib.SMTPDataError):
        text = _reply_text(exc.smtp_code, exc.smtp_error)
        return _by_code(exc.smtp_code, _("The mail server refused the message: %(reply)s") % {"reply": text})
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryResult.retry(
            _("The mail server %(where)s closed the connection: %(reason)s")
            % {"where": where, "reason": str(exc)[:200] or _("no reason given")}
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        text = _reply_text(exc.smtp_code, exc.smtp_error)
        return _by_code(exc.smtp_code, _("The mail server answered: %(reply)s") % {"reply": text})
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryResult.failed(
            _("The TLS certificate of %(where)s could not be verified: %(reason)s")
            % {"where": where, "reason": exc.verify_message or str(exc)[:200]}
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return DeliveryResult.retry(
            _("The mail server %(where)s dropped the TLS connection: %(reason)s")
            % {"where": where, "reason": exc}
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryResult.failed(
            _("TLS with %(where)s failed: %(reason)s") % {"where": where, "reason": exc}
        )
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryResult.retry(
            _("Cannot connect to the mail server %(where)s: connection refused") % {"where": where}
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return DeliveryResult.retry(_("The mail server %(where)s did not answer in time") % {"where": where})
    if isinstance(exc, socket.gaierror):
        return DeliveryResult.retry(
            _("Cannot find the mail server %(host)s (DNS): %(reason)s")
            % {"host": settings.host, "reason": exc}
        )
    # Anything else (a reset connection, an odd protocol error) is worth another try later.
    return DeliveryResult.retry(
        _("Sending through %(where)s failed: %(reason)s")
        % {"where": where, "reason": str(exc)[:200] or exc.__class__.__name__}
    )


def _open(settings: SmtpSettings) -> smtplib.SMTP:
    """A connected client after EHLO, STARTTLS (when asked for) and login (when a user is set)."""
    ctx = _ssl_context(settings)
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            local_hostname=settings.helo_name,
            timeout=settings.timeout,
            context=ctx,
        )
    else:
        client = smtplib.SMTP(
            settings.host, settings.port, local_hostname=settings.helo_name, timeout=settings.timeout
        )
    try:
        client.ehlo_or_helo_if_needed()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise _StartTlsMissing
            client.starttls(context=ctx)
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password.get_secret_value())
    except BaseException:
        client.close()
        raise
    return client


def test_connection(settings: SmtpSettings) -> str | None:
    """The "connection test" button: connect, TLS, log in, QUIT. None when fine, else a human reason."""
    try:
        client = _open(settings)
    except Exception as exc:
        return _classify(exc, settings).error
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
    return None


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name
