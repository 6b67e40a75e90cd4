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

import dataclasses
import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from opiekun.conversations.attachments import blob_path, blob_store, blobs_store
from opiekun.conversations.models import Message
from opiekun.conversations.services import MAX_TEXT
from opiekun.core import clock
from opiekun.core.bulk import bulk_insert, bulk_set
from opiekun.core.durability import durable_atomic
from opiekun.core.errors import ValidationFailed

from . import pipeline
from .acknowledgments import acknowledgment_schedule
from .base import InboundMessage
from .drivers.email.driver import EmailConfig
from .drivers.email.parse import fingerprint
from .models import Inbox, RawMail
from .parsing import Parsed, parse_later, parse_one

log = logging.getLogger(__name__)

MAX_FILES = 200
DUPLICATE = Parsed(None, "already stored")  # marks a mail found a duplicate before parsing
INLINE_MAX = 256 * 1024  # bytes kept in the row itself (one fsync per batch); larger go to files
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
    inline = len(raw) <= INLINE_MAX
    digest = hashlib.sha256(raw).hexdigest() if inline else blob_store(raw)
    try:
        with durable_atomic():
            row = RawMail.objects.create(
                shop_id=shop_id,
                inbox_id=inbox_id,
                source=source,
                mailbox=mailbox[:200],
                uidvalidity=uidvalidity,
                uid=uid,
                sha256=digest,
                size=len(raw),
                raw=raw if inline else None,
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


def _history_key(mailbox: str, uidvalidity: int) -> str:
    return f"{mailbox[:200]}\n{uidvalidity}"


def imap_history_line(*, inbox_id: int, mailbox: str, uidvalidity: int) -> int | None:
    """Where the folder's history ends for the inbox (see HistoryLine); None before the first connection."""
    state = Inbox.objects.filter(pk=inbox_id).values_list("imap_history", flat=True).first() or {}
    line = state.get(_history_key(mailbox, uidvalidity))
    return int(line) if line is not None else None


def imap_history_line_set(*, inbox_id: int, mailbox: str, uidvalidity: int, uid: int) -> None:
    """Draw the folder's history line (a committed write; another folder's line is kept)."""
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update().filter(pk=inbox_id).only("imap_history").first()
        if inbox is None:
            return
        state = dict(inbox.imap_history or {})
        state[_history_key(mailbox, uidvalidity)] = int(uid)
        Inbox.objects.filter(pk=inbox_id).update(imap_history=state)


def mail_process(raw_id: int) -> MailOutcome:
    """Parse a stored mail and run it through the pipeline; quarantine it with the reason on failure."""
    return mail_process_batch([raw_id])[0]


@dataclass
class _Pending:
    row: RawMail
    started: float
    message: InboundMessage | None = None
    outcome: MailOutcome | None = None
    parse_seconds: float = 0.0


def mail_process_batch(
    raw_ids: list[int],
    raws: dict[int, bytes] | None = None,
    parsed: list[Parsed] | None = None,
    rows: list[RawMail] | None = None,
) -> list[MailOutcome]:
    """Parse stored mails and run them through the pipeline as one batch (one transaction, queries
    shared); a mail that fails is quarantined with the reason, the others go on. One outcome per id.

    Touches RawMail, and through the pipeline contacts, conversations, messages and attachments.
    A mail already processed answers its recorded outcome again (nothing is done twice).
    `raws`: the bytes when the caller still holds them (saves reading them back from disk);
    `parsed`: the mails already parsed (by the helper process), in the order of `raw_ids`;
    `rows`: the RawMail rows just received (with their inbox), saving a read.
    """
    if rows is None:
        query = RawMail.objects.select_related("inbox__shop").filter(pk__in=raw_ids)
        found = {r.pk: r for r in (query.defer("raw") if raws or parsed else query)}
    else:
        found = {r.pk: r for r in rows}
    pending = [_Pending(found[i], time.perf_counter()) for i in raw_ids]
    ready = dict(zip(raw_ids, parsed, strict=True)) if parsed is not None else {}
    done_before = {item.row.pk for item in pending if item.row.state == RawMail.State.PROCESSED}
    with transaction.atomic():
        by_inbox: dict[int, list[_Pending]] = {}
        for item in pending:
            row = item.row
            if row.pk in done_before:
                item.outcome = MailOutcome(
                    raw_id=row.pk,
                    outcome=row.outcome,
                    conversation_number=_number(row.conversation_id),
                    from_email=row.from_email,
                    subject=row.subject,
                )
                continue
            _parse(item, (raws or {}).get(row.pk), ready.get(row.pk))
            if item.outcome is None:
                by_inbox.setdefault(row.inbox_id, []).append(item)
        for items in by_inbox.values():
            _run_pipeline(items)
        _save_outcomes([item for item in pending if item.row.pk not in done_before])
    return [item.outcome for item in pending if item.outcome is not None]


def _parse(item: _Pending, raw: bytes | None, done: Parsed | None) -> None:
    if done is DUPLICATE:
        item.row.state, item.row.outcome = RawMail.State.PROCESSED, pipeline.DUPLICATE
        item.outcome = MailOutcome(raw_id=item.row.pk, outcome=pipeline.DUPLICATE)
        return
    if done is None:
        if raw is None:
            try:
                raw = mail_raw(item.row)
            except OSError as exc:
                item.outcome = _quarantined(item, f"The stored mail cannot be read: {exc.__class__.__name__}")
                return
        done = parse_one(raw)
    item.message, item.parse_seconds = _within_limits(done.message), done.seconds
    if done.message is None:
        item.outcome = _quarantined(item, done.error)


def _within_limits(message: InboundMessage | None) -> InboundMessage | None:
    """A mail longer than a message may be is stored cut, saying so — the whole original stays in the
    raw mail, downloadable — rather than kept out of the desk."""
    if message is None or len(message.text) <= MAX_TEXT:
        return message
    note = "\n\n[…] The rest of this e-mail is in the original message (download it from the mailbox)."
    return dataclasses.replace(
        message,
        text=message.text[: MAX_TEXT - len(note)] + note,
        meta={**message.meta, "truncated_from": len(message.text)},
    )


def _limits(inbox: Inbox) -> tuple[int, bool]:
    try:
        config = EmailConfig.model_validate(inbox.config or {})
    except ValueError:
        return int(EmailConfig.model_fields["max_message_mb"].default) * 1024 * 1024, False
    return config.max_message_mb * 1024 * 1024, config.send_acknowledgment


def _run_pipeline(items: list[_Pending]) -> None:
    inbox = items[0].row.inbox
    max_bytes, send_ack = _limits(inbox)
    messages = [item.message for item in items if item.message is not None]
    started = time.perf_counter()
    try:
        with transaction.atomic():
            results = pipeline.process_many(
                inbox=inbox, messages=messages, max_files=MAX_FILES, max_bytes=max_bytes
            )
    except Exception:
        if len(items) > 1:  # find the one that breaks, keep the rest
            for item in items:
                _run_pipeline([item])
            return
        log.exception("processing raw mail %s failed", items[0].row.pk)
        results = None
    share = (time.perf_counter() - started) / len(items)
    for index, item in enumerate(items):
        assert item.message is not None
        if results is None:
            item.outcome = _quarantined(item, "Processing failed (an internal error; see the log).")
            continue
        result = results[index]
        if result.error is not None:
            item.outcome = _quarantined(item, str(result.error))
            continue
        message = item.message
        if (
            send_ack
            and result.outcome == pipeline.CREATED
            and result.message is not None
            and not message.auto_submitted
            and not result.message.meta.get("own_address")
        ):
            acknowledgment_schedule(message=result.message, to_email=message.sender.email)
        conversation = result.conversation
        item.row.state = RawMail.State.PROCESSED
        item.row.outcome = result.outcome
        item.row.error = result.reason[:1000]
        item.row.message = result.message
        item.row.conversation = conversation
        item.outcome = MailOutcome(
            raw_id=item.row.pk,
            outcome=result.outcome,
            conversation_number=conversation.number if conversation is not None else None,
            from_email=message.sender.email[:320],
            subject=message.subject[:300],
            language=message.language,
            reply_text=message.text,
            attachments=[
                {"filename": a.filename, "mime": a.declared_type, "size": len(a.content)}
                for a in message.attachments
            ],
            reason=result.reason,
            seconds=item.parse_seconds + share,
        )


def _quarantined(item: _Pending, reason: str) -> MailOutcome:
    row = item.row
    log.warning("raw mail %s quarantined: %s", row.pk, reason)
    row.state, row.outcome, row.error = RawMail.State.QUARANTINED, "", reason[:1000]
    message = item.message
    return MailOutcome(
        raw_id=row.pk,
        outcome=QUARANTINED,
        from_email=message.sender.email[:320] if message else "",
        subject=message.subject[:300] if message else "",
        reason=reason,
        seconds=time.perf_counter() - item.started,
    )


def _save_outcomes(items: list[_Pending]) -> None:
    now = clock.now()
    for item in items:
        row, message = item.row, item.message
        row.processed_at = now
        row.attempts += 1
        if message is not None:
            row.subject, row.from_email = message.subject[:300], message.sender.email[:320]
    bulk_set(
        [item.row for item in items],
        [
            "state",
            "outcome",
            "error",
            "message",
            "conversation",
            "subject",
            "from_email",
            "processed_at",
            "attempts",
        ],
    )
    failed = [item.row for item in items if item.row.state == RawMail.State.QUARANTINED]
    for row in failed:
        Inbox.objects.filter(pk=row.inbox_id).update(last_error=row.error[:500], last_error_at=now)


def _number(conversation_id: int | None) -> int | None:
    if conversation_id is None:
        return None
    from opiekun.conversations.models import Conversation

    return Conversation.objects.filter(pk=conversation_id).values_list("number", flat=True).first()


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


def mail_receive_batch(*, inbox: Inbox, raws: list[bytes], source: str) -> list[RawMail]:
    """Store many received mails durably at once (one round of syncs, one commit); their RawMail rows
    (with their inbox, without the bytes the caller already holds), in order.

    For runs without per-mail ids (imports, bursts); IMAP uses `mail_receive`.
    """
    large = [raw for raw in raws if len(raw) > INLINE_MAX]
    stored = dict(zip(map(id, large), blobs_store(large), strict=True)) if large else {}
    now = clock.now()
    with durable_atomic():
        rows = bulk_insert(
            [
                RawMail(
                    shop_id=inbox.shop_id,
                    inbox_id=inbox.pk,
                    source=source,
                    sha256=stored.get(id(raw)) or hashlib.sha256(raw).hexdigest(),
                    size=len(raw),
                    raw=None if id(raw) in stored else raw,
                    received_at=now,
                )
                for raw in raws
            ]
        )
    for row in rows:  # SQLite and PostgreSQL return the new ids from a bulk insert
        row.inbox = inbox
        row.raw = None  # the caller holds the bytes; do not keep a second reference per row
    return rows


def mail_raw(row: RawMail) -> bytes:
    """The received bytes of `row`, from the row itself or from the file store (large mails)."""
    if row.raw is not None:
        return bytes(row.raw)
    return blob_path(row.sha256).read_bytes()  # OSError when the file is gone: the caller quarantines


STREAM_BATCH = 200  # mails per batch in long runs (bench/mail_ingest.py: 50 → 200 doubled throughput)


def mail_ingest_stream(
    *, inbox: Inbox, raws: Iterable[bytes], source: str, batch: int = STREAM_BATCH
) -> Iterator[MailOutcome]:
    """Receive and process a long run of mail in batches; one outcome per mail, in order.

    Each batch is stored durably first; while it goes through the pipeline, the helper process
    already parses the next one.
    """
    waiting: tuple[list[RawMail], list[bytes], list[bool], Future[list[Parsed]] | None] | None = None
    for chunk in _chunks(raws, batch):
        rows = mail_receive_batch(inbox=inbox, raws=chunk, source=source)
        known = known_duplicates(inbox.pk, chunk)
        future = parse_later([raw for raw, dup in zip(chunk, known, strict=True) if not dup])
        if waiting is not None:
            yield from _finish(*waiting)
        waiting = (rows, chunk, known, future)
    if waiting is not None:
        yield from _finish(*waiting)


def _finish(
    rows: list[RawMail], chunk: list[bytes], known: list[bool], future: Future[list[Parsed]] | None
) -> list[MailOutcome]:
    parsed = None
    if future is not None:
        try:
            done = iter(future.result())
            parsed = [DUPLICATE if dup else next(done) for dup in known]
        except Exception:  # the helper process died (out of memory…): parse here instead
            log.exception("the mail parsing helper failed; parsing in-process")
    ids = [row.pk for row in rows]
    return mail_process_batch(ids, raws=dict(zip(ids, chunk, strict=True)), parsed=parsed, rows=rows)


def known_duplicates(inbox_id: int, raws: list[bytes]) -> list[bool]:
    """Which mails are certainly stored already in one of the shop's e-mail inboxes (or repeated earlier
    in `raws`), by fingerprint — cheap, before parsing. The pipeline's de-duplication still has the last
    word on the rest."""
    ids = [f"mail:{fingerprint(raw)}" for raw in raws]
    inbox = Inbox.objects.only("id", "shop_id", "kind").get(pk=inbox_id)
    stored = set(
        Message.objects.filter(
            inbox_id__in=pipeline.sibling_inboxes(inbox), external_id__in=set(ids)
        ).values_list("external_id", flat=True)
    )
    seen: set[str] = set()
    known = []
    for external_id in ids:
        known.append(external_id in stored or external_id in seen)
        seen.add(external_id)
    return known


def _chunks(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def mail_retry(*, shop_id: int, raw_id: int) -> MailOutcome:
    """Run a quarantined mail of `shop_id` through the pipeline again (after a fix or a new version)."""
    updated = RawMail.objects.filter(pk=raw_id, shop_id=shop_id, state=RawMail.State.QUARANTINED).update(
        state=RawMail.State.RECEIVED
    )
    if not updated:
        raise ValidationFailed("Only a quarantined mail of this shop can be retried.")
    return mail_process(raw_id)


def mail_process_pending(
    *, inbox_id: int | None = None, limit: int = 5000, batch: int = 50
) -> list[MailOutcome]:
    """Process mail stored but not processed yet, oldest first, in batches: what an IMAP fetch just
    stored, or what was left when the process stopped between storing and processing."""
    pending = RawMail.objects.filter(state=RawMail.State.RECEIVED).order_by("id")
    if inbox_id is not None:
        pending = pending.filter(inbox_id=inbox_id)
    ids = list(pending.values_list("id", flat=True)[:limit])
    outcomes: list[MailOutcome] = []
    for start in range(0, len(ids), batch):
        outcomes += mail_process_batch(ids[start : start + batch])
    return outcomes
