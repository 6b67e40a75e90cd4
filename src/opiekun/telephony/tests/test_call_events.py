"""Call events from Twilio, Zadarma and the generic webhook: verified, stored once, assembled into one
correct Call whatever order they arrive in, on the customer's timeline."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Conversation, Event
from opiekun.telephony import services, simulation
from opiekun.telephony.models import Call, Callback, CallState
from opiekun.testing.factories import AgentFactory
from opiekun.webhooks.models import Delivery

from .helpers import (
    GENERIC_SECRET,
    TWILIO_TOKEN,
    ZADARMA_SECRET,
    post_generic,
    post_raw,
    post_twilio,
    post_zadarma,
    process,
)


@pytest.fixture
def twilio_line(shop):
    return services.line_create(
        shop=shop,
        provider="twilio",
        number="+48221234567",
        credentials={"account_sid": simulation.ACCOUNT, "auth_token": TWILIO_TOKEN},
    )


@pytest.fixture
def zadarma_line(shop):
    return services.line_create(
        shop=shop, provider="zadarma", credentials={"key": "k1", "secret": ZADARMA_SECRET}
    )


@pytest.fixture
def generic_line(shop):
    return services.line_create(shop=shop, provider="generic", secret=GENERIC_SECRET)


def _answered_call() -> simulation.SimCall:
    return simulation.SimCall(1, "CA" + "a" * 32, "+48 601 234 567", simulation.DAY, "answered", "anna", 95)


def _missed_call(number: str = "+48601234568", sid: str = "CA" + "b" * 32) -> simulation.SimCall:
    return simulation.SimCall(2, sid, number, simulation.DAY, "missed")


def test_twilio_twilios_documented_signature_example():
    # The example in Twilio's "Webhooks security" documentation.
    params = {
        "CallSid": ["CA1234567890ABCDE"],
        "Caller": ["+12349013030"],
        "Digits": ["1234"],
        "From": ["+12349013030"],
        "To": ["+18005551212"],
    }
    from opiekun.telephony.providers import twilio

    assert twilio.signature("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345") == (
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


@pytest.mark.parametrize("how", ["missing", "wrong-token", "tampered"])
def test_twilio_unsigned_or_wrongly_signed_is_401_and_nothing_is_stored(twilio_line, how):
    form = simulation.call_forms(_missed_call())[0]
    if how == "missing":
        response = post_twilio(twilio_line, form, sign=False)
    elif how == "wrong-token":
        response = post_twilio(twilio_line, form, token="not-the-token")
    else:
        from opiekun.telephony.providers import twilio

        signature = twilio.signature(
            "http://testserver" + twilio_line.endpoint.url_path,
            {k: [v] for k, v in form.items()},
            TWILIO_TOKEN,
        )
        from urllib.parse import urlencode

        body = urlencode({**form, "From": "+48999999999"}).encode()
        response = post_raw(twilio_line, body, {"X-Twilio-Signature": signature})
    assert response.status_code == 401
    assert Delivery.objects.count() == 0
    assert process() == 0
    assert Call.objects.count() == 0


def test_twilio_answered_call_becomes_one_call_on_the_contacts_timeline(shop, twilio_line):
    anna = AgentFactory(shop=shop, phone_extension="anna", display_name="Anna")
    for form in simulation.call_forms(_answered_call()):
        assert post_twilio(twilio_line, form).status_code == 200
    process()
    call = Call.objects.get()
    assert (call.state, call.direction, call.customer_number, call.answered_by) == (
        CallState.ENDED,
        "in",
        "+48601234567",
        anna,
    )
    assert call.duration == 107 and call.answered_at == simulation.DAY + dt.timedelta(seconds=12)
    contact = Contact.objects.get(identities__value="+48601234567")
    assert call.contact == contact and call.conversation.contact == contact
    assert list(Event.objects.filter(kind__startswith="call.").values_list("kind", "contact_id")) == [
        ("call.inbound", contact.pk)
    ]
    assert Callback.objects.count() == 0


def test_replays_are_idempotent(twilio_line):
    forms = simulation.call_forms(_missed_call())
    for form in forms + forms:
        post_twilio(twilio_line, form)
    assert Delivery.objects.count() == len(forms)
    process()
    for form in forms:  # replayed again after processing
        assert post_twilio(twilio_line, form).json()["duplicate"] is True
    process()
    assert Call.objects.count() == 1 and Callback.objects.count() == 1
    assert Event.objects.filter(kind="call.missed").count() == 1


@pytest.mark.parametrize("seed", range(6))
def test_any_order_of_events_gives_the_same_call(twilio_line, seed):
    forms = simulation.call_forms(_answered_call())
    random.Random(seed).shuffle(forms)
    for form in forms:
        post_twilio(twilio_line, form)
        process()  # one at a time: each arrives on its own
    call = Call.objects.get()
    assert (call.state, call.started_at, call.duration) == (CallState.ENDED, simulation.DAY, 107)
    assert Callback.objects.count() == 0  # answered after all, whatever came first
    assert Conversation.objects.count() == 1


def test_ended_before_ringing_still_one_missed_call_and_one_callback(twilio_line):
    forms = simulation.call_forms(_missed_call())
    for form in reversed(forms):
        post_twilio(twilio_line, form)
        process()
    call = Call.objects.get()
    assert call.state == CallState.MISSED and call.started_at == simulation.DAY
    assert Callback.objects.get().number == "+48601234568"


def test_unparseable_number_is_kept_raw_and_flagged_and_still_owed_a_callback(twilio_line):
    for form in simulation.call_forms(_missed_call(number="00-12-abc")):
        post_twilio(twilio_line, form)
    process()
    call = Call.objects.get()
    assert (call.customer_number, call.customer_raw, call.number_flagged) == (
        "",
        "00-12-abc",
        "the number cannot be parsed",
    )
    assert call.contact is None
    callback = Callback.objects.get()
    assert callback.number == "00-12-abc" and callback.contact is None


def test_withheld_number_is_a_missed_call_without_a_callback(twilio_line):
    for form in simulation.call_forms(_missed_call(number="anonymous")):
        post_twilio(twilio_line, form)
    process()
    call = Call.objects.get()
    assert call.state == CallState.MISSED and call.number_flagged
    assert Callback.objects.count() == 0


def test_voicemail_recording_is_fetched_and_stored(twilio_line, standin, django_capture_on_commit_callbacks):
    twilio_line.api_base = standin.url
    twilio_line.save()
    call = simulation.SimCall(3, "CA" + "c" * 32, "+48601234569", simulation.DAY, "voicemail", duration=20)
    for form in simulation.call_forms(call, recording_base=standin.url):
        post_twilio(twilio_line, form)
    with django_capture_on_commit_callbacks(execute=True):
        process()
    stored = Call.objects.get()
    assert stored.state == CallState.VOICEMAIL
    assert stored.recording is not None and stored.recording.mime_type == "audio/mpeg"
    fetch = [s for s in standin.seen if s.path.endswith(".mp3")]
    assert len(fetch) == 1 and fetch[0].headers["Authorization"].startswith("Basic ")
    assert Callback.objects.get().voicemails == 1


def test_a_recording_url_off_twilios_host_is_not_fetched(
    twilio_line, standin, django_capture_on_commit_callbacks
):
    twilio_line.api_base = standin.url
    twilio_line.save()
    call = simulation.SimCall(3, "CA" + "d" * 32, "+48601234560", simulation.DAY, "voicemail", duration=20)
    for form in simulation.call_forms(call, recording_base="http://127.0.0.1:9"):
        post_twilio(twilio_line, form)
    with django_capture_on_commit_callbacks(execute=True):
        process()
    stored = Call.objects.get()
    assert stored.recording is None and "not on Twilio" in stored.recording_error
    assert standin.seen == []


# --- Zadarma ------------------------------------------------------------------------------------

ZSTART = {
    "event": "NOTIFY_START",
    "call_start": "2026-03-02 10:00:00",
    "pbx_call_id": "in_0f1e2d3c",
    "caller_id": "48601234570",
    "called_did": "48221234567",
}


def _zadarma_events(answered: bool) -> list[dict[str, str]]:
    end = {
        **ZSTART,
        "event": "NOTIFY_END",
        "internal": "101",
        "duration": "65" if answered else "0",
        "disposition": "answered" if answered else "no answer",
        "status_code": "16",
        "is_recorded": "0",
        "call_id_with_rec": "",
        "last_internal": "101",
    }
    answer = {
        "event": "NOTIFY_ANSWER",
        "call_start": ZSTART["call_start"],
        "pbx_call_id": ZSTART["pbx_call_id"],
        "caller_id": ZSTART["caller_id"],
        "destination": "101",
    }
    internal = {**ZSTART, "event": "NOTIFY_INTERNAL", "internal": "101"}
    return [ZSTART, internal, answer, end] if answered else [ZSTART, internal, end]


def test_zadarma_signature_scheme_and_rejections(zadarma_line):
    import base64
    import hashlib
    import hmac as _hmac

    from opiekun.telephony.providers import zadarma

    expected = base64.b64encode(
        _hmac.new(ZADARMA_SECRET.encode(), b"4860123457048221234567" + b"2026-03-02 10:00:00", hashlib.sha1)
        .hexdigest()
        .encode()
    ).decode()
    assert zadarma.signature({k: [v] for k, v in ZSTART.items()}, ZADARMA_SECRET) == expected
    assert post_zadarma(zadarma_line, ZSTART, sign=False).status_code == 401
    assert post_zadarma(zadarma_line, ZSTART, secret="wrong").status_code == 401
    assert Delivery.objects.count() == 0


def test_zadarma_address_check_is_echoed_and_stores_nothing(zadarma_line, client):
    answer = client.get(zadarma_line.endpoint.url_path, {"zd_echo": "f3a9c2"})
    assert (answer.status_code, answer.content, answer["Content-Type"]) == (200, b"f3a9c2", "text/plain")
    assert client.get(zadarma_line.endpoint.url_path).status_code == 405
    assert Delivery.objects.count() == 0


def test_zadarma_answered_call_correlated_by_pbx_call_id(shop, zadarma_line):
    agent = AgentFactory(shop=shop, phone_extension="101")
    for form in reversed(_zadarma_events(answered=True)):
        assert post_zadarma(zadarma_line, form).status_code == 200
    process()
    call = Call.objects.get()
    assert (call.provider_call_id, call.state, call.answered_by, call.customer_number, call.duration) == (
        "in_0f1e2d3c",
        CallState.ENDED,
        agent,
        "+48601234570",
        65,
    )


def test_zadarma_missed_call_makes_a_callback(zadarma_line):
    for form in _zadarma_events(answered=False):
        post_zadarma(zadarma_line, form)
    process()
    assert Call.objects.get().state == CallState.MISSED
    assert Callback.objects.get().number == "+48601234570"


# --- generic ------------------------------------------------------------------------------------


def test_generic_events_and_bad_input(generic_line):
    base = {"call_id": "pbx-77", "direction": "inbound", "from": "601 234 571", "to": "+48221234567"}
    assert post_generic(generic_line, {**base, "event": "ringing"}, sign=False).status_code == 401
    assert post_generic(generic_line, {**base, "event": "ringing"}, secret="nope").status_code == 401
    bad = post_generic(generic_line, b"{not json")
    assert bad.status_code == 400 and "malformed JSON" in bad.json()["error"]
    assert post_generic(generic_line, {**base, "event": "exploded"}).status_code == 400
    assert Delivery.objects.count() == 0
    events = [
        {**base, "event_id": "e3", "event": "voicemail", "at": "2026-03-02T10:01:30+01:00"},
        {**base, "event_id": "e1", "event": "ringing", "at": "2026-03-02T10:00:00+01:00"},
        {**base, "event_id": "e2", "event": "missed", "at": "2026-03-02T10:01:00+01:00"},
    ]
    for event in events + events[:1]:
        assert post_generic(generic_line, event).status_code == 200
    process()
    call = Call.objects.get()
    assert (call.state, call.customer_number) == (CallState.VOICEMAIL, "+48601234571")
    assert call.started_at == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    assert Callback.objects.get().voicemails == 1


def test_another_shops_line_never_touches_this_shop(shop, other_shop, twilio_line):
    other = services.line_create(shop=other_shop, provider="twilio", credentials={"auth_token": TWILIO_TOKEN})
    for form in simulation.call_forms(_missed_call()):
        post_twilio(other, form)
    process()
    assert Call.objects.get().shop == other_shop
    assert not Identity.objects.filter(shop=shop).exists()
    assert not Callback.objects.filter(shop=shop).exists()
