"""Phone and SMS providers as webhook sources: verify (pure) at intake, process (in the worker) later.

One source per provider and purpose; `register_all` is the one place they are listed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opiekun.webhooks import signatures
from opiekun.webhooks.models import Delivery, Endpoint
from opiekun.webhooks.registry import Accepted, Incoming, Rejected, sources

from .callstate import CallEvent
from .models import PhoneLine
from .providers import generic, twilio, zadarma

log = logging.getLogger(__name__)


def _line(endpoint: Endpoint) -> PhoneLine | None:
    return PhoneLine.objects.filter(endpoint=endpoint).select_related("team", "shop").first()


def _form_required(incoming: Incoming) -> Mapping[str, list[str]]:
    form = incoming.form or {}
    if not form:
        if incoming.body:
            form = twilio.form_of(incoming.body)
        if not form:
            raise Rejected(400, "expected a form-encoded body")
    return form


class VoiceSource:
    """Shared processing: each stored delivery becomes a CallEvent applied to its Call."""

    name = ""

    def event(self, delivery: Delivery) -> CallEvent | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def verify(self, incoming: Incoming) -> Accepted:  # pragma: no cover - overridden
        raise NotImplementedError

    def process(self, endpoint: Endpoint, deliveries: list[Delivery]) -> None:
        from .services import call_event_apply

        line = _line(endpoint)
        if line is None:
            for delivery in deliveries:
                delivery.error = "no phone line is connected to this endpoint"
            return
        for delivery in deliveries:
            try:
                event = self.event(delivery)
            except (ValueError, KeyError) as exc:
                delivery.error = f"cannot read the event: {exc}"[:500]
                continue
            if event is not None:
                call_event_apply(line=line, event=event)


class TwilioVoiceSource(VoiceSource):
    name = "twilio-voice"

    def verify(self, incoming: Incoming) -> Accepted:
        given = signatures.required_header(incoming, "X-Twilio-Signature")
        form = _form_required(incoming)
        expected = twilio.signature(incoming.url, form, incoming.secret)
        signatures.must_match(given, expected, secret=incoming.secret)
        if not (form.get("CallSid") or [""])[0]:
            raise Rejected(400, "CallSid is missing")
        status = (form.get("CallStatus") or form.get("RecordingStatus") or [""])[0]
        return Accepted(key=twilio.delivery_key(form), topic=f"call.{status or 'event'}")

    def event(self, delivery: Delivery) -> CallEvent | None:
        return twilio.event_from(twilio.form_of(bytes(delivery.body)), delivery.received_at)


class ZadarmaSource(VoiceSource):
    name = "zadarma"
    methods = ("GET", "POST")  # GET: Zadarma checks the address with ?zd_echo= before it sends anything

    def verify(self, incoming: Incoming) -> Accepted:
        if incoming.method == "GET":
            echo = (incoming.form.get("zd_echo") or [""])[0]
            if not echo:
                raise Rejected(405, "GET is only for Zadarma's address check (zd_echo)")
            return Accepted(key="zd_echo", store=False, answer=echo[:64].encode(), content_type="text/plain")
        given = signatures.required_header(incoming, "Signature")
        form = _form_required(incoming)
        event = (form.get("event") or [""])[0]
        if event not in zadarma.SIGNED_FIELDS:
            raise Rejected(400, f"unknown event {event!r}")
        signatures.must_match(given, zadarma.signature(form, incoming.secret), secret=incoming.secret)
        if not (form.get("pbx_call_id") or [""])[0]:
            raise Rejected(400, "pbx_call_id is missing")
        return Accepted(key=zadarma.delivery_key(form), topic=event.lower())

    def event(self, delivery: Delivery) -> CallEvent | None:
        from django.conf import settings

        return zadarma.event_from(
            zadarma.form_of(bytes(delivery.body)), delivery.received_at, settings.TIME_ZONE
        )


class GenericVoiceSource(VoiceSource):
    name = "generic-voice"

    def verify(self, incoming: Incoming) -> Accepted:
        given = signatures.required_header(incoming, generic.HEADER)
        signatures.must_match(
            given, generic.signature(incoming.body, incoming.secret), secret=incoming.secret
        )
        try:
            payload = generic.parse(incoming.body)
        except ValueError as exc:
            raise Rejected(400, str(exc)) from None
        return Accepted(key=generic.delivery_key(payload, incoming.body), topic=f"call.{payload['event']}")

    def event(self, delivery: Delivery) -> CallEvent | None:
        body = bytes(delivery.body)
        payload = generic.parse(body)
        return generic.event_from(payload, delivery.received_at, key=delivery.key)


def register_all() -> None:
    from .sms import SmsapiSource, TwilioSmsSource

    for source in (
        TwilioVoiceSource(),
        ZadarmaSource(),
        GenericVoiceSource(),
        TwilioSmsSource(),
        SmsapiSource(),
    ):
        if source.name not in sources:
            sources.register(source.name, source)
