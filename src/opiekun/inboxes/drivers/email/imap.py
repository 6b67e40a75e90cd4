"""IMAP pull: fetch new mail by UID, hand the raw bytes to a durable store, only then mark seen / move.

The identity of a fetched mail is (mailbox, UIDVALIDITY, UID). The caller owns the cursor (the
highest UID already stored for a mailbox + UIDVALIDITY) and the store; this module never touches
the database. The order of the steps is the guarantee:

1. fetch with BODY.PEEK[] (the fetch itself marks nothing seen),
2. `store(mail)` — returns only when the raw mail is durable (and is idempotent on the identity),
3. only then the after-step: add \\Seen, or MOVE to another folder.

A crash or a dropped connection between 2 and 3 leaves a stored mail unmarked on the server; the
next run finishes the after-step for every UID at or below the cursor (without storing it again).
A crash before 2 leaves the mail above the cursor, so the next run fetches it again.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError
from pydantic import BaseModel, Field, SecretStr

from .tls import client_context

log = logging.getLogger(__name__)

# How many messages one FETCH of bodies asks for, and roughly how many bytes: small batches keep
# memory flat and mean a dropped connection costs at most one batch of re-download.
BODY_BATCH_COUNT = 20
BODY_BATCH_BYTES = 8 * 1024 * 1024
SIZE_BATCH_COUNT = 500


class ImapSettings(BaseModel):
    """How to reach one mailbox. The password is a SecretStr so it never shows in a repr or a log."""

    model_config = {"extra": "forbid"}

    host: str
    port: int = 993
    username: str
    password: SecretStr
    security: Literal["ssl", "starttls", "none"] = "ssl"
    folder: str = "INBOX"
    after: Literal["seen", "move"] = "seen"
    # What of the mail already in the folder when Opiekun first connects (after="seen" only; a "move"
    # folder is a queue, all of it is for us): "unread" — only mail nobody has read yet, the shop's
    # years of answered mail stay history; "all" — every mail in the folder.
    history: Literal["unread", "all"] = "unread"
    move_to: str = "Opiekun"
    verify_tls: bool = True
    ca_file: str | None = None  # extra CA to trust (a private CA, or a self-signed test server)
    timeout: float = 30.0
    max_size: int = Field(default=50 * 1024 * 1024, gt=0)  # larger mails are left alone and reported
    poll_interval: float = Field(default=60.0, gt=0)  # when the server has no IDLE
    idle_renew: float = Field(default=29 * 60.0, gt=0)  # RFC 2177: re-issue IDLE at least every 29 min


@dataclass(frozen=True)
class FetchedMail:
    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes


@dataclass(frozen=True)
class OversizedMail:
    uid: int
    size: int


@dataclass
class FetchReport:
    """What one run did. `errors` are human-readable; an empty list means the run completed."""

    mailbox: str = ""
    uidvalidity: int = 0
    fetched: int = 0  # bodies downloaded in this run
    stored: int = 0  # `store` calls that returned
    finished: int = 0  # messages marked seen / moved in this run (new ones and leftovers)
    last_uid: int = 0  # highest UID stored so far (the cursor after this run)
    oversized: list[OversizedMail] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    store_failed: bool = False  # the run stopped because `store` raised (retry after a pause)

    @property
    def ok(self) -> bool:
        return not self.errors


CursorFn = Callable[[str, int], int]
StoreFn = Callable[[FetchedMail], None]


@dataclass(frozen=True)
class HistoryLine:
    """Where a folder's history ends (per folder and UIDVALIDITY), kept by the caller.

    On the first connection the line is drawn at the highest UID the folder has (UIDNEXT - 1), before
    anything is stored; mail at or below it is history: only its unread mail is fetched (on every run,
    so an interrupted first import finishes and a mail marked unread again comes in), everything
    above it is new mail and is fetched whether read or not. `get` answers None for a folder never
    seen; `set` must be durable when it returns.
    """

    get: Callable[[str, int], int | None]
    set: Callable[[str, int, int], None]


class ImapConnectionLost(Exception):
    """The connection dropped or timed out; the caller reconnects (nothing was half-done)."""


# ----------------------------------------------------------------------------------------- connecting


def _ssl_context(settings: ImapSettings) -> ssl.SSLContext:
    return client_context(ca_file=settings.ca_file, verify=settings.verify_tls)


@contextlib.contextmanager
def connect(settings: ImapSettings) -> Iterator[IMAPClient]:
    """An IMAPClient logged in over the configured security (STARTTLS is required when asked for)."""
    ctx = _ssl_context(settings)
    client = IMAPClient(
        settings.host,
        port=settings.port,
        ssl=settings.security == "ssl",
        ssl_context=ctx if settings.security == "ssl" else None,
        timeout=settings.timeout,
    )
    try:
        if settings.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise ssl.SSLError(_("the server does not offer STARTTLS"))
            client.starttls(ctx)
        client.login(settings.username, settings.password.get_secret_value())
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.logout()
        with contextlib.suppress(Exception):
            client.shutdown()


# Errors that mean "the network let us down": reconnect and try again.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes socket.timeout, ConnectionResetError, ssl.SSLEOFError
    IMAPClientAbortError,
    ImapConnectionLost,
)


# ------------------------------------------------------------------------------------------ fetching


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _select(client: IMAPClient, folder: str) -> tuple[int, int | None]:
    """UIDVALIDITY and UIDNEXT (None when the server does not say) of the selected folder."""
    info = client.select_folder(folder)
    uidvalidity = info.get(b"UIDVALIDITY")
    if uidvalidity is None:
        # RFC 3501 makes it mandatory; without it UIDs identify nothing and we must not guess.
        raise IMAPClientError(
            _("the server did not report UIDVALIDITY for folder %(folder)s") % {"folder": folder}
        )
    uidnext = info.get(b"UIDNEXT")
    return int(uidvalidity), int(uidnext) if uidnext is not None else None


def _history_line(
    client: IMAPClient,
    settings: ImapSettings,
    history: HistoryLine | None,
    uidvalidity: int,
    uidnext: int | None,
    stored_up_to: int,
) -> int:
    """The folder's history line (0: no history, everything is new mail); drawn on the first connection."""
    if history is None or settings.after != "seen":
        return 0
    line = history.get(settings.folder, uidvalidity)
    if line is None:
        if stored_up_to or settings.history == "all":
            line = 0  # mail was fetched before the line existed, or the shop wants the whole folder
        elif uidnext is not None:
            line = max(0, uidnext - 1)
        else:
            line = max(client.search(["ALL"]) or [0])
        history.set(settings.folder, uidvalidity, line)
    return line


def _uids_above(client: IMAPClient, cursor: int) -> list[int]:
    # "UID n:*" always matches the highest UID even when it is below n, hence the filter.
    return sorted(uid for uid in client.search(["UID", f"{cursor + 1}:*"]) if uid > cursor)


def _sizes(client: IMAPClient, uids: Sequence[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for chunk in _chunks(uids, SIZE_BATCH_COUNT):
        for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items():
            sizes[int(uid)] = int(data.get(b"RFC822.SIZE", 0))
    return sizes


def _body_batches(uids: Sequence[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    batch: list[int] = []
    batch_bytes = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= BODY_BATCH_COUNT or batch_bytes + size > BODY_BATCH_BYTES):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(uid)
        batch_bytes += size
    if batch:
        yield batch


def _ensure_folder(client: IMAPClient, folder: str) -> None:
    if not client.folder_exists(folder):
        with contextlib.suppress(IMAPClientError):
            client.create_folder(folder)  # a concurrent creator may have won; MOVE tells us if not
        with contextlib.suppress(IMAPClientError):
            client.subscribe_folder(folder)


def _finish(client: IMAPClient, settings: ImapSettings, uids: Sequence[int]) -> int:
    """The after-step for mails already stored: \\Seen, or MOVE (COPY + \\Deleted + EXPUNGE without MOVE)."""
    if not uids:
        return 0
    if settings.after == "seen":
        client.add_flags(uids, [b"\\Seen"], silent=True)
        return len(uids)
    _ensure_folder(client, settings.move_to)
    if client.has_capability("MOVE"):
        client.move(uids, settings.move_to)
    else:
        client.copy(uids, settings.move_to)
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            # Without UIDPLUS an EXPUNGE also removes other \Deleted mail in the folder — which is what
            # the user asked for by deleting it; there is no narrower command on such a server.
            client.expunge()
    return len(uids)


def _leftovers(client: IMAPClient, settings: ImapSettings, cursor: int, line: int = 0) -> list[int]:
    """UIDs above the history line and at or below the cursor still waiting for the after-step (stored,
    then crashed/disconnected). History mail below the line is never assumed stored: see _unread_history."""
    if cursor <= line:
        return []
    criteria: list[Any] = ["UID", f"{line + 1}:{cursor}"]
    if settings.after == "seen":
        criteria.append("UNSEEN")
    else:
        criteria.append("UNDELETED")
    return sorted(uid for uid in client.search(criteria) if line < uid <= cursor)


def _unread_history(client: IMAPClient, line: int) -> list[int]:
    """Unread mail at or below the history line: fetched and stored like new mail (storing is idempotent
    by UID, so one stored before a crash is only marked seen this time)."""
    if line <= 0:
        return []
    return sorted(uid for uid in client.search(["UID", f"1:{line}", "UNSEEN"]) if uid <= line)


def fetch_on(
    client: IMAPClient,
    settings: ImapSettings,
    *,
    cursor: CursorFn,
    store: StoreFn,
    report: FetchReport | None = None,
    history: HistoryLine | None = None,
) -> FetchReport:
    """One run on an open connection, filling `report` as it goes (so a caller that catches a
    connection error still knows what was achieved). Raises on connection errors; a failing store
    ends the run and is reported in `errors` with `store_failed` set. Without `history` every mail in
    the folder is new mail."""
    folder = settings.folder
    report = report if report is not None else FetchReport()
    report.mailbox = folder
    uidvalidity, uidnext = _select(client, folder)
    report.uidvalidity = uidvalidity
    stored_up_to = cursor(folder, uidvalidity)
    report.last_uid = stored_up_to
    line = _history_line(client, settings, history, uidvalidity, uidnext, stored_up_to)
    try:
        # 1. Leftovers from a run that stored but never got to mark/move. Oversized mails were
        #    never stored, so they stay exactly where they are (and are reported again, never silently).
        leftovers = _leftovers(client, settings, stored_up_to, line)
        if leftovers:
            sizes = _sizes(client, leftovers)
            report.oversized.extend(
                OversizedMail(uid=uid, size=sizes[uid])
                for uid in leftovers
                if sizes.get(uid, 0) > settings.max_size
            )
            done = [uid for uid in leftovers if uid in sizes and sizes[uid] <= settings.max_size]
            report.finished += _finish(client, settings, done)

        # 2. Unread history, then new mail, in UID order, in small batches: sizes first, then bodies.
        new = _unread_history(client, line) + _uids_above(client, max(stored_up_to, line))
        sizes = _sizes(client, new) if new else {}
        wanted: list[int] = []
        for uid in new:
            if uid not in sizes:
                continue  # expunged by someone else since SEARCH
            if sizes[uid] > settings.max_size:
                report.oversized.append(OversizedMail(uid=uid, size=sizes[uid]))
            else:
                wanted.append(uid)
        for batch in _body_batches(wanted, sizes):
            data = client.fetch(batch, ["BODY.PEEK[]"])
            stored_now: list[int] = []
            failure: Exception | None = None
            for uid in batch:
                raw = data.get(uid, {}).get(b"BODY[]")
                if raw is None:
                    continue  # expunged between SEARCH and FETCH
                report.fetched += 1
                try:
                    store(FetchedMail(mailbox=folder, uidvalidity=uidvalidity, uid=uid, raw=bytes(raw)))
                except Exception as exc:
                    failure = exc
                    break
                report.stored += 1
                report.last_uid = max(report.last_uid, uid)
                stored_now.append(uid)
            # Only what is durable gets marked. If the connection drops inside this step, the next
            # run's leftover step finishes it.
            report.finished += _finish(client, settings, stored_now)
            if failure is not None:
                # Stop: mail after this one must not get ahead of the cursor. The next run retries it.
                log.error("imap store failed for %s uid %s: %r", folder, uid, failure)
                report.store_failed = True
                report.errors.append(
                    _("Could not store UID %(uid)s from %(folder)s (it stays on the server): %(error)s")
                    % {"uid": uid, "folder": folder, "error": _short(failure)}
                )
                return report
    finally:
        if report.oversized:
            report.errors.append(_oversized_message(report.oversized, settings.max_size))
    return report


def _oversized_message(oversized: Iterable[OversizedMail], limit: int) -> str:
    items = list(oversized)
    uids = ", ".join(str(m.uid) for m in items[:10]) + ("…" if len(items) > 10 else "")
    return _("%(count)d message(s) larger than %(limit)d MB left unread on the server (UID %(uids)s)") % {
        "count": len(items),
        "limit": limit // (1024 * 1024),
        "uids": uids,
    }


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text[:300]


def fetch_new(
    settings: ImapSettings, *, cursor: CursorFn, store: StoreFn, history: HistoryLine | None = None
) -> FetchReport:
    """Connect, store every new mail in the folder, then mark seen / move it. Never raises for
    transport or store errors: they come back in `report.errors` (nothing is lost; rerun)."""
    report = FetchReport(mailbox=settings.folder)
    try:
        with connect(settings) as client:
            return fetch_on(client, settings, cursor=cursor, store=store, report=report, history=history)
    except Exception as exc:
        report.errors.append(describe_error(exc, settings))
        log.warning("imap fetch from %s failed: %s", settings.host, report.errors[-1])
        return report


# -------------------------------------------------------------------------------------- explaining


def describe_error(exc: BaseException, settings: ImapSettings) -> str:
    """A short, human explanation of a connection problem (never includes the password)."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, LoginError):
        return _(
            "The server refused the login for %(user)s: check the user name and password (%(reply)s)"
        ) % {
            "user": settings.username,
            "reply": _short(exc),
        }
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("The TLS certificate of %(where)s could not be verified: %(reason)s") % {
            "where": where,
            "reason": exc.verify_message or _short(exc),
        }
    if isinstance(exc, ssl.SSLError):
        return _("TLS with %(where)s failed: %(reason)s") % {"where": where, "reason": _short(exc)}
    if isinstance(exc, socket.gaierror):
        return _("Cannot find the server %(host)s (DNS): %(reason)s") % {
            "host": settings.host,
            "reason": _short(exc),
        }
    if isinstance(exc, ConnectionRefusedError):
        return _("Cannot connect to %(where)s: connection refused") % {"where": where}
    if isinstance(exc, TimeoutError | socket.timeout):
        return _("Cannot connect to %(where)s: no answer (timed out)") % {"where": where}
    if isinstance(exc, OSError | IMAPClientAbortError | ImapConnectionLost):
        return _("The connection to %(where)s was lost: %(reason)s") % {"where": where, "reason": _short(exc)}
    if isinstance(exc, CapabilityError):
        return _("The server %(where)s lacks a needed feature: %(reason)s") % {
            "where": where,
            "reason": _short(exc),
        }
    return _("The IMAP server %(where)s answered with an error: %(reason)s") % {
        "where": where,
        "reason": _short(exc),
    }


def test_connection(settings: ImapSettings) -> str | None:
    """The "connection test" button: log in and open the folder read-only. None when fine, else why not."""
    try:
        with connect(settings) as client:
            if not client.folder_exists(settings.folder):
                return _("The folder %(folder)s does not exist on the server") % {"folder": settings.folder}
            client.select_folder(settings.folder, readonly=True)
    except Exception as exc:
        return describe_error(exc, settings)
    return None


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name


# ------------------------------------------------------------------------------------------ watching


def _idle_until_news(client: IMAPClient, settings: ImapSettings, stop: threading.Event) -> None:
    """Sit in IDLE until the server reports new mail, the renew interval passes, or `stop` is set."""
    client.idle()
    deadline = time.monotonic() + settings.idle_renew
    try:
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            wait = min(1.0, left)  # wake every second so `stop` is honoured promptly
            started = time.monotonic()
            responses = client.idle_check(timeout=wait)
            if any(len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                return
            if not responses and time.monotonic() - started < wait * 0.5:
                # idle_check swallows EOF and returns at once: the server went away.
                raise ImapConnectionLost("the server closed the connection during IDLE")
    finally:
        with contextlib.suppress(IMAPClientError):
            client.idle_done()


def watch(
    settings: ImapSettings,
    *,
    cursor: CursorFn,
    store: StoreFn,
    stop: threading.Event,
    on_report: Callable[[FetchReport], None],
    backoff_initial: float = 1.0,
    backoff_max: float = 300.0,
    history: HistoryLine | None = None,
) -> None:
    """Fetch, then wait for news (IDLE when offered, else poll), forever until `stop` is set.

    Connection problems are reported through `on_report` and retried with exponential backoff;
    no path loops without waiting."""
    backoff = backoff_initial
    while not stop.is_set():
        try:
            with connect(settings) as client:
                idle = client.has_capability("IDLE")
                reruns = 0
                while not stop.is_set():
                    report = fetch_on(client, settings, cursor=cursor, store=store, history=history)
                    on_report(report)
                    if report.store_failed:
                        # e.g. the database is down: wait before the next attempt, keep the connection.
                        stop.wait(backoff)
                        backoff = min(backoff * 2, backoff_max)
                        continue
                    backoff = backoff_initial
                    if (report.fetched or report.finished) and reruns < 5:
                        # Mail that arrived while this run was busy announced itself in the replies to
                        # our FETCH/STORE (imapclient drops those), not in IDLE: look again first. The
                        # run that finds nothing ends with SEARCH, so anything later reaches IDLE.
                        # (Bounded: a server that never keeps \Seen must not make this a busy loop.)
                        reruns += 1
                        continue
                    reruns = 0
                    if idle:
                        _idle_until_news(client, settings, stop)
                    else:
                        stop.wait(settings.poll_interval)
        except Exception as exc:
            failed = FetchReport(mailbox=settings.folder, errors=[describe_error(exc, settings)])
            log.warning("imap watch on %s: %s (retrying in %.0fs)", settings.host, failed.errors[0], backoff)
            with contextlib.suppress(Exception):
                on_report(failed)
            stop.wait(backoff)
            backoff = min(backoff * 2, backoff_max)
