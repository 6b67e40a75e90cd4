"""Reads on inboxes and received mail; each takes the shop, and by-id reads answer NotFound across shops."""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
from dataclasses import dataclass
from email.header import decode_header, make_header
from typing import Any

from django.db.models import Count, Q

from opiekun.conversations.attachments import blob_path
from opiekun.core import clock
from opiekun.core.errors import NotFound

from .models import Inbox, RawMail

EMAIL = "email"
SOURCE_LINES = 200
# Headers an operator looks at first when deciding why a mail was quarantined.
KEY_HEADERS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Auto-Submitted",
    "Return-Path",
)


@dataclass(frozen=True)
class InboxHealth:
    """One e-mail inbox with what its health line shows."""

    inbox: Inbox
    address: str
    aliases: list[str]
    imap_host: str
    imap_port: int | None
    imap_folder: str
    smtp_host: str
    quarantined: int
    received_24h: int
    last_received_at: dt.datetime | None
    # The last error was a mail that got quarantined (a problem with one mail, not with the connection).
    error_is_mail: bool = False

    @property
    def pulled(self) -> bool:
        """Fetched over IMAP (else fed by the SMTP intake or by imports)."""
        return bool(self.imap_host)

    @property
    def error_is_current(self) -> bool:
        """A connection error not followed by a good fetch (else it is history, not a problem now)."""
        i = self.inbox
        if not i.last_error or i.last_error_at is None or self.error_is_mail:
            return False
        return i.last_fetch_at is None or i.last_error_at >= i.last_fetch_at or not self.pulled


def _config_str(config: dict[str, object], key: str) -> str:
    value = config.get(key)
    return value.strip() if isinstance(value, str) else ""


def access_inbox(*, shop_id: int, inbox_id: int, kind: str | None = None) -> Inbox:
    """The shop's inbox (optionally of `kind`); NotFound for a missing or another shop's id."""
    qs = Inbox.objects.filter(shop_id=shop_id, pk=inbox_id).select_related("team")
    if kind is not None:
        qs = qs.filter(kind=kind)
    inbox = qs.first()
    if inbox is None:
        raise NotFound()
    return inbox


def mail_inboxes_health(*, shop_id: int, now: dt.datetime | None = None) -> list[InboxHealth]:
    """Every e-mail inbox of the shop with its quarantine count and recent intake; 3-4 queries and one
    per inbox (its latest mail), each answered by an index."""
    now = now or clock.now()
    inboxes = list(Inbox.objects.filter(shop_id=shop_id, kind=EMAIL).select_related("team").order_by("name"))
    # Each figure from its own index (rawmail_inbox_recent, rawmail_quarantine), never a scan of every
    # mail the shop ever received.
    ids = [i.pk for i in inboxes]
    since = now - dt.timedelta(hours=24)
    recent = dict(
        RawMail.objects.filter(inbox_id__in=ids, received_at__gte=since)
        .values("inbox_id")
        .annotate(n=Count("id"))
        .values_list("inbox_id", "n")
    )
    quarantined = dict(
        RawMail.objects.filter(shop_id=shop_id, state=RawMail.State.QUARANTINED, inbox_id__in=ids)
        .values("inbox_id")
        .annotate(n=Count("id"))
        .values_list("inbox_id", "n")
    )
    stats: dict[int, dict[str, Any]] = {}
    for inbox_id in ids:
        last = (
            RawMail.objects.filter(inbox_id=inbox_id)
            .order_by("-received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        if last is not None:
            stats[inbox_id] = {
                "quarantined": quarantined.get(inbox_id, 0),
                "recent": recent.get(inbox_id, 0),
                "last": last,
            }
    # The mail store also records a quarantine reason as the inbox's last error: tell the two apart.
    mail_errors: set[int] = set()
    with_error = [i for i in inboxes if i.last_error]
    if with_error:
        match = Q()
        for i in with_error:
            match |= Q(inbox_id=i.pk, error__startswith=i.last_error)
        mail_errors = set(
            RawMail.objects.filter(match, shop_id=shop_id, state=RawMail.State.QUARANTINED).values_list(
                "inbox_id", flat=True
            )
        )
    out = []
    for inbox in inboxes:
        config = inbox.config if isinstance(inbox.config, dict) else {}
        s = stats.get(inbox.pk, {})
        aliases = config.get("aliases")
        port = config.get("imap_port")
        out.append(
            InboxHealth(
                inbox=inbox,
                address=_config_str(config, "address"),
                aliases=[a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else [],
                imap_host=_config_str(config, "imap_host"),
                imap_port=port if isinstance(port, int) else None,
                imap_folder=_config_str(config, "imap_folder") or "INBOX",
                smtp_host=_config_str(config, "smtp_host"),
                quarantined=int(s.get("quarantined") or 0),
                received_24h=int(s.get("recent") or 0),
                last_received_at=s.get("last"),
                error_is_mail=inbox.pk in mail_errors,
            )
        )
    return out


def quarantine_count(*, shop_id: int) -> int:
    """How many received mails of the shop wait in quarantine (the nav badge); 1 query."""
    return RawMail.objects.filter(shop_id=shop_id, state=RawMail.State.QUARANTINED).count()


def quarantine_list(
    *, shop_id: int, limit: int = 50, offset: int = 0, inbox_id: int | None = None
) -> list[RawMail]:
    """One page of the shop's quarantined mail, newest first, with its inbox; 1 query."""
    qs = RawMail.objects.filter(shop_id=shop_id, state=RawMail.State.QUARANTINED).select_related("inbox")
    if inbox_id is not None:
        qs = qs.filter(inbox_id=inbox_id)
    return list(qs.order_by("-received_at", "-id")[offset : offset + limit])


def access_raw_mail(*, shop_id: int, raw_id: int) -> RawMail:
    """One received mail of the shop (any state) with its inbox and case; NotFound across shops."""
    row = RawMail.objects.filter(shop_id=shop_id, pk=raw_id).select_related("inbox", "conversation").first()
    if row is None:
        raise NotFound()
    return row


def raw_mail_bytes(row: RawMail) -> bytes | None:
    """The stored bytes of a received mail exactly as they arrived; None when they are gone.

    Small mails keep their bytes in the row, larger ones live in the file store under their SHA-256.
    """
    inline = getattr(row, "raw", None)
    if inline is not None:
        return bytes(inline)
    try:
        return blob_path(row.sha256).read_bytes()
    except OSError:
        return None


@dataclass(frozen=True)
class RawSource:
    """A received mail as text for an operator: key headers decoded, the first lines verbatim."""

    available: bool
    headers: list[tuple[str, str]]
    text: str
    shown_lines: int
    total_lines: int

    @property
    def truncated(self) -> bool:
        return self.shown_lines < self.total_lines


def _decoded(value: str) -> str:
    # RFC 2047 words shown decoded; a header that cannot be decoded is shown as it came.
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def raw_mail_source(row: RawMail, *, max_lines: int = SOURCE_LINES) -> RawSource:
    """The mail's key headers and its first `max_lines` lines, decoded with replacement; reads the file."""
    raw = raw_mail_bytes(row)
    if raw is None:
        return RawSource(available=False, headers=[], text="", shown_lines=0, total_lines=0)
    lines = raw.decode("utf-8", errors="replace").splitlines()
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    headers: list[tuple[str, str]] = []
    for name in KEY_HEADERS:
        for value in parsed.get_all(name) or []:
            headers.append((name, " ".join(_decoded(str(value)).split())[:1000]))
    return RawSource(
        available=True,
        headers=headers,
        text="\n".join(lines[:max_lines]),
        shown_lines=min(len(lines), max_lines),
        total_lines=len(lines),
    )
