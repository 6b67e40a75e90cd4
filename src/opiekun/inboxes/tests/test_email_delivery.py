"""An agent's e-mail reply through the delivery task, on the installation's outgoing mail (no SMTP
server configured on the inbox): Django's SMTP backend against a real SMTP server on loopback, and the
file backend `make run` uses."""

import pytest
from django.test import override_settings

from opiekun.conversations.models import Message
from opiekun.inboxes import delivery, pipeline
from opiekun.inboxes.base import InboundMessage, SenderHints
from opiekun.testing import factories


def _reply(email_inbox, agent, text="Dzień dobry, paczka wyjdzie jutro."):  # type: ignore[no-untyped-def]
    first = pipeline.process(
        inbox=email_inbox,
        message=InboundMessage(
            sender=SenderHints(name="Jan Kowalski", email="jan@example.org"),
            text="Kiedy wyślecie?",
            subject="Zamówienie",
            rfc_message_id="jan.1@example.org",
            external_id="mail:jan.1",
        ),
    )
    return factories.MessageFactory(
        conversation=first.conversation,
        direction=Message.Direction.OUTBOUND,
        channel="email",
        inbox=email_inbox,
        author_agent=agent,
        text=text,
        delivery_status=Message.Delivery.QUEUED,
    )


@pytest.mark.django_db
def test_reply_goes_out_through_djangos_smtp_backend_with_threading(email_inbox, agent, smtp_sink):
    reply = _reply(email_inbox, agent)
    backend = "django.core.mail.backends.smtp.EmailBackend"
    with override_settings(EMAIL_BACKEND=backend, EMAIL_HOST=smtp_sink.host, EMAIL_PORT=smtp_sink.port):
        result = delivery.deliver(reply.pk)
    assert result is not None and result.ok, result
    got = smtp_sink.wait_for(lambda m: "jan@example.org" in m.rcpt_tos).message()
    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.SENT
    assert got["Message-ID"].strip("<>") == reply.rfc_message_id == reply.provider_id
    assert got["In-Reply-To"] == "<jan.1@example.org>"
    assert f"[#{reply.conversation.number}]" in got["Subject"]
    assert got["Reply-To"].addresses[0].username.startswith(f"support+c{reply.conversation.number}-")
    assert "paczka wyjdzie jutro" in got.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.django_db
def test_refused_recipient_fails_the_reply_with_the_reason(email_inbox, agent, smtp_sink):
    reply = _reply(email_inbox, agent)
    smtp_sink.replies["jan@example.org"] = "550 5.1.1 User unknown"
    backend = "django.core.mail.backends.smtp.EmailBackend"
    with override_settings(EMAIL_BACKEND=backend, EMAIL_HOST=smtp_sink.host, EMAIL_PORT=smtp_sink.port):
        result = delivery.deliver(reply.pk)
    assert result is not None and not result.ok and not result.transient
    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.FAILED and "User unknown" in reply.delivery_error


@pytest.mark.django_db
def test_file_backend_writes_the_reply(email_inbox, agent, tmp_path):
    reply = _reply(email_inbox, agent)
    backend = "django.core.mail.backends.filebased.EmailBackend"
    with override_settings(EMAIL_BACKEND=backend, EMAIL_FILE_PATH=str(tmp_path)):
        result = delivery.deliver(reply.pk)
    assert result is not None and result.ok
    (written,) = tmp_path.iterdir()
    assert reply.rfc_message_id.encode() in written.read_bytes()
