"""SMTP sending against real aiosmtpd servers on loopback, and the full reply round trip into Dovecot."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from opiekun.inboxes.base import OutboundMessage
from opiekun.inboxes.drivers.email import imap, smtp_send
from opiekun.inboxes.drivers.email.compose import compose
from opiekun.inboxes.drivers.email.smtp_send import SmtpSettings
from opiekun.testing.mailservers import (
    DovecotServer,
    SelfSignedCert,
    SmtpSink,
    free_port,
    run_smtp_sink,
    run_smtp_to_imap_relay,
)

REPLY = OutboundMessage(
    message_id=7,
    conversation_number=1234,
    subject="Gdzie jest moja paczka?",
    text="Dzień dobry,\npaczka wyjechała dziś.",
    to_name="Kasia",
    to_email="kasia@example.com",
    from_name="Anna Nowak",
    from_email="anna@sklep.pl",
    signature="Anna",
)


def _mail(to_email: str = "kasia@example.com") -> EmailMessage:
    from dataclasses import replace

    return compose(
        replace(REPLY, to_email=to_email),
        message_id="reply-7@sklep.pl",
        in_reply_to="cust-1@example.com",
        references=["cust-1@example.com"],
        reply_to="support+abc@sklep.pl",
        domain="sklep.pl",
    )


def _send(settings: SmtpSettings, to: str = "kasia@example.com") -> smtp_send.DeliveryResult:
    return smtp_send.send(settings, _mail(to), envelope_from="anna@sklep.pl", recipients=[to])


def _plain(sink: SmtpSink, **kwargs: object) -> SmtpSettings:
    return SmtpSettings.model_validate(
        {"host": sink.host, "port": sink.port, "security": "none", "timeout": 5} | kwargs
    )


def test_plain_send_delivers_and_returns_the_message_id(smtp_sink: SmtpSink) -> None:
    result = _send(_plain(smtp_sink))
    assert result.ok and result.provider_id == "reply-7@sklep.pl" and not result.error
    [got] = smtp_sink.messages
    assert got.mail_from == "anna@sklep.pl" and got.rcpt_tos == ("kasia@example.com",)
    assert got.message()["Message-ID"] == "<reply-7@sklep.pl>"


def test_450_at_rcpt_is_a_retry(smtp_sink: SmtpSink) -> None:
    smtp_sink.replies["kasia@example.com"] = "450 4.2.1 Mailbox busy, try later"
    result = _send(_plain(smtp_sink))
    assert not result.ok and result.transient
    assert "450 4.2.1 Mailbox busy" in result.error
    assert smtp_sink.messages == []


def test_550_at_rcpt_is_a_failure_with_the_servers_words(smtp_sink: SmtpSink) -> None:
    smtp_sink.replies["kasia@example.com"] = "550 5.1.1 User unknown"
    result = _send(_plain(smtp_sink))
    assert not result.ok and not result.transient
    assert result.error == "The mail server refused the recipient: 550 5.1.1 User unknown"


@pytest.mark.parametrize(
    ("reply", "transient"), [("451 4.3.0 Queue full", True), ("554 5.7.1 Rejected as spam", False)]
)
def test_data_replies_are_classified_by_code(smtp_sink: SmtpSink, reply: str, transient: bool) -> None:
    smtp_sink.data_reply = reply
    result = _send(_plain(smtp_sink))
    assert not result.ok and result.transient is transient and reply in result.error


def test_server_down_is_a_retry() -> None:
    result = _send(SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2))
    assert not result.ok and result.transient and "connection refused" in result.error


def _bad_server(behaviour: str) -> Iterator[int]:
    """A TCP server that accepts, then closes at once ("drop") or never says a word ("mute")."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if behaviour == "drop":
                conn.close()
            else:
                held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize("behaviour", ["drop", "mute"])
def test_dropped_or_silent_server_is_a_retry(behaviour: str) -> None:
    for port in _bad_server(behaviour):
        result = _send(SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=0.5))
        assert not result.ok and result.transient, result


def test_starttls_with_the_ca_file_works(tls_cert: SelfSignedCert) -> None:
    with run_smtp_sink(tls_context=tls_cert.server_context(), require_starttls=True) as sink:
        result = _send(_plain(sink, security="starttls", ca_file=str(tls_cert.cert)))
        assert result.ok, result.error
        assert len(sink.messages) == 1


def test_implicit_tls_with_the_ca_file_works(tls_cert: SelfSignedCert) -> None:
    with run_smtp_sink(ssl_context=tls_cert.server_context()) as sink:
        result = _send(_plain(sink, security="ssl", ca_file=str(tls_cert.cert)))
        assert result.ok, result.error


@pytest.mark.parametrize("trust", ["system", "other"])
def test_an_unverifiable_certificate_fails_and_nothing_is_sent(
    tls_cert: SelfSignedCert, other_tls_cert: SelfSignedCert, trust: str
) -> None:
    ca_file = None if trust == "system" else str(other_tls_cert.cert)
    with run_smtp_sink(tls_context=tls_cert.server_context(), require_starttls=True) as sink:
        result = _send(_plain(sink, security="starttls", ca_file=ca_file))
        assert not result.ok and not result.transient
        assert "certificate" in result.error and "could not be verified" in result.error
        assert sink.messages == []


def test_starttls_required_but_not_offered_fails_without_sending(smtp_sink: SmtpSink) -> None:
    result = _send(_plain(smtp_sink, security="starttls", username="anna", password="s3cr3t-pass"))
    assert not result.ok and not result.transient and "STARTTLS" in result.error
    assert smtp_sink.messages == []
    assert "s3cr3t" not in result.error


def _authenticator(
    server: object, session: object, envelope: object, mechanism: str, auth_data: object
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"anna",
        b"good-pass",
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.mark.parametrize(("password", "ok"), [("good-pass", True), ("bad-pass-123", False)])
def test_login_over_starttls(tls_cert: SelfSignedCert, password: str, ok: bool) -> None:
    with run_smtp_sink(
        tls_context=tls_cert.server_context(),
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    ) as sink:
        settings = _plain(
            sink, security="starttls", ca_file=str(tls_cert.cert), username="anna", password=password
        )
        result = _send(settings)
        assert result.ok is ok
        assert len(sink.messages) == (1 if ok else 0)
        if not ok:
            assert not result.transient and "refused the login" in result.error
            assert password not in result.error and password not in repr(settings)
            assert smtp_send.test_connection(settings) == result.error
        else:
            assert smtp_send.test_connection(settings) is None


def test_reply_round_trip_through_smtp_into_dovecot_keeps_threading(dovecot: DovecotServer) -> None:
    """Compose → SMTP relay → Dovecot mailbox → IMAP fetch: the customer's client sees every header."""
    user = dovecot.new_user("kasia")
    with run_smtp_to_imap_relay(dovecot) as (host, port):
        result = _send(
            SmtpSettings(host=host, port=port, security="none", timeout=5), to=f"{user}@example.com"
        )
    assert result.ok, result.error

    fetched: list[imap.FetchedMail] = []
    report = imap.fetch_new(
        imap.ImapSettings(
            host=dovecot.host, port=dovecot.port, username=user, password=dovecot.password, security="none"
        ),
        cursor=lambda mailbox, uidvalidity: 0,
        store=fetched.append,
    )
    assert report.ok and len(fetched) == 1
    from email import message_from_bytes, policy

    mail = message_from_bytes(fetched[0].raw, policy=policy.default)
    assert mail["Message-ID"] == "<reply-7@sklep.pl>"
    assert mail["In-Reply-To"] == "<cust-1@example.com>"
    assert mail["References"] == "<cust-1@example.com>"
    assert mail["Subject"] == "Re: Gdzie jest moja paczka? [#1234]"
    assert mail["Reply-To"].addresses[0].addr_spec == "support+abc@sklep.pl"
    assert mail["From"].addresses[0].addr_spec == "anna@sklep.pl"
    body = mail.get_body(("plain",)).get_content()
    assert "paczka wyjechała dziś" in body and "\n-- \nAnna" in body.replace("\r\n", "\n")


def test_partly_refused_recipients_is_sent_with_the_refusal_reported(smtp_sink: SmtpSink) -> None:
    smtp_sink.replies["gone@example.com"] = "550 5.1.1 User unknown"
    result = smtp_send.send(
        _plain(smtp_sink),
        _mail(),
        envelope_from="anna@sklep.pl",
        recipients=["kasia@example.com", "gone@example.com"],
    )
    assert result.ok and result.provider_id == "reply-7@sklep.pl"
    assert "gone@example.com: 550 5.1.1 User unknown" in result.error
    assert [m.rcpt_tos for m in smtp_sink.messages] == [("kasia@example.com",)]
