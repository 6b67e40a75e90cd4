"""The desk's Callbacks view, logging an attempt, click-to-call and the text after a call."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Message
from opiekun.core import clock
from opiekun.telephony import services
from opiekun.telephony.models import Call, Callback
from opiekun.testing.factories import AgentFactory

from .helpers import TWILIO_TOKEN


def _open_callback(shop, contact=None, minutes=-10) -> Callback:
    now = clock.now()
    return Callback.objects.create(
        shop=shop,
        number="+48601000009",
        contact=contact,
        first_call_at=now,
        last_call_at=now,
        due_at=now + dt.timedelta(minutes=minutes),
        created_at=now,
    )


def test_callbacks_view_lists_overdue_and_logs_an_attempt(shop, agent):
    callback = _open_callback(shop)
    client = Client()
    client.force_login(agent.user)
    page = client.get("/callbacks/")
    assert page.status_code == 200 and b"+48601000009" in page.content and b"tab-overdue" in page.content
    response = client.post(f"/callbacks/{callback.pk}/attempt/", {"outcome": "reached", "note": "ok"})
    assert response.status_code == 302
    callback.refresh_from_db()
    assert callback.status == "reached" and callback.closed_by == agent
    assert b"+48601000009" in client.get("/callbacks/?view=done").content
    assert client.get("/callbacks/badge/").status_code == 200


def test_another_shops_callback_is_404_and_untouched(shop, other_shop, agent):
    callback = _open_callback(other_shop)
    client = Client()
    client.force_login(agent.user)
    assert client.post(f"/callbacks/{callback.pk}/attempt/", {"outcome": "reached"}).status_code == 404
    callback.refresh_from_db()
    assert callback.status == "open" and callback.attempts == 0


def test_click_to_call_through_twilio(shop, standin, settings):
    agent = AgentFactory(shop=shop, direct_number="+48501000001")
    line = services.line_create(
        shop=shop,
        provider="twilio",
        number="+48221234567",
        api_base=standin.url,
        credentials={"account_sid": "AC" + "1" * 32, "auth_token": TWILIO_TOKEN},
    )
    contact = Contact.objects.create(shop=shop, name="Jan")
    Identity.objects.create(shop=shop, contact=contact, kind="phone", value="+48601000010")
    client = Client()
    client.force_login(agent.user)
    client.post(f"/contacts/{contact.pk}/call/", {"number": "+48601000010"})
    (seen,) = standin.seen
    assert seen.path == f"/2010-04-01/Accounts/AC{'1' * 32}/Calls.json"
    assert seen.form["To"] == ["+48501000001"] and seen.form["From"] == ["+48221234567"]
    assert "+48601000010" in seen.form["Twiml"][0]
    assert seen.form["StatusCallback"] == [settings.OPIEKUN_PUBLIC_URL + line.endpoint.url_path]
    assert seen.headers["Authorization"].startswith("Basic ")
    call = Call.objects.get()
    assert (call.direction, call.placed_by, call.customer_number, call.contact) == (
        "out",
        agent,
        "+48601000010",
        contact,
    )


def test_click_to_call_through_zadarma_signs_the_request(shop, standin):
    agent = AgentFactory(shop=shop, phone_extension="101")
    services.line_create(
        shop=shop, provider="zadarma", api_base=standin.url, credentials={"key": "kk", "secret": "ss"}
    )
    contact = Contact.objects.create(shop=shop, name="Jan")
    client = Client()
    client.force_login(agent.user)
    client.post(f"/contacts/{contact.pk}/call/", {"number": "601 000 011"})
    (seen,) = standin.seen
    assert seen.path == "/v1/request/callback/" and seen.query == {"from": ["101"], "to": ["+48601000011"]}
    from opiekun.telephony.providers.zadarma import Client as Zadarma

    expected = Zadarma(key="kk", secret="ss").authorization(
        "/v1/request/callback/", {"from": "101", "to": "+48601000011"}
    )
    assert seen.headers["Authorization"] == expected


def test_click_to_call_outage_says_why_and_stores_no_call(shop, standin):
    agent = AgentFactory(shop=shop, direct_number="+48501000001")
    services.line_create(
        shop=shop,
        provider="twilio",
        number="+48221234567",
        api_base=standin.url,
        credentials={"account_sid": "AC1", "auth_token": TWILIO_TOKEN},
    )
    contact = Contact.objects.create(shop=shop, name="Jan")
    standin.fail_next(1, 503)
    client = Client()
    client.force_login(agent.user)
    response = client.post(f"/contacts/{contact.pk}/call/", {"number": "+48601000010"}, follow=True)
    assert "503" in response.content.decode()
    assert Call.objects.count() == 0


def test_text_after_a_call_is_queued_in_the_customers_language(shop, agent):
    from opiekun.testing.factories import ConversationFactory

    agent.direct_number = "+48501000002"
    agent.save()
    conversation = ConversationFactory(shop=shop)
    conversation.contact.language = "pl"
    conversation.contact.save()
    Identity.objects.create(shop=shop, contact=conversation.contact, kind="phone", value="+48601000012")
    client = Client()
    client.force_login(agent.user)
    client.post(f"/c/{conversation.number}/sms-after-call/")
    message = Message.objects.get(channel="sms")
    assert "+48501000002" in message.text and agent.display_name in message.text


def test_panel_offers_call_and_text_on_the_case_and_the_customer_page(shop, agent):
    from opiekun.telephony import sms
    from opiekun.testing.factories import ConversationFactory

    services.line_create(shop=shop, provider="twilio", credentials={"account_sid": "AC1", "auth_token": "t"})
    sms.sms_line_create(
        shop=shop,
        provider="smsapi",
        sender="Sklep",
        credentials={"api_token": "x"},
        public_url="http://testserver",
    )
    conversation = ConversationFactory(shop=shop)
    Identity.objects.create(shop=shop, contact=conversation.contact, kind="phone", value="+48601000013")
    client = Client()
    client.force_login(agent.user)
    page = client.get(f"/c/{conversation.number}/").content.decode()
    assert (
        'id="phone-panel"' in page and 'data-action="call"' in page and 'data-action="sms-after-call"' in page
    )
    page = client.get(f"/contacts/{conversation.contact.pk}/").content.decode()
    assert 'data-action="call"' in page and 'data-action="sms-after-call"' not in page


def test_a_voicemail_can_be_heard_from_the_callbacks_view(shop, agent):
    callback = _open_callback(shop)
    now = clock.now()
    call = Call.objects.create(
        shop=shop,
        provider="generic",
        provider_call_id="vm-1",
        state="voicemail",
        customer_number=callback.number,
        started_at=now,
        created_at=now,
        updated_at=now,
        callback=callback,
    )
    services.call_recording_store(call=call, content=b"ID3 fake audio")
    client = Client()
    client.force_login(agent.user)
    page = client.get("/callbacks/?view=overdue").content.decode()
    url = f"/attachments/{call.recording_id}/"
    assert f'src="{url}"' in page
    assert client.get(url).status_code == 200
