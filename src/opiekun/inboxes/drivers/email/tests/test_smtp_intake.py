"""The SMTP intake against a real aiosmtpd on loopback, spoken to with smtplib like any MTA would."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator

import pytest

from opiekun.inboxes.drivers.email.smtp_intake import IntakeEnvelope, IntakeHandler, start_intake
from opiekun.testing.mailservers import SelfSignedCert, free_port, sample_mail

INBOXES = {"support@sklep.pl": 1, "pomoc@sklep.pl": 1, "zwroty@sklep.pl": 2}


class Recorder:
    def __init__(self) -> None:
        self.stored: list[tuple[int, bytes, IntakeEnvelope]] = []
        self.fail = False
        self.threads: set[str] = set()

    def resolve(self, address: str) -> int | None:
        return INBOXES.get(address.lower())

    def store(self, inbox_id: int, raw: bytes, envelope: IntakeEnvelope) -> None:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise OSError("database is locked (simulated)")
        self.stored.append((inbox_id, raw, envelope))


@pytest.fixture
def intake() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = start_intake(
        "127.0.0.1", port, IntakeHandler(recorder.resolve, recorder.store, max_size=100_000)
    )
    try:
        yield recorder, port
    finally:
        controller.stop()


def _client(port: int) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", port, timeout=5)


def test_accepts_and_stores_the_exact_bytes(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    raw = sample_mail(1, body="Line one\r\n.leading dot survives\r\nŻółw")
    with _client(port) as client:
        refused = client.sendmail("klient@example.com", ["Support@sklep.pl"], raw)
    assert refused == {}
    [(inbox_id, stored, envelope)] = recorder.stored
    assert inbox_id == 1
    assert stored == raw  # dot-unstuffed, nothing added (no Received header)
    assert envelope.mail_from == "klient@example.com"
    assert envelope.rcpt_tos == ("Support@sklep.pl",)
    assert envelope.peer == "127.0.0.1"
    # The synchronous store ran in the executor's worker threads, off the event loop.
    assert recorder.threads and all(t.startswith("asyncio_") for t in recorder.threads)


def test_unknown_recipient_is_rejected_at_rcpt_with_550(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    with _client(port) as client:
        client.ehlo()
        client.mail("klient@example.com")
        code, reply = client.rcpt("nobody@sklep.pl")
        assert (code, reply[:5]) == (550, b"5.1.1")
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("klient@example.com", ["nobody@sklep.pl"], sample_mail(1))
    assert recorder.stored == []


def test_unknown_recipient_among_known_ones_only_loses_itself(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    with _client(port) as client:
        refused = client.sendmail("k@example.com", ["nobody@sklep.pl", "support@sklep.pl"], sample_mail(1))
    assert list(refused) == ["nobody@sklep.pl"] and refused["nobody@sklep.pl"][0] == 550
    assert [s[0] for s in recorder.stored] == [1]


def test_too_big_is_rejected_with_552(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    with _client(port) as client:
        # No SIZE= on MAIL FROM (a sender that does not declare it): the limit bites while reading DATA.
        client.ehlo()
        client.mail("k@example.com")
        client.rcpt("support@sklep.pl")
        code, reply = client.data(sample_mail(1, size=200_000))
    assert (code, reply[:5]) == (552, b"5.3.4")
    assert recorder.stored == []


def test_declared_size_over_the_limit_is_refused_at_mail_from(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    with _client(port) as client:
        client.ehlo()
        assert int(client.esmtp_features["size"]) == 100_000  # advertised, so MTAs can check first
        code, reply = client.mail("k@example.com", options=["SIZE=200000"])
    assert (code, reply[:5]) == (552, b"5.3.4")
    assert recorder.stored == []


def test_store_failure_answers_451_so_the_sender_retries(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    recorder.fail = True
    with _client(port) as client, pytest.raises(smtplib.SMTPDataError) as exc:
        client.sendmail("k@example.com", ["support@sklep.pl"], sample_mail(1))
    assert exc.value.smtp_code == 451 and exc.value.smtp_error.startswith(b"4.3.0")
    recorder.fail = False
    with _client(port) as client:  # the retry of a real MTA
        client.sendmail("k@example.com", ["support@sklep.pl"], sample_mail(1))
    assert len(recorder.stored) == 1


def test_one_message_for_two_inboxes_is_stored_once_per_inbox(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    raw = sample_mail(7)
    with _client(port) as client:
        client.sendmail("k@example.com", ["support@sklep.pl", "zwroty@sklep.pl", "pomoc@sklep.pl"], raw)
    by_inbox = {inbox_id: envelope.rcpt_tos for inbox_id, _raw, envelope in recorder.stored}
    assert by_inbox == {1: ("support@sklep.pl", "pomoc@sklep.pl"), 2: ("zwroty@sklep.pl",)}
    assert all(stored == raw for _i, stored, _e in recorder.stored)


def test_two_transactions_on_one_connection_do_not_mix_recipients(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    with _client(port) as client:
        client.sendmail("k@example.com", ["zwroty@sklep.pl"], sample_mail(1))
        client.sendmail("k@example.com", ["support@sklep.pl"], sample_mail(2))
    assert [(i, e.rcpt_tos) for i, _r, e in recorder.stored] == [
        (2, ("zwroty@sklep.pl",)),
        (1, ("support@sklep.pl",)),
    ]


def test_international_sender_address_is_accepted_with_smtputf8(intake: tuple[Recorder, int]) -> None:
    recorder, port = intake
    with _client(port) as client:
        client.ehlo()
        assert client.has_extn("smtputf8")
        client.sendmail("łukasz@przykład.pl", ["support@sklep.pl"], sample_mail(1), mail_options=["SMTPUTF8"])
    assert recorder.stored[0][2].mail_from == "łukasz@przykład.pl"


def test_resolve_failing_is_a_temporary_rcpt_error() -> None:
    def broken(address: str) -> int | None:
        raise RuntimeError("database is down (simulated)")

    stored: list[int] = []
    port = free_port()
    controller = start_intake("127.0.0.1", port, IntakeHandler(broken, lambda i, r, e: stored.append(i)))
    try:
        with _client(port) as client:
            client.ehlo()
            client.mail("k@example.com")
            code, reply = client.rcpt("support@sklep.pl")
    finally:
        controller.stop()
    assert (code, reply[:5]) == (451, b"4.3.0")
    assert stored == []


def test_starttls_is_offered_with_a_tls_context(tls_cert: SelfSignedCert) -> None:
    recorder = Recorder()
    port = free_port()
    controller = start_intake(
        "127.0.0.1",
        port,
        IntakeHandler(recorder.resolve, recorder.store),
        tls_context=tls_cert.server_context(),
        require_starttls=True,
    )
    try:
        with _client(port) as client:
            client.starttls(context=tls_cert.client_context())
            client.sendmail("k@example.com", ["support@sklep.pl"], sample_mail(1))
        with _client(port) as client, pytest.raises(smtplib.SMTPException):
            client.sendmail("k@example.com", ["support@sklep.pl"], sample_mail(2))  # no STARTTLS: refused
    finally:
        controller.stop()
    assert len(recorder.stored) == 1
