"""E-mail end to end against real servers on loopback (opiekun.testing.mailservers): Dovecot for IMAP,
aiosmtpd for the SMTP intake, the outgoing relay (SMTP → Dovecot) and a sink that answers like an MTA.

Mail is APPENDed into a Dovecot mailbox, fetched by `fetching.fetch_inbox` into cases; a connection
cut in the middle of a fetch loses and doubles nothing; the intake answers 250/550; an agent's reply
goes out over SMTP and is read back from the customer's mailbox with its threading headers, and the
customer's answer to it joins the same case.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from opiekun.conversations.models import Conversation, Message
from opiekun.conversations.services import message_send
from opiekun.inboxes import fetching, mailthreads, pipeline
from opiekun.inboxes import intake as intake_module
from opiekun.inboxes.drivers.email import imap
from opiekun.inboxes.intake import start_intake_server
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.inboxes.services import inbox_create
from opiekun.testing import factories
from opiekun.testing.mailservers import (
    DovecotServer,
    SmtpSink,
    TcpProxy,
    free_port,
    run_smtp_to_imap_relay,
    sample_mail,
)

FIXTURES = Path(__file__).parent / "fixtures"
SUPPORT = "support@sklep.test"


def mail_inbox(
    shop: Any, *, user: str, dovecot: DovecotServer, port: int | None = None, **config: Any
) -> Inbox:
    """An e-mail inbox pulling `user`'s Dovecot INBOX over plain IMAP on loopback (password as a secret)."""
    return inbox_create(
        shop=shop,
        kind="email",
        name=f"Support {user}",
        config={
            "address": SUPPORT,
            "imap_host": dovecot.host,
            "imap_port": port or dovecot.port,
            "imap_security": "none",
            "imap_username": user,
            "send_acknowledgment": False,
            **config,
        },
        secrets={"imap_password": dovecot.password},
    )


def customer_mail(sender: str, subject: str, text: str, **headers: str) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = f"Klient <{sender}>"
    msg["To"] = headers.pop("to", SUPPORT)
    msg["Subject"] = subject
    message_id = make_msgid(domain="klient.example")
    msg["Message-ID"] = message_id
    msg["Date"] = "Wed, 04 Jun 2025 09:00:00 +0200"
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(text)
    return msg.as_bytes(), message_id.strip("<>")


# --- IMAP --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_fetch_turns_mailbox_mail_into_cases_with_text_and_attachments(dovecot: DovecotServer, shop) -> None:  # type: ignore[no-untyped-def]
    user = dovecot.new_user("support")
    for name in ("new_case_pl.eml", "photo_en.eml", "reply_pl.eml"):
        dovecot.append(user, (FIXTURES / name).read_bytes())
    inbox = mail_inbox(shop, user=user, dovecot=dovecot)
    assert "imap_password" not in inbox.config and inbox.secrets == {"imap_password": dovecot.password}

    report = fetching.fetch_inbox(inbox)

    assert report.ok, report.errors
    assert (report.fetched, report.stored) == (3, 3)
    cases = {c.subject: c for c in Conversation.objects.filter(shop=shop)}
    assert set(cases) == {"Zamówienie 1234 nie dotarło", "Broken mug, photo attached"}
    order = cases["Zamówienie 1234 nie dotarło"]
    texts = list(order.messages.order_by("created_at", "id").values_list("text", flat=True))
    assert texts[0].startswith("Dzień dobry,\n\nmoje zamówienie nr 1234")
    assert texts[1] == "Paczka właśnie przyszła, dziękuję za pomoc!"  # the reply joined, quote folded
    assert [a.filename for a in order.messages.first().attachments.all()] == ["faktura-1234.pdf"]
    mug = cases["Broken mug, photo attached"].messages.get()
    assert [(a.filename, a.mime_type) for a in mug.attachments.all()] == [("mug.png", "image/png")]
    assert (order.contact.name, mug.conversation.contact.name) == ("Jan Kowalski", "Alice Smith")
    rows = RawMail.objects.filter(inbox=inbox).order_by("uid")
    assert [(r.source, r.mailbox, r.uid, r.state) for r in rows] == [
        ("imap", "INBOX", uid, RawMail.State.PROCESSED) for uid in (1, 2, 3)
    ]
    assert all(m.seen for m in dovecot.fetch_all(user))
    inbox.refresh_from_db()
    assert inbox.last_fetch_at is not None and inbox.last_error == ""

    again = fetching.fetch_inbox(inbox)
    assert again.ok and again.fetched == 0
    assert Message.objects.filter(inbox=inbox).count() == 3


@pytest.mark.django_db
def test_connecting_a_mailbox_with_history_opens_cases_only_for_its_unread_mail(  # type: ignore[no-untyped-def]
    dovecot: DovecotServer, shop
) -> None:
    user = dovecot.new_user("support")
    for n in range(5):
        raw, _ = customer_mail(f"stary{n}@klient.example", f"Stara sprawa {n}", "Dawno załatwione.")
        dovecot.append(user, raw, flags=("\\Seen",))
    raw, _ = customer_mail("czeka@klient.example", "Nadal czekam", "Proszę o odpowiedź.")
    dovecot.append(user, raw)
    inbox = mail_inbox(shop, user=user, dovecot=dovecot)

    assert fetching.fetch_inbox(inbox).ok
    assert list(Conversation.objects.filter(shop=shop).values_list("subject", flat=True)) == ["Nadal czekam"]
    inbox.refresh_from_db()
    assert list(inbox.imap_history.values()) == [6]  # kept with the inbox: the next run does not redraw it
    raw, _ = customer_mail("nowy@klient.example", "Nowe pytanie", "Czy jest rozmiar M?")
    dovecot.append(user, raw, flags=("\\Seen",))  # read in webmail first: still new mail
    assert fetching.fetch_inbox(inbox).stored == 1
    assert Conversation.objects.filter(shop=shop).count() == 2
    # The shop that wants the whole history says so; another mailbox over the same folder takes it all.
    everything = inbox_create(
        shop=shop,
        kind="email",
        name="Archiwum",
        config={**inbox.config, "address": "archiwum@sklep.test", "imap_history": "all"},
        secrets={"imap_password": dovecot.password},
    )
    assert fetching.fetch_inbox(everything).stored == 7


@pytest.mark.django_db
def test_connection_cut_mid_fetch_loses_nothing_and_doubles_nothing(
    dovecot: DovecotServer,
    tcp_proxy: Callable[..., TcpProxy],
    monkeypatch: pytest.MonkeyPatch,
    shop,  # type: ignore[no-untyped-def]
) -> None:
    user = dovecot.new_user("support")
    raws = [
        sample_mail(n, subject=f"Paczka {n}", sender=f"klient{n}@example.org", size=30_000) for n in range(6)
    ]
    for raw in raws:
        dovecot.append(user, raw)
    monkeypatch.setattr(imap, "BODY_BATCH_COUNT", 2)
    proxy = tcp_proxy(dovecot.host, dovecot.port)
    inbox = mail_inbox(shop, user=user, dovecot=dovecot, port=proxy.port)

    # \Seen only after the mail is stored: at each store the server still has it unseen.
    seen_when_stored: list[bool] = []
    original_receive = fetching.mail_receive

    def receive(**kwargs: Any) -> int:
        seen_when_stored.append(next(m.seen for m in dovecot.fetch_all(user) if m.uid == kwargs["uid"]))
        return original_receive(**kwargs)

    monkeypatch.setattr(fetching, "mail_receive", receive)
    proxy.cut_after(105_000)  # ~3.5 mails' worth of server bytes: a FETCH of bodies is cut off half-way

    first = fetching.fetch_inbox(inbox)

    assert first.errors and proxy.cuts >= 1
    stored_after_cut = set(RawMail.objects.filter(inbox=inbox).values_list("uid", flat=True))
    assert 0 < len(stored_after_cut) < 6
    # Whatever the server shows as seen was stored before (never seen-but-lost).
    assert {m.uid for m in dovecot.fetch_all(user) if m.seen} <= stored_after_cut
    inbox.refresh_from_db()
    assert inbox.last_error  # the health line shows the cut

    proxy.cut_after(None)
    second = fetching.fetch_inbox(inbox)

    assert second.ok, second.errors
    rows = list(RawMail.objects.filter(inbox=inbox).values_list("uid", "state"))
    assert sorted(uid for uid, _state in rows) == [1, 2, 3, 4, 5, 6]  # every UID exactly once
    assert {state for _uid, state in rows} == {RawMail.State.PROCESSED}
    assert Message.objects.filter(inbox=inbox).count() == 6
    assert Conversation.objects.filter(shop=shop).count() == 6
    assert all(m.seen for m in dovecot.fetch_all(user))
    assert seen_when_stored and not any(seen_when_stored)


# --- SMTP intake ---------------------------------------------------------------------------------------


@pytest.fixture
def intake(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    # The intake's thread keeps its database connection for CONN_MAX_AGE; here it closes it after each
    # use, so PostgreSQL can drop the test database at the end of the session.
    monkeypatch.setattr(intake_module, "close_old_connections", connections.close_all)
    port = free_port()
    controller = start_intake_server(host="127.0.0.1", port=port)
    try:
        yield ("127.0.0.1", port)
    finally:
        controller.stop()


@pytest.mark.django_db(transaction=True)
def test_smtp_intake_accepts_mail_for_an_inbox_and_refuses_unknown_recipients(
    intake: tuple[str, int],
) -> None:
    shop = factories.ShopFactory(slug="intake")
    inbox = factories.InboxFactory(
        shop=shop, kind="email", name="Forwarded", config={"address": SUPPORT, "send_acknowledgment": False}
    )
    raw = (FIXTURES / "photo_en.eml").read_bytes()
    with smtplib.SMTP(*intake, timeout=10) as client:
        assert client.sendmail("alice@example.com", ["support+whatever@sklep.test"], raw) == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("alice@example.com", ["nobody@sklep.test"], raw)
    (code, _text) = refused.value.recipients["nobody@sklep.test"]
    assert code == 550
    row = RawMail.objects.get(inbox=inbox)
    assert (row.source, row.state, row.outcome) == ("smtp", RawMail.State.PROCESSED, pipeline.CREATED)
    case = Conversation.objects.get(shop=shop)
    assert case.subject == "Broken mug, photo attached" and row.conversation_id == case.pk
    assert RawMail.objects.count() == 1  # the refused one was never accepted


# --- outbound -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relay(dovecot: DovecotServer) -> Iterator[tuple[str, int]]:
    """SMTP on loopback delivering into Dovecot: mail to `<user>@anything` lands in `<user>`'s INBOX."""
    with run_smtp_to_imap_relay(dovecot) as address:
        yield address


def _send(conversation: Conversation, agent: Any, text: str, capture: Any) -> Message:
    with capture(execute=True):  # delivery subscribes after commit; huey runs the task inline
        message = message_send(conversation=conversation, agent=agent, text=text, channel="email")
    message.refresh_from_db()
    return message


@pytest.mark.django_db
def test_agent_reply_is_delivered_threaded_and_the_customers_answer_joins_the_case(
    dovecot: DovecotServer,
    relay: tuple[str, int],
    shop,
    agent,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    support, customer = dovecot.new_user("support"), dovecot.new_user("klient")
    customer_address = f"{customer}@klient.example"
    inbox = mail_inbox(
        shop,
        user=support,
        dovecot=dovecot,
        smtp_host=relay[0],
        smtp_port=relay[1],
        smtp_security="none",
    )
    first, first_id = customer_mail(customer_address, "Reklamacja butów", "Buty rozkleiły się po tygodniu.")
    dovecot.append(support, first)
    assert fetching.fetch_inbox(inbox).ok
    case = Conversation.objects.get(shop=shop)

    reply = _send(
        case,
        agent,
        "Przepraszamy! Proszę odesłać buty, wymienimy je na nowe.",
        django_capture_on_commit_callbacks,
    )

    assert reply.delivery_status == Message.Delivery.SENT, reply.delivery_error
    (delivered,) = dovecot.fetch_all(customer)
    sent = delivered.message()
    assert sent["Message-ID"] == f"<{reply.rfc_message_id}>" and reply.rfc_message_id
    assert sent["In-Reply-To"] == f"<{first_id}>"
    assert f"<{first_id}>" in sent["References"].split()
    assert f"[#{case.number}]" in sent["Subject"] and "Reklamacja butów" in sent["Subject"]
    token_address = mailthreads.reply_address(SUPPORT, shop_id=shop.pk, number=case.number)
    assert sent["Reply-To"].addresses[0].addr_spec == token_address
    assert sent["To"].addresses[0].addr_spec == customer_address
    assert "Proszę odesłać buty" in sent.get_body(("plain",)).get_content()

    # The customer answers from their mail client (no case number typed, only the threading headers).
    answer, _answer_id = customer_mail(
        customer_address,
        "Re: odpowiedź",
        "Dobrze, odeślę jutro.\n\n> Przepraszamy! Proszę odesłać buty",
        to=token_address,
        In_Reply_To=f"<{reply.rfc_message_id}>",
        References=f"<{first_id}> <{reply.rfc_message_id}>",
    )
    dovecot.append(support, answer)
    assert fetching.fetch_inbox(inbox).ok

    assert Conversation.objects.filter(shop=shop).count() == 1
    last = case.messages.order_by("-created_at", "-id").first()
    assert (last.direction, last.text) == (Message.Direction.INBOUND, "Dobrze, odeślę jutro.")
    assert RawMail.objects.filter(inbox=inbox, outcome=pipeline.APPENDED).count() == 1


def _sink_inbox(shop: Any, sink: SmtpSink) -> Inbox:
    return factories.InboxFactory(
        shop=shop,
        kind="email",
        name="Sink",
        config={
            "address": SUPPORT,
            "smtp_host": sink.host,
            "smtp_port": sink.port,
            "smtp_security": "none",
            "send_acknowledgment": False,
        },
    )


def _case_for(inbox: Inbox, email: str) -> Conversation:
    contact = factories.ContactFactory(shop=inbox.shop, email=email)
    return factories.ConversationFactory(shop=inbox.shop, contact=contact, inbox=inbox, subject="Zwrot")


@pytest.mark.django_db
def test_permanent_smtp_refusal_marks_the_reply_failed_with_the_servers_reason(
    smtp_sink: SmtpSink,
    shop,
    agent,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    case = _case_for(_sink_inbox(shop, smtp_sink), "zly.adres@klient.example")
    smtp_sink.replies["zly.adres@klient.example"] = "550 5.1.1 User unknown"

    reply = _send(case, agent, "Dzień dobry, zwrot przyjęty.", django_capture_on_commit_callbacks)

    assert reply.delivery_status == Message.Delivery.FAILED
    assert "550" in reply.delivery_error and "User unknown" in reply.delivery_error
    assert reply.delivery_attempts == 1
    assert smtp_sink.messages == []
    assert case.events.filter(kind="delivery_failed").exists()


@pytest.mark.django_db
def test_temporary_smtp_refusal_keeps_the_reply_queued_for_a_retry_with_backoff(
    smtp_sink: SmtpSink,
    shop,
    agent,
    django_capture_on_commit_callbacks,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from opiekun.inboxes import delivery, tasks

    scheduled: list[tuple[tuple[Any, ...], int]] = []
    # Huey's immediate mode keeps delayed tasks in its in-memory schedule: record what was scheduled.
    monkeypatch.setattr(
        tasks.deliver_message, "schedule", lambda args, delay: scheduled.append((args, delay))
    )
    case = _case_for(_sink_inbox(shop, smtp_sink), "zajety@klient.example")
    smtp_sink.replies["zajety@klient.example"] = "450 4.2.1 Mailbox busy, try later"

    reply = _send(case, agent, "Dzień dobry, paczka wyszła.", django_capture_on_commit_callbacks)

    assert reply.delivery_status == Message.Delivery.QUEUED
    assert "450" in reply.delivery_error and reply.delivery_attempts == 1
    assert scheduled == [((reply.pk,), delivery.retry_delay(1))]

    # The retry runs once the server is fine again: sent, threaded, the error cleared.
    smtp_sink.replies.clear()
    tasks.deliver_message.call_local(reply.pk)
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.delivery_error, reply.delivery_attempts) == (
        Message.Delivery.SENT,
        "",
        2,
    )
    received = smtp_sink.wait_for(lambda m: "zajety@klient.example" in m.rcpt_tos)
    assert received.message()["Message-ID"] == f"<{reply.rfc_message_id}>"

    # Still refused after MAX_ATTEMPTS: the agent sees it failed, the scheduling stops.
    second = _send(case, agent, "Jeszcze raz.", django_capture_on_commit_callbacks)
    smtp_sink.replies["zajety@klient.example"] = "450 4.2.1 Mailbox busy, try later"
    Message.objects.filter(pk=second.pk).update(
        delivery_status=Message.Delivery.QUEUED, delivery_attempts=delivery.MAX_ATTEMPTS - 1
    )
    scheduled.clear()
    tasks.deliver_message.call_local(second.pk)
    second.refresh_from_db()
    assert second.delivery_status == Message.Delivery.FAILED
    assert second.delivery_error.startswith(f"Gave up after {delivery.MAX_ATTEMPTS} attempts")
    assert scheduled == []
