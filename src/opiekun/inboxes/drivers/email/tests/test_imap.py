"""IMAP pull against a real Dovecot on loopback: store first, then mark; crashes and cuts lose nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from imapclient import IMAPClient

from opiekun.inboxes.drivers.email import imap
from opiekun.inboxes.drivers.email.imap import FetchedMail, FetchReport, ImapSettings
from opiekun.testing.mailservers import DovecotServer, TcpProxy, free_port, sample_mail


class MemoryStore:
    """What the RawMail store promises, in memory: idempotent on (mailbox, uidvalidity, uid)."""

    def __init__(self) -> None:
        self.mails: dict[tuple[str, int, int], bytes] = {}
        self.calls: list[tuple[str, int, int]] = []
        self.fail_on_call: int | None = None  # 1-based number of the store call that raises
        self.before_store: Callable[[FetchedMail], None] | None = None
        self.after_store: Callable[[FetchedMail], None] | None = None

    def cursor(self, mailbox: str, uidvalidity: int) -> int:
        return max((uid for (m, v, uid) in self.mails if m == mailbox and v == uidvalidity), default=0)

    def store(self, mail: FetchedMail) -> None:
        key = (mail.mailbox, mail.uidvalidity, mail.uid)
        self.calls.append(key)
        if self.before_store:
            self.before_store(mail)
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise OSError("disk full (simulated)")
        self.mails.setdefault(key, mail.raw)
        if self.after_store:
            self.after_store(mail)

    def run(self, settings: ImapSettings) -> FetchReport:
        return imap.fetch_new(settings, cursor=self.cursor, store=self.store)

    def successful_keys(self) -> list[tuple[str, int, int]]:
        return sorted(self.mails)


def settings_for(server: DovecotServer, user: str, **overrides: object) -> ImapSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": server.password,
        "security": "none",
        "timeout": 5,
    }
    values.update(overrides)
    return ImapSettings.model_validate(values)


def test_fetches_every_new_mail_once_and_marks_it_seen_only_after_storing(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    raws = [sample_mail(n) for n in range(3)]
    for raw in raws:
        dovecot.append(user, raw)
    store = MemoryStore()
    seen_at_store_time: list[bool] = []
    store.before_store = lambda mail: seen_at_store_time.append(
        next(m.seen for m in dovecot.fetch_all(user) if m.uid == mail.uid)
    )

    report = store.run(settings_for(dovecot, user))

    assert report.ok, report.errors
    assert (report.fetched, report.stored, report.finished, report.last_uid) == (3, 3, 3, 3)
    assert [store.mails[k] for k in store.successful_keys()] == raws  # the exact bytes
    assert seen_at_store_time == [False, False, False]  # BODY.PEEK: fetching marked nothing
    assert all(m.seen for m in dovecot.fetch_all(user))

    again = store.run(settings_for(dovecot, user))
    assert again.ok and again.fetched == 0 and again.stored == 0
    assert len(store.calls) == 3


def test_mail_already_read_in_webmail_is_still_fetched(dovecot: DovecotServer) -> None:
    """Identity is the UID, not the \\Seen flag: a mail someone opened first must not be skipped."""
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1), flags=("\\Seen",))
    store = MemoryStore()
    assert store.run(settings_for(dovecot, user)).stored == 1


@pytest.mark.parametrize("without_move", [False, True], ids=["MOVE", "COPY+EXPUNGE"])
def test_move_mode_moves_only_after_store_and_creates_the_folder(
    dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch, without_move: bool
) -> None:
    user = dovecot.new_user()
    for n in range(3):
        dovecot.append(user, sample_mail(n))
    if without_move:
        real = IMAPClient.has_capability
        monkeypatch.setattr(IMAPClient, "has_capability", lambda self, cap: cap != "MOVE" and real(self, cap))
    store = MemoryStore()
    in_inbox_at_store_time: list[bool] = []
    store.before_store = lambda mail: in_inbox_at_store_time.append(
        mail.uid in {m.uid for m in dovecot.fetch_all(user)}
    )

    report = store.run(settings_for(dovecot, user, after="move", move_to="Opiekun/Done"))

    assert report.ok, report.errors
    assert in_inbox_at_store_time == [True, True, True]
    assert dovecot.fetch_all(user) == []
    assert len(dovecot.fetch_all(user, "Opiekun/Done")) == 3


def test_store_failing_mid_batch_stops_there_and_the_rerun_gets_the_rest_without_doubles(
    dovecot: DovecotServer,
) -> None:
    user = dovecot.new_user()
    for n in range(5):
        dovecot.append(user, sample_mail(n))
    store = MemoryStore()
    store.fail_on_call = 3

    first = store.run(settings_for(dovecot, user))

    assert first.store_failed and first.stored == 2 and first.last_uid == 2
    assert "UID 3" in first.errors[0] and "disk full" in first.errors[0]
    flags = {m.uid: m.seen for m in dovecot.fetch_all(user)}
    assert flags == {1: True, 2: True, 3: False, 4: False, 5: False}  # nothing marked that was not stored

    store.fail_on_call = None
    second = store.run(settings_for(dovecot, user))

    assert second.ok and second.stored == 3
    assert [k[2] for k in store.successful_keys()] == [1, 2, 3, 4, 5]
    # UIDs 1 and 2 were never offered to the store again; 3 was retried once after its failure.
    assert [k[2] for k in store.calls] == [1, 2, 3, 3, 4, 5]
    assert all(m.seen for m in dovecot.fetch_all(user))


def test_crash_between_store_and_mark_is_finished_next_run_without_reimport(
    dovecot: DovecotServer, tcp_proxy: Callable[[str, int], TcpProxy]
) -> None:
    user = dovecot.new_user()
    for n in range(3):
        dovecot.append(user, sample_mail(n))
    proxy = tcp_proxy(dovecot.host, dovecot.port)
    store = MemoryStore()
    # The connection dies right after the last mail became durable, before \Seen could be set.
    store.after_store = lambda mail: proxy.cut() if mail.uid == 3 else None

    first = store.run(settings_for(dovecot, user, port=proxy.port))

    assert first.errors and "connection" in first.errors[0].lower()
    assert first.stored == 3
    assert not any(m.seen for m in dovecot.fetch_all(user))

    store.after_store = None
    second = store.run(settings_for(dovecot, user, port=proxy.port))

    assert second.ok, second.errors
    assert second.fetched == 0 and second.stored == 0 and second.finished == 3
    assert len(store.calls) == 3
    assert all(m.seen for m in dovecot.fetch_all(user))


def test_connection_cut_in_the_middle_of_a_fetch_response_loses_nothing_and_doubles_nothing(
    dovecot: DovecotServer, tcp_proxy: Callable[[str, int], TcpProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot.new_user()
    raws = [sample_mail(n, size=30_000) for n in range(6)]
    for raw in raws:
        dovecot.append(user, raw)
    monkeypatch.setattr(imap, "BODY_BATCH_COUNT", 2)
    proxy = tcp_proxy(dovecot.host, dovecot.port)
    # ~3.5 mails' worth of server bytes: the second FETCH of bodies is cut off half-way.
    proxy.cut_after(105_000)
    store = MemoryStore()

    first = store.run(settings_for(dovecot, user, port=proxy.port))

    assert first.errors, "a cut connection must be reported"
    assert proxy.cuts >= 1
    assert 0 < first.stored < 6
    proxy.cut_after(None)
    second = store.run(settings_for(dovecot, user, port=proxy.port))

    assert second.ok, second.errors
    assert [store.mails[k] for k in store.successful_keys()] == raws
    assert len(store.calls) == len(set(store.calls)) == 6  # every UID offered to the store exactly once
    assert all(m.seen for m in dovecot.fetch_all(user))


def test_uidvalidity_change_starts_the_new_generation_from_zero(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1), folder="Sklep")
    dovecot.append(user, sample_mail(2), folder="Sklep")
    settings = settings_for(dovecot, user, folder="Sklep")
    store = MemoryStore()
    first = store.run(settings)
    assert first.stored == 2
    with dovecot.client(user) as client:  # the folder is recreated: UIDs are reused, UIDVALIDITY moves on
        client.delete_folder("Sklep")
    time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock (seconds)
    dovecot.append(user, sample_mail(3), folder="Sklep")

    second = store.run(settings)

    assert second.ok and second.stored == 1
    assert second.uidvalidity != first.uidvalidity
    assert (("Sklep", second.uidvalidity, 1)) in store.mails
    assert len(store.mails) == 3


def test_oversized_mail_is_left_on_the_server_and_reported_every_run(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    dovecot.append(user, sample_mail(2, size=20_000))
    dovecot.append(user, sample_mail(3))
    store = MemoryStore()
    settings = settings_for(dovecot, user, max_size=10_000)

    first = store.run(settings)

    assert [m.uid for m in first.oversized] == [2]
    assert any("larger than" in e and "2" in e for e in first.errors)
    assert [k[2] for k in store.successful_keys()] == [1, 3]
    assert {m.uid: m.seen for m in dovecot.fetch_all(user)} == {1: True, 2: False, 3: True}
    second = store.run(settings)
    assert [m.uid for m in second.oversized] == [2] and second.stored == 0  # never silently forgotten


def _watch_in_thread(settings: ImapSettings, store: MemoryStore, **kwargs: object):  # type: ignore[no-untyped-def]
    stop = threading.Event()
    reports: list[FetchReport] = []
    thread = threading.Thread(
        target=imap.watch,
        kwargs={
            "settings": settings,
            "cursor": store.cursor,
            "store": store.store,
            "stop": stop,
            "on_report": reports.append,
            **kwargs,
        },
        daemon=True,
    )
    thread.start()
    return stop, reports, thread


def _wait(predicate: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.02)
    return time.monotonic() - started


def test_watch_idles_and_wakes_up_on_a_new_mail_within_two_seconds(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    store = MemoryStore()
    # Polling would take 5 minutes: only IDLE can make this fast.
    stop, reports, thread = _watch_in_thread(settings_for(dovecot, user, poll_interval=300), store)
    try:
        _wait(lambda: len(store.mails) == 1, 5)
        time.sleep(0.3)  # let it enter IDLE
        dovecot.append(user, sample_mail(2))
        elapsed = _wait(lambda: len(store.mails) == 2, 5)
        assert elapsed < 2.0
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive(), "watch must honour stop promptly"
    assert all(r.ok for r in reports)


def test_watch_does_not_miss_mail_that_arrives_while_a_run_is_busy(dovecot: DovecotServer) -> None:
    """Its EXISTS comes in a FETCH/STORE reply, not in IDLE: it must not wait for the IDLE renew."""
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    store = MemoryStore()
    store.after_store = lambda mail: dovecot.append(user, sample_mail(2)) if mail.uid == 1 else None
    stop, _reports, thread = _watch_in_thread(settings_for(dovecot, user, poll_interval=300), store)
    try:
        _wait(lambda: len(store.mails) == 2, 3)
    finally:
        stop.set()
        thread.join(5)


def test_watch_polls_without_idle_and_reconnects_after_a_dropped_connection(
    dovecot: DovecotServer, tcp_proxy: Callable[[str, int], TcpProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = IMAPClient.has_capability
    monkeypatch.setattr(IMAPClient, "has_capability", lambda self, cap: cap != "IDLE" and real(self, cap))
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    proxy = tcp_proxy(dovecot.host, dovecot.port)
    store = MemoryStore()
    settings = settings_for(dovecot, user, port=proxy.port, poll_interval=0.3)
    stop, reports, thread = _watch_in_thread(settings, store, backoff_initial=0.2)
    try:
        _wait(lambda: len(store.mails) == 1, 5)
        proxy.cut()
        dovecot.append(user, sample_mail(2))
        _wait(lambda: len(store.mails) == 2, 5)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert any(r.errors for r in reports), "the dropped connection is reported"
    # Polling every 0.3 s for a couple of seconds: a handful of reports, not a busy loop.
    assert len(reports) < 40
    assert len(store.calls) == 2


def test_watch_backs_off_while_the_server_is_unreachable() -> None:
    settings = ImapSettings(host="127.0.0.1", port=free_port(), username="u", password="p", security="none")
    store = MemoryStore()
    stop, reports, thread = _watch_in_thread(settings, store, backoff_initial=0.1, backoff_max=0.4)
    time.sleep(1.2)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    # 0.1 + 0.2 + 0.4 + 0.4 ... about 4-6 attempts in 1.2 s; a busy loop would make thousands.
    assert 2 <= len(reports) <= 8
    assert all("connection refused" in r.errors[0] for r in reports)


# --------------------------------------------------------------------------------- TLS and errors


def test_implicit_tls_with_the_self_signed_ca_works(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    ca_file = str(dovecot.cert.cert)
    settings = settings_for(dovecot, user, port=dovecot.tls_port, security="ssl", ca_file=ca_file)
    assert imap.test_connection(settings) is None
    assert MemoryStore().run(settings).stored == 1


def test_starttls_with_the_self_signed_ca_works(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    settings = settings_for(dovecot, user, security="starttls", ca_file=str(dovecot.cert.cert))
    assert imap.test_connection(settings) is None
    assert MemoryStore().run(settings).stored == 1


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_certificates_are_verified_by_default(dovecot: DovecotServer, security: str) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    port = dovecot.tls_port if security == "ssl" else dovecot.port
    settings = settings_for(dovecot, user, port=port, security=security)  # no ca_file, verify on

    problem = imap.test_connection(settings)
    report = MemoryStore().run(settings)

    assert problem is not None and "certificate" in problem and "could not be verified" in problem
    assert report.stored == 0 and report.errors and "certificate" in report.errors[0]
    assert not any(m.seen for m in dovecot.fetch_all(user))


def test_verify_off_is_an_explicit_choice_that_connects(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    settings = settings_for(dovecot, user, port=dovecot.tls_port, security="ssl", verify_tls=False)
    assert imap.test_connection(settings) is None


def test_connection_test_explains_what_is_wrong(
    dovecot: DovecotServer, tcp_proxy: Callable[..., TcpProxy]
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(1))
    # From 127.0.0.2, so Dovecot's penalty for the failed login does not slow the other tests.
    elsewhere = tcp_proxy(dovecot.host, dovecot.port, source_ip="127.0.0.2")

    wrong_password = imap.test_connection(
        settings_for(dovecot, user, port=elsewhere.port, password="hunter2x")
    )
    missing_folder = imap.test_connection(settings_for(dovecot, user, folder="Nope"))
    nobody_listens = imap.test_connection(settings_for(dovecot, user, port=free_port()))

    assert imap.test_connection(settings_for(dovecot, user)) is None
    assert wrong_password is not None and "refused the login" in wrong_password and user in wrong_password
    assert "hunter2x" not in wrong_password  # the password never shows
    assert missing_folder is not None and "Nope" in missing_folder and "does not exist" in missing_folder
    assert nobody_listens is not None and "connection refused" in nobody_listens


def test_password_never_appears_in_the_settings_repr() -> None:
    settings = ImapSettings(host="imap.example.com", username="u", password="hunter2-secret")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


class MemoryHistory:
    """The history lines a caller keeps (the product: Inbox.imap_history)."""

    def __init__(self) -> None:
        self.lines: dict[tuple[str, int], int] = {}
        self.line = imap.HistoryLine(get=lambda f, v: self.lines.get((f, v)), set=self._set)

    def _set(self, folder: str, uidvalidity: int, uid: int) -> None:
        self.lines[(folder, uidvalidity)] = uid


def _run_with(store: MemoryStore, history: MemoryHistory, settings: ImapSettings) -> FetchReport:
    return imap.fetch_new(settings, cursor=store.cursor, store=store.store, history=history.line)


def test_first_connection_takes_the_unread_mail_and_leaves_the_read_history(dovecot: DovecotServer) -> None:
    """A shop connecting its mailbox of years gets its unanswered mail, not thousands of old cases."""
    user = dovecot.new_user()
    for n in range(4):
        dovecot.append(user, sample_mail(n), flags=("\\Seen",))  # answered long ago
    dovecot.append(user, sample_mail(10))  # unread: waiting for an answer
    dovecot.append(user, sample_mail(11), flags=("\\Seen",))
    dovecot.append(user, sample_mail(12))
    store, history = MemoryStore(), MemoryHistory()

    first = _run_with(store, history, settings_for(dovecot, user))

    assert first.ok, first.errors
    assert [k[2] for k in store.successful_keys()] == [5, 7]
    assert list(history.lines.values()) == [7]  # drawn at the highest UID when connecting
    assert all(m.seen for m in dovecot.fetch_all(user))
    # New mail is new mail, also when someone read it in webmail before Opiekun saw it.
    dovecot.append(user, sample_mail(20), flags=("\\Seen",))
    dovecot.append(user, sample_mail(21))
    # An old mail marked unread again by a person comes in; the rest of the history stays.
    with dovecot.client(user) as client:
        client.select_folder("INBOX")
        client.remove_flags([2], [b"\\Seen"])
    second = _run_with(store, history, settings_for(dovecot, user))
    assert second.ok and [k[2] for k in store.successful_keys()] == [2, 5, 7, 8, 9]
    assert list(history.lines.values()) == [7]  # never redrawn


def test_an_interrupted_first_import_finishes_on_the_next_run(dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(0), flags=("\\Seen",))
    for n in range(1, 4):
        dovecot.append(user, sample_mail(n))
    store, history = MemoryStore(), MemoryHistory()
    store.fail_on_call = 2
    first = _run_with(store, history, settings_for(dovecot, user))
    assert first.store_failed and [k[2] for k in store.successful_keys()] == [2]
    store.fail_on_call = None
    second = _run_with(store, history, settings_for(dovecot, user))
    assert second.ok and [k[2] for k in store.successful_keys()] == [2, 3, 4]  # UID 1 stays history


@pytest.mark.parametrize("overrides", [{"history": "all"}, {"after": "move"}], ids=["all", "move-queue"])
def test_the_whole_folder_when_asked_or_when_it_is_a_queue(dovecot: DovecotServer, overrides: dict) -> None:  # type: ignore[type-arg]
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(0), flags=("\\Seen",))
    dovecot.append(user, sample_mail(1))
    store, history = MemoryStore(), MemoryHistory()
    report = _run_with(store, history, settings_for(dovecot, user, **overrides))
    assert report.ok and report.stored == 2


def test_a_mailbox_fetched_before_the_history_line_existed_keeps_going_from_its_cursor(
    dovecot: DovecotServer,
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, sample_mail(0), flags=("\\Seen",))
    store, history = MemoryStore(), MemoryHistory()
    assert store.run(settings_for(dovecot, user)).stored == 1  # an older version: no line
    dovecot.append(user, sample_mail(1), flags=("\\Seen",))
    report = _run_with(store, history, settings_for(dovecot, user))
    assert report.stored == 1 and list(history.lines.values()) == [0]
