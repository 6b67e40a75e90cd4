"""Received e-mail: stored raw and durably first, then run through the pipeline, never lost.

    transport (IMAP / SMTP intake / file) → mail_receive (bytes fsynced + RawMail row) → mail_process
    → parse → pipeline → RawMail.state = processed (outcome) | quarantined (reason)

A transport may acknowledge a mail (IMAP \\Seen/MOVE, SMTP 250) as soon as `mail_receive` returned.
Processing is idempotent: the message fingerprint is the Message's external id, so a mail received
twice (a re-delivery, an extra Received header, a re-import) is stored once, while two different
mails that share a Message-ID are both kept. A mail that cannot be processed is quarantined with the
reason — viewable and retryable, never silently dropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from opiekun.conversations.attachments import blob_path, blob_store, blobs_store
from opiekun.core import clock
from opiekun.core.errors import ValidationFailed

from . import pipeline
from .acknowledgments import acknowledgment_schedule
from .drivers.email.driver import EmailConfig, EmailDriver
from .drivers.email.parse import MailParseError
from .models import Inbox, RawMail

log = logging.getLogger(__name__)

MAX_FILES = 200
QUARANTINED = "quarantined"


@dataclass(frozen=True)
class MailOutcome:
    """What became of one received mail (the `opiekun mail import --json` line)."""

    raw_id: int
    outcome: str  # created | appended | duplicate | auto_reply | bounce | rejected | quarantined
    conversation_number: int | None = None
    from_email: str = ""
    subject: str = ""
    language: str = ""
    reply_text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "conversation": self.conversation_number,
            "from_email": self.from_email,
            "subject": self.subject,
            "language": self.language,
            "reply_text": self.reply_text,
            "attachments": self.attachments,
            **({"reason": self.reason} if self.reason else {}),
            "raw_id": self.raw_id,
        }


def mail_receive(
    *,
    inbox_id: int,
    raw: bytes,
    source: str,
    mailbox: str = "",
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> int:
    """Store one received mail durably (bytes fsynced on disk, then its row); returns the RawMail id.

    Idempotent on (inbox, mailbox, UIDVALIDITY, UID): an IMAP mail stored before a dropped connection
    is not stored twice. Touches the attachment store and RawMail only.
    """
    if uid is not None:
        existing = _raw_id_for_uid(inbox_id, mailbox, uidvalidity, uid)
        if existing is not None:
            return existing
    shop_id = Inbox.objects.filter(pk=inbox_id).values_list("shop_id", flat=True).get()
    digest = blob_store(raw)
    try:
        with transaction.atomic():
            row = RawMail.objects.create(
                shop_id=shop_id,
                inbox_id=inbox_id,
                source=source,
                mailbox=mailbox[:200],
                uidvalidity=uidvalidity,
                uid=uid,
                sha256=digest,
                size=len(raw),
                received_at=clock.now(),
            )
    except IntegrityError:
        existing = _raw_id_for_uid(inbox_id, mailbox, uidvalidity, uid) if uid is not None else None
        if existing is None:
            raise
        return existing
    return row.pk


def _raw_id_for_uid(inbox_id: int, mailbox: str, uidvalidity: int | None, uid: int) -> int | None:
    return (
        RawMail.objects.filter(inbox_id=inbox_id, mailbox=mailbox[:200], uidvalidity=uidvalidity, uid=uid)
        .values_list("id", flat=True)
        .first()
    )


def imap_cursor(*, inbox_id: int, mailbox: str, uidvalidity: int) -> int:
    """The highest UID of `mailbox` (under `uidvalidity`) already stored for the inbox; 0 when none."""
    found = RawMail.objects.filter(
        inbox_id=inbox_id, mailbox=mailbox[:200], uidvalidity=uidvalidity, uid__isnull=False
    ).aggregate(top=Max("uid"))["top"]
    return int(found or 0)


def mail_process(raw_id: int) -> MailOutcome:
    """Parse a stored mail and run it through the pipeline; quarantine it with the reason on failure.

    Touches RawMail, and through the pipeline contacts, conversations, messages and attachments.
    A mail already processed answers its recorded outcome again (nothing is done twice).
    """
    started = time.perf_counter()
    row = RawMail.objects.select_related("inbox__shop").get(pk=raw_id)
    if row.state == RawMail.State.PROCESSED:
        return MailOutcome(
            raw_id=row.pk,
            outcome=row.outcome,
            conversation_number=_number(row.conversation_id),
            from_email=row.from_email,
            subject=row.subject,
        )
    inbox = row.inbox
    try:
        raw = blob_path(row.sha256).read_bytes()
    except OSError as exc:
        return _quarantine(row, f"The stored mail cannot be read: {exc.__class__.__name__}", started)
    try:
        config = EmailConfig.model_validate(inbox.config or {})
        max_bytes = config.max_message_mb * 1024 * 1024
        send_ack = config.send_acknowledgment
    except ValueError:
        max_bytes, send_ack = EmailConfig.model_fields["max_message_mb"].default * 1024 * 1024, False
    try:
        (message,) = EmailDriver().parse_inbound(raw)
    except MailParseError as exc:
        return _quarantine(row, f"The mail cannot be read: {exc}", started)
    from_email, subject = message.sender.email[:320], message.subject[:300]
    try:
        with transaction.atomic():
            result = pipeline.process(inbox=inbox, message=message, max_files=MAX_FILES, max_bytes=max_bytes)
            if result.outcome == pipeline.CREATED and result.message is not None and send_ack:
                if not message.auto_submitted and not result.message.meta.get("own_address"):
                    acknowledgment_schedule(message=result.message, to_email=message.sender.email)
            RawMail.objects.filter(pk=row.pk).update(
                state=RawMail.State.PROCESSED,
                outcome=result.outcome,
                error=result.reason[:1000],
                message=result.message,
                conversation=result.conversation,
                subject=subject,
                from_email=from_email,
                processed_at=clock.now(),
                attempts=row.attempts + 1,
            )
    except ValidationFailed as exc:
        return _quarantine(row, str(exc), started, subject=subject, from_email=from_email)
    except Exception as exc:  # one bad mail must never stall the mailbox: keep it, say why, move on
        log.exception("processing raw mail %s failed", row.pk)
        reason = f"Processing failed ({exc.__class__.__name__})."
        return _quarantine(row, reason, started, subject=subject, from_email=from_email)
    conversation = result.conversation
    return MailOutcome(
        raw_id=row.pk,
        outcome=result.outcome,
        conversation_number=conversation.number if conversation is not None else None,
        from_email=from_email,
        subject=subject,
        language=message.language,
        reply_text=message.text,
        attachments=[
            {"filename": a.filename, "mime": a.declared_type, "size": len(a.content)}
            for a in message.attachments
        ],
        reason=result.reason,
        seconds=time.perf_counter() - started,
    )


def _number(conversation_id: int | None) -> int | None:
    if conversation_id is None:
        return None
    from opiekun.conversations.models import Conversation

    return Conversation.objects.filter(pk=conversation_id).values_list("number", flat=True).first()


def _quarantine(
    row: RawMail, reason: str, started: float, subject: str = "", from_email: str = ""
) -> MailOutcome:
    log.warning("raw mail %s quarantined: %s", row.pk, reason)
    now = clock.now()
    RawMail.objects.filter(pk=row.pk).update(
        state=RawMail.State.QUARANTINED,
        outcome="",
        error=reason[:1000],
        subject=subject or row.subject,
        from_email=from_email or row.from_email,
        processed_at=now,
        attempts=row.attempts + 1,
    )
    Inbox.objects.filter(pk=row.inbox_id).update(last_error=reason[:500], last_error_at=now)
    return MailOutcome(
        raw_id=row.pk,
        outcome=QUARANTINED,
        from_email=from_email,
        subject=subject,
        reason=reason,
        seconds=time.perf_counter() - started,
    )


def mail_ingest(
    *,
    inbox: Inbox,
    raw: bytes,
    source: str,
    mailbox: str = "",
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> MailOutcome:
    """Receive and process one mail (store first, then the pipeline)."""
    raw_id = mail_receive(
        inbox_id=inbox.pk, raw=raw, source=source, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid
    )
    return mail_process(raw_id)


def mail_receive_batch(*, inbox: Inbox, raws: list[bytes], source: str) -> list[int]:
    """Store many received mails durably at once (one round of syncs, one commit); their RawMail ids.

    For transports without per-mail ids (SMTP intake bursts, imports); IMAP uses `mail_receive`.
    """
    digests = blobs_store(raws)
    now = clock.now()
    with transaction.atomic():
        rows = RawMail.objects.bulk_create(
            [
                RawMail(
                    shop_id=inbox.shop_id,
                    inbox_id=inbox.pk,
                    source=source,
                    sha256=digest,
                    size=len(raw),
                    received_at=now,
                )
                for digest, raw in zip(digests, raws, strict=True)
            ]
        )
    if any(r.pk is None for r in rows):  # backends without RETURNING on bulk insert
        return list(
            RawMail.objects.filter(inbox_id=inbox.pk, received_at=now, sha256__in=digests)
            .order_by("id")
            .values_list("id", flat=True)
        )
    return [r.pk for r in rows]


def mail_process_batch(raw_ids: list[int]) -> list[MailOutcome]:
    """Process stored mails in one transaction (a savepoint each): the commit is shared, failures are not."""
    with transaction.atomic():
        return [mail_process(raw_id) for raw_id in raw_ids]


def mail_ingest_batch(*, inbox: Inbox, raws: list[bytes], source: str) -> list[MailOutcome]:
    """Receive many mails (durably, group-committed), then process them; one outcome per mail, in order."""
    return mail_process_batch(mail_receive_batch(inbox=inbox, raws=raws, source=source))


def mail_retry(*, shop_id: int, raw_id: int) -> MailOutcome:
    """Run a quarantined mail of `shop_id` through the pipeline again (after a fix or a new version)."""
    updated = RawMail.objects.filter(pk=raw_id, shop_id=shop_id, state=RawMail.State.QUARANTINED).update(
        state=RawMail.State.RECEIVED
    )
    if not updated:
        raise ValidationFailed("Only a quarantined mail of this shop can be retried.")
    return mail_process(raw_id)


def mail_process_pending(*, limit: int = 500) -> list[MailOutcome]:
    """Process mail stored but never processed (the process stopped between storing and processing)."""
    pending = RawMail.objects.filter(state=RawMail.State.RECEIVED).order_by("id")
    ids = list(pending.values_list("id", flat=True)[:limit])
    return [mail_process(raw_id) for raw_id in ids]
