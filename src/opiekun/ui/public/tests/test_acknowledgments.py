from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from opiekun.inboxes import acknowledgments, pipeline
from opiekun.inboxes.base import InboundMessage, SenderHints
from opiekun.testing import factories

from .conftest import form_data, portal_link_from

pytestmark = pytest.mark.django_db

FORM = "/contact/demo/"


def submit(client: Client, **overrides: object):  # type: ignore[no-untyped-def]
    return client.post(FORM, form_data(**overrides))


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "We have received your message"),
        ("pl", "Otrzymaliśmy Twoją wiadomość"),
        ("ru", "Мы получили ваше сообщение"),
    ],
)
def test_acknowledgment_is_in_the_customers_language(
    client, shop, inbox, django_capture_on_commit_callbacks, language, words
):
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, language=language, message="Paczka & list <b>nie</b> doszły")
    ack = mail.outbox[0]
    assert words in ack.body
    assert ack.subject == "[#1] Paczka & list <b>nie</b> doszły"  # plain text: nothing escaped in the subject
    assert "> Paczka & list <b>nie</b> doszły" in ack.body
    html, mime = ack.alternatives[0]
    assert mime == "text/html" and "Paczka &amp; list &lt;b&gt;nie&lt;/b&gt; doszły" in html
    assert portal_link_from(ack.body) in html


def test_acknowledgments_are_limited_per_address(shop, inbox, django_capture_on_commit_callbacks, settings):
    settings.OPIEKUN_FORM_RATE_LIMIT = (100, 600)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(7):
            assert submit(Client(REMOTE_ADDR=f"10.1.0.{i}"), message=f"Question {i}").status_code == 302
        submit(Client(), email="someone.else@example.org")
    assert len([m for m in mail.outbox if "jan@example.org" in m.to[0]]) == acknowledgments.ACK_LIMIT[0]
    assert len([m for m in mail.outbox if "someone.else@example.org" in m.to[0]]) == 1


def test_over_the_limit_the_confirmation_does_not_promise_a_mail(client, shop, inbox, settings):
    settings.OPIEKUN_FORM_RATE_LIMIT = (100, 600)
    for _ in range(acknowledgments.ACK_LIMIT[0]):
        submit(client)
    response = submit(client)
    html = client.get(response["Location"]).content.decode()
    assert "We sent a confirmation" not in html and "keep the case number" in html


def test_auto_replies_are_never_acknowledged(shop, inbox, django_capture_on_commit_callbacks):
    first = pipeline.process(
        inbox=inbox, message=InboundMessage(sender=SenderHints(email="jan@example.org"), text="Hello")
    )
    with django_capture_on_commit_callbacks(execute=True):
        auto = pipeline.process(
            inbox=inbox,
            message=InboundMessage(
                sender=SenderHints(contact_id=first.contact.pk),
                text="I am away",
                conversation_id=first.conversation.pk,
                auto_submitted=True,
            ),
        )
        assert auto.message.meta.get("auto_reply") is True
        assert acknowledgments.acknowledgment_schedule(message=auto.message) is False
    assert not mail.outbox


def test_inbox_can_switch_acknowledgments_off(client, shop, django_capture_on_commit_callbacks):
    factories.InboxFactory(
        shop=shop, kind="webform", name="Quiet form", config={"send_acknowledgment": False}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client)
    assert response.status_code == 302 and not mail.outbox
    assert "We sent a confirmation" not in client.get(response["Location"]).content.decode()


def test_from_falls_back_to_the_default_sender(client, inbox, django_capture_on_commit_callbacks, settings):
    shop = inbox.shop
    shop.sender_email = ""
    shop.save()
    with django_capture_on_commit_callbacks(execute=True):
        submit(client)
    assert mail.outbox[0].from_email == f"Demo Shop <{settings.DEFAULT_FROM_EMAIL}>"
    assert mail.outbox[0].reply_to == []


def test_nothing_is_sent_before_commit(client, shop, inbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit(client)
    assert not mail.outbox and callbacks
