"""Outbound delivery (inboxes/delivery.py + inboxes/tasks.py) against a real SMTP server on loopback.

aiosmtpd runs in this process on a free port; Django's SMTP backend talks real SMTP to it. The server
can be told to refuse a recipient (550), defer (451) or reject the message (554), so every branch of
the retry policy is driven by a real protocol answer, not by a mocked exception.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from huey.contrib.djhuey import HUEY

from opiekun.contacts.portal import portal_token
from opiekun.conversations.models import Message
from opiekun.conversations.services import message_resend, message_send, note_add
from opiekun.core.logging import RedactSecretsFilter
from opiekun.inboxes import delivery
from opiekun.inboxes.registry import drivers
from opiekun.testing import factories

PUBLIC_URL = "http://opiekun.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SmtpSink:
    """The aiosmtpd handler: stores what it accepts; `refuse`, `data_reply` steer its answers."""

    mails: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    data_reply: str = "250 OK"  # answer to DATA, e.g. "451 4.3.0 try again later"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if not self.data_reply.startswith("250"):
            return self.data_reply
        msg = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self.lock:
            self.mails.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def smtp(settings) -> Iterator[SmtpSink]:  # type: ignore[no-untyped-def]
    sink = SmtpSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.OPIEKUN_PUBLIC_URL = PUBLIC_URL
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def case(shop, inbox):  # type: ignore[no-untyped-def]
    """A web-form case of Jan, with Anna (own sender address and signature) and Piotr (neither)."""
    anna = factories.AgentFactory(
        shop=shop,
        display_name="Anna Nowak",
        user__username="anna",
        sender_email="anna@demo-shop.example",
        signature="Anna Nowak\nDemo Shop",
    )
    piotr = factories.AgentFactory(shop=shop, display_name="Piotr Wiśniewski", user__username="piotr")
    contact = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.org")
    conversation = factories.ConversationFactory(
        shop=shop, contact=contact, inbox=inbox, subject="Gdzie paczka?"
    )
    factories.MessageFactory(conversation=conversation, text="Gdzie jest moja paczka SD-1?")
    return {"anna": anna, "piotr": piotr, "contact": contact, "conversation": conversation}


@pytest.fixture
def clean_schedule() -> Iterator[None]:
    HUEY.flush()
    yield
    HUEY.flush()


def _reply(case, capture, agent="anna", text="Paczka jest już w drodze."):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        message = message_send(conversation=case["conversation"], agent=case[agent], text=text)
    message.refresh_from_db()
    return message


def _scheduled_for(message_id: int) -> list:  # type: ignore[type-arg]
    return [t for t in HUEY.scheduled() if t.name.endswith("deliver_message") and t.args == (message_id,)]


@pytest.mark.django_db
def test_reply_is_sent_over_smtp_from_the_agents_address(case, smtp, django_capture_on_commit_callbacks):
    message = _reply(case, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.Delivery.SENT
    assert message.delivery_attempts == 1 and message.sent_at is not None and message.delivery_error == ""
    assert message.provider_id, "the provider id (the mail's Message-ID) is kept for bounces and threading"
    [mail] = smtp.mails
    assert mail["Message-ID"] == message.provider_id
    assert mail["From"].addresses[0].addr_spec == "anna@demo-shop.example"
    assert mail["From"].addresses[0].display_name == "Anna Nowak \N{EN DASH} Demo Shop"
    assert mail["To"].addresses[0].addr_spec == "jan@example.org"
    assert smtp.envelopes == [("anna@demo-shop.example", ["jan@example.org"])]
    number = case["conversation"].number
    assert mail["Subject"] == f"[#{number}] Gdzie paczka?"
    body = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Paczka jest już w drodze." in body
    assert "-- \nAnna Nowak\nDemo Shop" in body
    assert f"{PUBLIC_URL}/portal/t/" in body and f"?next={number}" in body


@pytest.mark.django_db
def test_agent_without_sender_address_replies_from_the_shops(case, smtp, django_capture_on_commit_callbacks):
    message = _reply(case, django_capture_on_commit_callbacks, agent="piotr")

    assert message.delivery_status == Message.Delivery.SENT
    [mail] = smtp.mails
    assert mail["From"].addresses[0].addr_spec == case["conversation"].shop.sender_email
    assert "Anna" not in mail.get_body(("plain",)).get_content()


@pytest.mark.django_db
def test_temporary_smtp_failure_is_retried_with_backoff(
    case, smtp, django_capture_on_commit_callbacks, clean_schedule
):
    smtp.data_reply = "451 4.3.0 Mailbox busy, try again later"
    message = _reply(case, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.Delivery.QUEUED  # still on its way
    assert message.delivery_attempts == 1
    assert "451" in message.delivery_error
    assert smtp.mails == []
    [retry] = _scheduled_for(message.pk)
    expected = delivery.retry_delay(1)
    assert retry.eta is not None
    wait = (retry.eta - HUEY._get_timestamp()).total_seconds()
    assert expected - 5 < wait <= expected

    # The server recovers; the next attempt goes through and the message is sent.
    smtp.data_reply = "250 OK"
    delivery.deliver(message.pk)
    message.refresh_from_db()
    assert (message.delivery_status, message.delivery_attempts, message.delivery_error) == ("sent", 2, "")
    assert len(smtp.mails) == 1


@pytest.mark.django_db
def test_backoff_doubles_and_gives_up_after_max_attempts(
    case, smtp, django_capture_on_commit_callbacks, clean_schedule
):
    assert [delivery.retry_delay(n) for n in (1, 2, 3)] == [30, 60, 120]
    smtp.data_reply = "421 4.7.0 Too many connections"
    message = _reply(case, django_capture_on_commit_callbacks)
    for _ in range(delivery.MAX_ATTEMPTS - 1):
        delivery.deliver(message.pk)
    message.refresh_from_db()

    assert message.delivery_status == Message.Delivery.FAILED
    assert message.delivery_attempts == delivery.MAX_ATTEMPTS
    assert message.delivery_error.startswith(f"Gave up after {delivery.MAX_ATTEMPTS} attempts")
    assert delivery.deliver(message.pk) is None  # a failed message is never sent again by itself
    assert smtp.mails == []


@pytest.mark.django_db
def test_permanent_smtp_rejection_fails_with_the_reason(
    case, smtp, django_capture_on_commit_callbacks, clean_schedule
):
    smtp.data_reply = "554 5.7.1 Message rejected as spam"
    message = _reply(case, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.Delivery.FAILED
    assert "554" in message.delivery_error and "spam" in message.delivery_error
    assert _scheduled_for(message.pk) == []  # not retried
    event = case["conversation"].events.get(kind="delivery_failed")
    assert event.data["message"] == message.pk  # the agent sees it on the timeline


@pytest.mark.django_db
def test_refused_recipient_fails_with_the_reason(
    case, smtp, django_capture_on_commit_callbacks, clean_schedule
):
    smtp.refuse.add("jan@example.org")
    message = _reply(case, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.Delivery.FAILED
    assert "Recipient refused" in message.delivery_error and "jan@example.org" in message.delivery_error
    assert _scheduled_for(message.pk) == [] and smtp.mails == []


@pytest.mark.django_db
def test_a_refused_reply_sent_again_goes_out_once_in_the_same_thread(
    case, smtp, django_capture_on_commit_callbacks, clean_schedule
):
    smtp.refuse.add("jan@example.org")
    message = _reply(case, django_capture_on_commit_callbacks)
    assert message.delivery_status == Message.Delivery.FAILED
    first_id = message.rfc_message_id

    smtp.refuse.clear()  # the customer fixed their mailbox
    with django_capture_on_commit_callbacks(execute=True):
        message_resend(message=message, agent=case["anna"])
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT and message.delivery_error == ""
    [mail] = smtp.mails
    assert mail["Message-ID"].strip("<>") == first_id  # the same reply, threaded as before
    assert "Recipient refused" not in message.delivery_error


@pytest.mark.django_db
def test_internal_note_is_never_delivered(case, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = note_add(
            conversation=case["conversation"], agent=case["anna"], text="Klient dzwonił, hasło=XYZ"
        )
    note.refresh_from_db()

    assert delivery.deliver(note.pk) is None
    note.refresh_from_db()
    assert (note.delivery_status, note.delivery_attempts) == ("", 0)
    assert smtp.mails == []


@pytest.mark.django_db
def test_channel_without_driver_fails_with_the_reason(
    case, smtp, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.delitem(drivers._items, "sms", raising=False)
    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(
            conversation=case["conversation"], agent=case["anna"], text="SMS?", channel="sms"
        )
    message.refresh_from_db()

    assert message.delivery_status == Message.Delivery.FAILED
    assert message.delivery_error == "No channel driver for 'sms'."
    assert smtp.mails == []


@pytest.mark.django_db
def test_misconfigured_inbox_fails_instead_of_crashing(case, smtp, django_capture_on_commit_callbacks):
    inbox = case["conversation"].inbox
    inbox.config = {"no_such_setting": True}
    inbox.save()
    message = _reply(case, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.Delivery.FAILED
    assert "misconfigured" in message.delivery_error
    assert smtp.mails == []


@pytest.mark.django_db
def test_a_crashing_driver_is_logged_without_the_portal_link(
    case, smtp, django_capture_on_commit_callbacks, monkeypatch, clean_schedule
):
    """The traceback of a driver bug reaches the log; the signed link in its message must not."""
    webform = drivers.get("webform")

    def explode(message, config):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"could not render the link {message.portal_url}")

    monkeypatch.setattr(webform, "send", explode)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("opiekun.inboxes.delivery")
    logger.addHandler(handler)
    try:
        message = _reply(case, django_capture_on_commit_callbacks)
    finally:
        logger.removeHandler(handler)

    assert message.delivery_status == Message.Delivery.QUEUED and len(_scheduled_for(message.pk)) == 1
    logged = stream.getvalue()
    assert "RuntimeError" in logged and "/portal/t/***" in logged
    token = portal_token(case["contact"])
    assert token not in logged


@pytest.mark.django_db
def test_delivery_runs_in_the_task_after_commit_not_before(case, smtp, django_capture_on_commit_callbacks):
    """Nothing is sent while the transaction that queued the reply is still open."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = message_send(conversation=case["conversation"], agent=case["anna"], text="Już wysłane.")
    time.sleep(0.1)
    assert smtp.mails == []
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.QUEUED
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT and len(smtp.mails) == 1
