"""Mail in from the wire: IMAP pulls and the SMTP intake, wired to the raw-first mail store.

The transports (drivers/email/imap.py, smtp_intake.py) know nothing of the database; this module
gives them their callbacks: `cursor` (highest UID stored), `store` (durable; the transport marks the
mail seen / answers 250 only after it returned), and then processes each stored mail. A mail that
fails processing stays stored (quarantined, or pending for the next sweep) — never lost.

`MailService` is what `opiekun run` starts: one IMAP watcher thread per active inbox with an IMAP
server (IDLE where offered), re-checked every minute as inboxes are added or switched off, and the
SMTP intake on OPIEKUN_SMTP_INTAKE_PORT.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from opiekun.core import clock

from .drivers.email import smtp_send
from .drivers.email.driver import EmailConfig
from .drivers.email.imap import (
    FetchedMail,
    FetchReport,
    HistoryLine,
    ImapSettings,
    fetch_new,
    test_connection,
    watch,
)
from .mailstore import (
    imap_cursor,
    imap_history_line,
    imap_history_line_set,
    mail_process_pending,
    mail_receive,
)
from .models import Inbox, RawMail

log = logging.getLogger(__name__)


def imap_settings(inbox: Inbox) -> ImapSettings | None:
    """The inbox's IMAP settings with its password, or None when it is not pulled over IMAP."""
    return inbox.settings(EmailConfig).imap()


def _callbacks(inbox_id: int) -> tuple[Any, Any]:
    def cursor(mailbox: str, uidvalidity: int) -> int:
        return imap_cursor(inbox_id=inbox_id, mailbox=mailbox, uidvalidity=uidvalidity)

    def store(mail: FetchedMail) -> None:
        # Durable when this returns: the server may now mark the mail seen. Processing follows per
        # fetch run, in batches (process_fetched).
        mail_receive(
            inbox_id=inbox_id,
            raw=mail.raw,
            source=RawMail.Source.IMAP,
            mailbox=mail.mailbox,
            uidvalidity=mail.uidvalidity,
            uid=mail.uid,
        )

    return cursor, store


def _history(inbox_id: int) -> HistoryLine:
    return HistoryLine(
        get=lambda mailbox, uidvalidity: imap_history_line(
            inbox_id=inbox_id, mailbox=mailbox, uidvalidity=uidvalidity
        ),
        set=lambda mailbox, uidvalidity, uid: imap_history_line_set(
            inbox_id=inbox_id, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid
        ),
    )


def process_fetched(inbox_id: int) -> None:
    """Run what a fetch stored through the pipeline. Problems with one mail quarantine it; anything
    else leaves the mail pending for the next run or sweep — the fetch itself never fails for it."""
    try:
        mail_process_pending(inbox_id=inbox_id)
    except Exception:
        log.exception("stored mail of inbox %s not processed yet; the next run or sweep retries", inbox_id)


def _record(inbox_id: int, report: FetchReport) -> None:
    now = clock.now()
    if report.errors:
        Inbox.objects.filter(pk=inbox_id).update(
            last_fetch_at=now, last_error="; ".join(report.errors)[:500], last_error_at=now
        )
    else:
        Inbox.objects.filter(pk=inbox_id).update(last_fetch_at=now)


def fetch_inbox(inbox: Inbox) -> FetchReport:
    """One IMAP pass: store every new mail first, then process it; records the inbox's health."""
    imap = imap_settings(inbox)
    if imap is None:
        return FetchReport(errors=["This inbox has no IMAP server configured."])
    cursor, store = _callbacks(inbox.pk)
    report = fetch_new(imap, cursor=cursor, store=store, history=_history(inbox.pk))
    _record(inbox.pk, report)
    process_fetched(inbox.pk)
    return report


def test_inbox(inbox: Inbox) -> str | None:
    """None when the IMAP server answers and the folder exists, else what is wrong (for the desk)."""
    try:
        imap = imap_settings(inbox)
    except ValueError as exc:
        return f"The inbox settings are invalid: {exc}"
    if imap is None:
        return "This inbox has no IMAP server configured."
    return test_connection(imap)


def test_sending(inbox: Inbox) -> str | None:
    """None when the inbox's own SMTP server takes its login (connect, TLS, log in, QUIT: nothing is
    sent), else what is wrong; None too when replies go out through the installation's mail settings."""
    try:
        smtp = inbox.settings(EmailConfig).smtp()
    except ValueError as exc:
        return f"The inbox settings are invalid: {exc}"
    return smtp_send.test_connection(smtp) if smtp is not None else None


test_inbox.__test__ = False  # type: ignore[attr-defined]  # not pytest tests, despite their names
test_sending.__test__ = False  # type: ignore[attr-defined]


class MailService:
    """IMAP watchers (one thread per pulled inbox) and the SMTP intake, for `opiekun run`."""

    RESCAN_SECONDS = 60.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._watchers: dict[int, tuple[threading.Thread, threading.Event, str]] = {}
        self._supervisor: threading.Thread | None = None
        self._intake: Any = None

    def start(self) -> None:
        port = getattr(settings, "OPIEKUN_SMTP_INTAKE_PORT", None)
        if port:
            from .intake import start_intake_server

            try:
                self._intake = start_intake_server(host=settings.OPIEKUN_SMTP_INTAKE_HOST, port=int(port))
            except OSError as exc:
                log.error("the SMTP intake could not listen on port %s: %s", port, exc)
        self._supervisor = threading.Thread(target=self._supervise, name="mail-supervisor", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        self._stop.set()
        for _thread, stop, _key in self._watchers.values():
            stop.set()
        if self._intake is not None:
            self._intake.stop()
        for thread, _stop, _key in self._watchers.values():
            thread.join(timeout=5)
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._rescan()
            except DatabaseError as exc:  # the database is down: /healthz says so; try again later
                log.warning("mail supervisor: cannot read the inboxes (%s); retrying", exc.__class__.__name__)
            except Exception:
                log.exception("mail supervisor: rescanning inboxes failed")
            finally:
                close_old_connections()
            self._stop.wait(self.RESCAN_SECONDS)

    def _rescan(self) -> None:
        wanted: dict[int, tuple[ImapSettings, str]] = {}
        for inbox in Inbox.objects.filter(kind="email", is_active=True):
            try:
                imap = imap_settings(inbox)
            except ValueError:
                continue
            if imap is not None:
                wanted[inbox.pk] = (imap, imap.model_dump_json())
        for inbox_id in list(self._watchers):
            thread, stop, key = self._watchers[inbox_id]
            if inbox_id not in wanted or wanted[inbox_id][1] != key or not thread.is_alive():
                stop.set()
                thread.join(timeout=5)
                del self._watchers[inbox_id]
        for inbox_id, (imap, key) in wanted.items():
            if inbox_id not in self._watchers:
                stop = threading.Event()
                thread = threading.Thread(
                    target=self._watch, args=(inbox_id, imap, stop), name=f"imap-{inbox_id}", daemon=True
                )
                self._watchers[inbox_id] = (thread, stop, key)
                thread.start()

    def _watch(self, inbox_id: int, imap: ImapSettings, stop: threading.Event) -> None:
        cursor, store = _callbacks(inbox_id)

        def on_report(report: FetchReport) -> None:
            try:
                _record(inbox_id, report)
                process_fetched(inbox_id)  # also what an earlier run stored but did not get to
            finally:
                close_old_connections()

        watch(imap, cursor=cursor, store=store, stop=stop, on_report=on_report, history=_history(inbox_id))
