"""Text messages: sending through SMSAPI and Twilio stand-ins (outages retried, then failed with the
reason), delivery reports, inbound texts into the customer's case, opt-out keywords, segments."""

from __future__ import annotations

import pytest

from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Conversation, Event, Message
from opiekun.core.errors import ValidationFailed
from opiekun.inboxes import delivery
from opiekun.inboxes.drivers.sms import segments
from opiekun.telephony import sms
from opiekun.testing.factories import ConversationFactory
from opiekun.webhooks.models import Delivery

from .helpers import TWILIO_TOKEN, post_raw, post_twilio, process

CUSTOMER = "+48601000020"


@pytest.fixture
def smsapi_line(shop, standin):
    return sms.sms_line_create(
        shop=shop,
        provider="smsapi",
        sender="Sklep",
        api_base=standin.url,
        credentials={"api_token": "smsapi-token"},
        public_url="http://testserver",
    )


@pytest.fixture
def twilio_sms_line(shop, standin):
    return sms.sms_line_create(
        shop=shop,
        provider="twilio",
        sender="+48221234500",
        api_base=standin.url,
        credentials={"account_sid": "AC" + "2" * 32, "auth_token": TWILIO_TOKEN},
        public_url="http://testserver",
        name="Twilio SMS",
    )


@pytest.fixture
def case(shop):
    conversation = ConversationFactory(shop=shop)
    Identity.objects.create(
        shop=shop, contact=conversation.contact, kind="phone", value=CUSTOMER, is_primary=True
    )
    return conversation


def test_smsapi_send_with_bearer_token_and_delivery_report_url(smsapi_line, case, agent, standin):
    message = sms.sms_send(conversation=case, agent=agent, text="Paczka wyszła dziś.")
    assert delivery.deliver(message.pk).ok
    (seen,) = standin.seen
    assert seen.path == "/sms.do" and seen.headers["Authorization"] == "Bearer smsapi-token"
    assert seen.form["to"] == [CUSTOMER.lstrip("+")] and seen.form["from"] == ["Sklep"]
    assert seen.form["notify_url"] == [sms.callback_url(smsapi_line, "http://testserver")]
    message.refresh_from_db()
    assert message.delivery_status == "sent" and message.provider_id

    # The delivery report (SMSAPI's callback parameters) moves it to delivered; a wrong secret stores nothing.
    body = f"MsgId={message.provider_id}&status=404&status_name=DELIVERED&idx={message.pk}&to=48601000020"
    body = body.encode()
    assert post_raw(smsapi_line, body, {}, query="s=wrong").status_code == 401
    assert post_raw(smsapi_line, body, {}).status_code == 401
    assert Delivery.objects.count() == 0
    secret = smsapi_line.endpoint.signing_secret
    answer = post_raw(smsapi_line, body, {}, query=f"s={secret}")
    assert answer.status_code == 200 and answer.content == b"OK"
    process()
    message.refresh_from_db()
    assert message.delivery_status == "delivered"


def test_smsapi_delivery_report_by_get_moves_the_message_on(smsapi_line, case, agent, standin, client):
    message = sms.sms_send(conversation=case, agent=agent, text="Paczka wyszła dziś.")
    assert delivery.deliver(message.pk).ok
    message.refresh_from_db()
    secret = smsapi_line.endpoint.signing_secret
    report = {"MsgId": message.provider_id, "status": "404", "status_name": "DELIVERED", "idx": message.pk}
    assert client.get(smsapi_line.endpoint.url_path, {**report, "s": "wrong"}).status_code == 401
    answer = client.get(smsapi_line.endpoint.url_path, {**report, "s": secret})
    assert (answer.status_code, answer.content) == (200, b"OK")
    process()
    message.refresh_from_db()
    assert message.delivery_status == "delivered"


def test_smsapi_outage_is_retried_then_failed_with_the_reason(smsapi_line, case, agent, standin):
    standin.fail_next(10, 503)
    message = sms.sms_send(conversation=case, agent=agent, text="Test")
    for _ in range(delivery.MAX_ATTEMPTS - 1):
        result = delivery.deliver(message.pk)
        assert not result.ok and result.transient
        message.refresh_from_db()
        assert message.delivery_status == "queued"
    delivery.deliver(message.pk)
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert "Gave up after 6 attempts: SMSAPI answered 503" == message.delivery_error
    assert len(standin.seen) == delivery.MAX_ATTEMPTS


def test_smsapi_refusal_is_failed_at_once(shop, standin, case, agent):
    sms.sms_line_create(
        shop=shop,
        provider="smsapi",
        sender="Sklep",
        api_base=standin.url,
        credentials={"api_token": "not-the-token"},
        public_url="http://testserver",
    )
    message = sms.sms_send(conversation=case, agent=agent, text="Test")
    delivery.deliver(message.pk)
    message.refresh_from_db()
    assert (message.delivery_status, message.delivery_error) == (
        "failed",
        "SMSAPI refused: Authorization failed (error 101)",
    )


def test_twilio_send_429_then_sent_and_status_callback(twilio_sms_line, case, agent, standin):
    standin.fail_next(1, 429, {"Retry-After": "1"}, b'{"code": 20429, "message": "Too Many Requests"}')
    message = sms.sms_send(conversation=case, agent=agent, text="Dzień dobry")
    assert delivery.deliver(message.pk).transient
    assert delivery.deliver(message.pk).ok
    seen = standin.seen[-1]
    assert seen.path == f"/2010-04-01/Accounts/AC{'2' * 32}/Messages.json"
    assert seen.form["To"] == [CUSTOMER] and seen.form["StatusCallback"]
    message.refresh_from_db()
    form = {
        "MessageSid": message.provider_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "AccountSid": "AC" + "2" * 32,
        "To": CUSTOMER,
    }
    assert post_twilio(twilio_sms_line, form, token="wrong").status_code == 401
    assert post_twilio(twilio_sms_line, form).status_code == 200
    process()
    message.refresh_from_db()
    assert (
        message.delivery_status == "failed" and message.delivery_error == "Twilio: undelivered (error 30003)"
    )
    assert Event.objects.filter(kind="delivery_failed").count() == 1


def test_inbound_text_joins_the_customers_open_case(twilio_sms_line, case):
    form = {
        "MessageSid": "SM" + "9" * 32,
        "SmsStatus": "received",
        "AccountSid": "AC" + "2" * 32,
        "From": CUSTOMER,
        "To": "+48221234500",
        "Body": "Czy mogę zmienić adres?",
        "NumMedia": "0",
    }
    response = post_twilio(twilio_sms_line, form)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    post_twilio(twilio_sms_line, form)  # a replay
    process()
    message = Message.objects.get(channel="sms", direction="in")
    assert message.conversation == case and message.text == "Czy mogę zmienić adres?"


def test_inbound_text_from_a_stranger_opens_a_case(smsapi_line):
    body = b"sms_from=48602000021&sms_to=48221234500&sms_text=Halo&sms_date=1772438400&username=sklep"
    post_raw(smsapi_line, body, {}, query=f"s={smsapi_line.endpoint.signing_secret}")
    process()
    contact = Contact.objects.get(identities__value="+48602000021")
    assert Conversation.objects.get(contact=contact).messages.get().text == "Halo"


@pytest.mark.parametrize("word", ["STOP", "nie", "СТОП", " Stop! "])
def test_opt_out_keywords_flag_the_number_and_sends_are_refused(twilio_sms_line, case, agent, word, standin):
    form = {
        "MessageSid": f"SM{abs(hash(word)):032d}"[:34],
        "SmsStatus": "received",
        "From": CUSTOMER,
        "To": "+48221234500",
        "Body": word,
    }
    post_twilio(twilio_sms_line, form)
    process()
    identity = Identity.objects.get(value=CUSTOMER)
    assert identity.flagged.startswith(sms.OPT_OUT_PREFIX)
    with pytest.raises(ValidationFailed):
        sms.sms_send(conversation=case, agent=agent, text="Promocja!")
    # A reply queued another way (the API, an older composer) is refused by the driver, with the reason.
    from opiekun.conversations.services import message_send

    queued = message_send(conversation=case, agent=agent, text="Promocja!", channel="sms")
    delivery.deliver(queued.pk)
    queued.refresh_from_db()
    assert queued.delivery_status == "failed" and "opted out" in queued.delivery_error
    assert standin.seen == []
    # START undoes it.
    post_twilio(twilio_sms_line, {**form, "MessageSid": "SM" + "7" * 32, "Body": "START"})
    process()
    identity.refresh_from_db()
    assert identity.flagged == ""


def test_segments_gsm7_and_ucs2():
    assert segments.count("a" * 160) == segments.Segments("GSM-7", 160, 1, 160, 0)
    assert segments.count("a" * 161).segments == 2
    assert segments.count("€" * 80) == segments.Segments("GSM-7", 160, 1, 160, 0)
    assert segments.count("Zażółć gęślą jaźń").encoding == "UCS-2"
    assert segments.count("ż" * 70).segments == 1 and segments.count("ż" * 71).segments == 2
    assert segments.count("Привет" * 12).segments == 2
    assert segments.count("😀" * 35).units == 70
    assert segments.count("") == segments.Segments("GSM-7", 0, 0, 160, 160)
