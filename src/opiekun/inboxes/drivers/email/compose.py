"""Build the outgoing e-mail for an agent's reply: threading headers, case number, signature, attachments.

Pure: no database, no network. Every header value is checked for line breaks and NUL before it is
set (a name or subject with "\\r\\nBcc: ..." must never become a header), and every address is
validated, so a bad value ends in `HeaderInjection` rather than in a mail that does something else.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import mimetypes
import re
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from opiekun.inboxes.base import OutboundMessage

# How many Message-IDs a References header keeps: the first (the thread's root) and the most recent.
MAX_REFERENCES = 20

_FORBIDDEN = re.compile(r"[\r\n\x00]")
# A practical addr-spec check: one @, no spaces or specials, a dotted domain (IDN letters allowed).
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+\.[^@\s<>()\[\],;:\"\\.]+$")
_MSGID = re.compile(r"^[^<>\s@]+@[^<>\s@]+$")
_REPLY_PREFIX = re.compile(r"^\s*(re|odp|aw|sv|antw|отв|ответ)\s*(\[\d+\])?\s*:", re.IGNORECASE)


class HeaderInjection(ValueError):
    """A header value cannot be sent safely: it has a line break or NUL, or is not a valid address."""


class InvalidAddress(HeaderInjection):
    """An e-mail address is missing or malformed."""


def _clean(value: str, what: str) -> str:
    if _FORBIDDEN.search(value):
        raise HeaderInjection(
            f"The {what} contains a line break or NUL character, which is not allowed in a header."
        )
    return value.strip()


def _address(email: str, what: str, name: str = "") -> Address:
    email = _clean(email, what)
    name = _clean(name, f"name in the {what}")
    if not _ADDRESS.match(email):
        raise InvalidAddress(
            f"The {what} {email!r} is not a valid e-mail address." if email else f"The {what} is empty."
        )
    local, _, domain = email.rpartition("@")
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise InvalidAddress(f"The {what} {email!r} is not a valid e-mail address.") from exc


def _msgid(value: str, what: str) -> str:
    """`<id>` from an id given with or without angle brackets; HeaderInjection when it is not one."""
    value = _clean(value, what).strip("<>")
    if not _MSGID.match(value):
        raise HeaderInjection(f"The {what} {value!r} is not a valid Message-ID.")
    return f"<{value}>"


def subject_line(subject: str, number: int, *, reply: bool) -> str:
    """`Re: <subject> [#<number>]`: the case tag exactly once, `Re:` once, for replies only."""
    subject = _clean(subject, "subject")
    subject = re.sub(r"\s+", " ", subject)
    tag = f"[#{number}]"
    if reply and not _REPLY_PREFIX.match(subject):
        subject = f"Re: {subject}" if subject else "Re:"
    if tag not in subject:
        subject = f"{subject} {tag}".strip()
    return subject


def capped_references(
    references: Sequence[str], in_reply_to: str = "", limit: int = MAX_REFERENCES
) -> list[str]:
    """The References chain (oldest first, duplicates dropped, In-Reply-To last), cut to `limit` keeping
    the first (it names the thread) and the most recent (the nearest ancestors)."""
    chain: list[str] = []
    for ref in [*references, in_reply_to]:
        if ref and ref not in chain:
            chain.append(ref)
    if len(chain) > limit:
        chain = [chain[0], *chain[-(limit - 1) :]]
    return chain


def compose(
    message: OutboundMessage,
    *,
    message_id: str,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    reply_to: str = "",
    domain: str = "",
    auto_submitted: str = "",
    reply: bool | None = None,
    now: dt.datetime | None = None,
) -> EmailMessage:
    """The complete mail for `message`. Message-IDs are given without angle brackets (they are added);
    an empty `message_id` makes one at `domain`. `auto_submitted` ("auto-replied", "auto-generated")
    is for acknowledgments only: an agent's reply is a human answer and must not carry it, or the
    customer's mail client would suppress its own replies. Raises HeaderInjection on unsafe input."""
    mail = EmailMessage(policy=SMTP)
    sender = _address(message.from_email, "sender address", message.from_name)
    recipient = _address(message.to_email, "recipient address", message.to_name)
    mail["From"] = sender
    mail["To"] = recipient
    reply_address = reply_to or message.reply_to
    if reply_address:
        mail["Reply-To"] = _address(reply_address, "reply-to address", message.from_name)
    is_reply = bool(in_reply_to) if reply is None else reply
    mail["Subject"] = subject_line(message.subject, message.conversation_number, reply=is_reply)
    mail["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    if message_id:
        mail["Message-ID"] = _msgid(message_id, "Message-ID")
    else:
        mail["Message-ID"] = make_msgid(domain=_clean(domain, "domain") or sender.domain)
    if in_reply_to:
        mail["In-Reply-To"] = _msgid(in_reply_to, "In-Reply-To")
    chain = capped_references(
        [_msgid(r, "References entry")[1:-1] for r in references], in_reply_to.strip("<>")
    )
    if chain:
        mail["References"] = " ".join(f"<{ref}>" for ref in chain)
    if auto_submitted:
        mail["Auto-Submitted"] = _clean(auto_submitted, "Auto-Submitted value")
    language = _clean(message.language, "language")
    if language and not re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", language):
        raise HeaderInjection(f"The language {language!r} is not a language tag.")

    # Quoted-printable, not 8bit: a relay without 8BITMIME must not mangle Polish or Russian text.
    text = _text_body(message.text, message.signature)
    mail.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if message.html:
        html = _html_body(message.html, message.signature)
        mail.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in message.attachments:
        filename = _clean(attachment.filename, "attachment name") or attachment.path.name
        mime = attachment.mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        if not subtype or _FORBIDDEN.search(mime):
            maintype, subtype = "application", "octet-stream"
        # The file is read once into the message (the stdlib encodes in memory). Non-ASCII names are
        # written as RFC 2231 parameters by the policy.
        with attachment.path.open("rb") as handle:
            data = handle.read()
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    if language:
        # Last: set_content and add_attachment move or clear the Content-* headers of the top part.
        mail["Content-Language"] = language
    return mail


def _text_body(text: str, signature: str) -> str:
    body = text.replace("\r\n", "\n").rstrip()
    if signature.strip():
        # "-- " (dash dash space) is the signature separator mail clients recognise and fold.
        body += "\n\n-- \n" + signature.replace("\r\n", "\n").strip("\n")
    return body + "\n"


def _html_body(html: str, signature: str) -> str:
    if not signature.strip():
        return html
    sig = html_lib.escape(signature.strip()).replace("\n", "<br>\n")
    return f'{html}\n<div class="signature">-- <br>\n{sig}</div>\n'
