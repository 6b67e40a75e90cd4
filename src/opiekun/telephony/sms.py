"""Text messages: provider webhooks (inbound texts, delivery reports), opt-out keywords, lines, and the
one-click "my name and direct number" text after a call.

Inbound texts go through the ordinary inbound pipeline into the customer's open case; delivery reports
move the message to delivered or failed (with the provider's reason). STOP / NIE / СТОП flags the
number so nothing more is sent to it (the SMS driver refuses with the reason); START undoes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opiekun.agents.models import Agent
from opiekun.contacts.events import ContactChanged
from opiekun.contacts.models import Identity
from opiekun.contacts.normalise import Address
from opiekun.contacts.selectors import contact_owning
from opiekun.conversations.events import MessageUpdated
from opiekun.conversations.models import OPEN_STATUSES, ChannelKind, Conversation, Message
from opiekun.conversations.services import delivery_mark, message_send
from opiekun.conversations.timeline import event_append
from opiekun.core.errors import ValidationFailed
from opiekun.core.events import publish
from opiekun.inboxes import pipeline
from opiekun.inboxes.base import OutboundMessage
from opiekun.inboxes.drivers.sms.driver import SmsDriver
from opiekun.inboxes.services import inbox_create
from opiekun.shops.models import Shop
from opiekun.webhooks import signatures
from opiekun.webhooks.models import Delivery, Endpoint
from opiekun.webhooks.registry import Accepted, Incoming, Rejected

from .models import PhoneLine, Provider
from .numbers import number_read
from .providers import twilio

OPT_OUT = {"stop", "stopall", "unsubscribe", "nie", "стоп", "отписаться"}
OPT_IN = {"start", "unstop", "tak", "старт"}
OPT_OUT_PREFIX = "SMS opt-out:"
_WORD = re.compile(r"[\W_]+", re.UNICODE)


def keyword_of(text: str) -> str:
    """'opt_out', 'opt_in' or '' — a text that is only the keyword (any case, punctuation ignored)."""
    word = _WORD.sub("", (text or "").strip().lower())
    if word in OPT_OUT:
        return "opt_out"
    if word in OPT_IN:
        return "opt_in"
    return ""


# --- sending ------------------------------------------------------------------------------------


def opt_out_reason(message: OutboundMessage) -> str:
    """The SMS driver's check before sending: why this number must not get texts ('' when it may)."""
    if not message.to_phone:
        return ""
    flagged = (
        Identity.objects.filter(
            contact__conversations__messages__pk=message.message_id,
            kind=Identity.Kind.PHONE,
            value=message.to_phone,
        )
        .values_list("flagged", flat=True)
        .first()
    )
    if flagged and flagged.startswith(OPT_OUT_PREFIX):
        return _(
            "Not sent: the customer opted out of text messages (%(when)s). They can text START to undo it."
        ) % {"when": flagged[len(OPT_OUT_PREFIX) :].strip()}
    return ""


def install_opt_out_check() -> None:
    SmsDriver.opted_out = staticmethod(opt_out_reason)  # type: ignore[assignment]


def sms_line_create(
    *,
    shop: Shop,
    provider: str,
    sender: str,
    credentials: dict[str, str],
    public_url: str,
    name: str = "SMS",
    api_base: str = "",
    team: Any = None,
) -> PhoneLine:
    """An SMS inbox and its provider line: the webhook endpoint for inbound texts and delivery reports.

    Twilio: credentials {"account_sid", "auth_token"} (the token also signs its webhooks). SMSAPI:
    {"api_token"}; SMSAPI does not sign callbacks, so the callback address carries a secret (`?s=`)."""
    from .services import line_create

    if provider not in (Provider.TWILIO, Provider.SMSAPI):
        raise ValidationFailed("SMS providers: SMSAPI.pl or Twilio.", field="provider")
    with transaction.atomic():
        secrets = (
            {"auth_token": credentials.get("auth_token", "")}
            if provider == Provider.TWILIO
            else {"api_token": credentials.get("api_token", "")}
        )
        config = {"provider": provider, "sender": sender, "api_base": api_base}
        if provider == Provider.TWILIO:
            config["account_sid"] = credentials.get("account_sid", "")
        inbox = inbox_create(
            shop=shop, kind=ChannelKind.SMS, name=name, config=config, secrets=secrets, team=team
        )
        line = line_create(
            shop=shop,
            provider=provider,
            purpose=PhoneLine.Purpose.SMS,
            number=sender if sender.startswith("+") else "",
            credentials=credentials,
            label=name,
            inbox=inbox,
            team=team,
            api_base=api_base,
        )
        inbox.config = {**inbox.config, "status_callback": callback_url(line, public_url)}
        inbox.save(update_fields=["config"])
    return line


def callback_url(line: PhoneLine, public_url: str) -> str:
    """The address to give the provider for inbound texts and delivery reports."""
    url = public_url.rstrip("/") + line.endpoint.url_path
    if line.provider == Provider.SMSAPI:
        url += "?s=" + line.endpoint.signing_secret
    return url


def after_call_text(*, agent: Agent, language: str) -> str:
    """ "My name and direct number" in the customer's language (pl / ru / en)."""
    with translation.override(language or "pl"):
        if agent.direct_number:
            return _(
                "Hello, this is %(name)s from %(shop)s. Thank you for the call. If anything else comes up, "
                "call me directly at %(number)s."
            ) % {"name": agent.display_name, "shop": agent.shop.name, "number": agent.direct_number}
        return _(
            "Hello, this is %(name)s from %(shop)s. Thank you for the call. Just reply to this text "
            "if anything else comes up."
        ) % {"name": agent.display_name, "shop": agent.shop.name}


def sms_send(*, conversation: Conversation, agent: Agent, text: str, ip: str | None = None) -> Message:
    """Queue a text to the case's customer; refused at once when they have no number or opted out."""
    phones = list(
        Identity.objects.filter(contact_id=conversation.contact_id, kind=Identity.Kind.PHONE).order_by(
            "-is_primary", "id"
        )
    )
    if not phones:
        raise ValidationFailed(_("The customer has no phone number to text."))
    if phones[0].flagged.startswith(OPT_OUT_PREFIX):
        raise ValidationFailed(_("The customer opted out of text messages; nothing was sent."))
    return message_send(conversation=conversation, agent=agent, text=text, channel=ChannelKind.SMS, ip=ip)


def sms_send_after_call(*, conversation: Conversation, agent: Agent, ip: str | None = None) -> Message:
    language = conversation.contact.language or conversation.language or conversation.shop.default_language
    return sms_send(
        conversation=conversation, agent=agent, text=after_call_text(agent=agent, language=language), ip=ip
    )


# --- opt-out ------------------------------------------------------------------------------------


def identity_opt(*, shop_id: int, phone: str, out: bool, at: dt.datetime) -> Identity | None:
    """Flag (STOP) or clear (START) a phone identity for texts; writes the identity and a timeline entry."""
    identity = Identity.objects.filter(shop_id=shop_id, kind=Identity.Kind.PHONE, value=phone).first()
    if identity is None:
        return None
    flagged = f"{OPT_OUT_PREFIX} {timezone.localtime(at):%Y-%m-%d %H:%M}" if out else ""
    if not out and not identity.flagged.startswith(OPT_OUT_PREFIX):
        return identity  # START from a number that never stopped: nothing to undo (a bounce flag stays)
    Identity.objects.filter(pk=identity.pk).update(flagged=flagged)
    identity.flagged = flagged
    event_append(
        shop_id=shop_id,
        contact=identity.contact_id,
        kind="sms.opted_out" if out else "sms.opted_in",
        data={"number": phone},
    )
    publish(ContactChanged(shop_id=shop_id, contact_id=identity.contact_id))
    return identity


# --- webhooks -----------------------------------------------------------------------------------


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _line(endpoint: Endpoint) -> PhoneLine | None:
    return PhoneLine.objects.filter(endpoint=endpoint).select_related("inbox__shop").first()


def report_apply(*, shop_id: int, provider_id: str, state: str, reason: str) -> Message | None:
    """A delivery report: the sent message becomes delivered, or failed with the provider's reason."""
    message = (
        Message.objects.filter(shop_id=shop_id, channel=ChannelKind.SMS, provider_id=provider_id)
        .select_related("conversation")
        .first()
    )
    if message is None:
        return None
    if state == "delivered" and message.delivery_status != Message.Delivery.DELIVERED:
        Message.objects.filter(pk=message.pk).update(
            delivery_status=Message.Delivery.DELIVERED, delivery_error=""
        )
        publish(
            MessageUpdated(shop_id=shop_id, conversation_id=message.conversation_id, message_id=message.pk)
        )
    elif state == "failed" and message.delivery_status != Message.Delivery.FAILED:
        delivery_mark(
            message=message, ok=False, error=reason or "not delivered", final=True, count_attempt=False
        )
    return message


def inbound_apply(
    *, line: PhoneLine, provider: str, ident: str, sender: str, text: str, at: dt.datetime
) -> str:
    """An inbound text: opt-out keywords honoured, then into the customer's open case (or a new one)."""
    if line.inbox is None:
        raise ValueError("the SMS line has no inbox")
    number = number_read(sender)
    keyword = keyword_of(text)
    payload = {"provider": provider, "id": ident, "from": number.e164 or sender, "text": text, "at": at}
    (message,) = SmsDriver().parse_inbound(payload)
    if number.e164:
        contact = contact_owning(shop_id=line.shop_id, addresses=[Address(Identity.Kind.PHONE, number.e164)])
        if contact is not None:
            open_case = (
                Conversation.objects.filter(
                    contact=contact, status__in=OPEN_STATUSES, merged_into__isnull=True
                )
                .order_by("-last_message_at")
                .values_list("pk", flat=True)
                .first()
            )
            if open_case is not None:
                message = replace(message, conversation_id=open_case)
    result = pipeline.process(inbox=line.inbox, message=message)
    if keyword and number.e164:
        identity_opt(shop_id=line.shop_id, phone=number.e164, out=keyword == "opt_out", at=at)
    return result.outcome


class TwilioSmsSource:
    """Twilio Messaging webhooks: inbound texts and StatusCallback delivery reports (X-Twilio-Signature)."""

    name = "twilio-sms"

    def verify(self, incoming: Incoming) -> Accepted:
        given = signatures.required_header(incoming, "X-Twilio-Signature")
        form = dict(incoming.form or twilio.form_of(incoming.body))
        expected = twilio.signature(incoming.url, form, incoming.secret)
        signatures.must_match(given, expected, secret=incoming.secret)
        sid = _one(form, "MessageSid") or _one(form, "SmsSid")
        if not sid:
            raise Rejected(400, "MessageSid is missing")
        status = _one(form, "MessageStatus") or _one(form, "SmsStatus") or "received"
        return Accepted(
            key=f"{sid}:{status}", topic=f"sms.{status}", answer=b"<Response/>", content_type="text/xml"
        )

    def process(self, endpoint: Endpoint, deliveries: list[Delivery]) -> None:
        line = _line(endpoint)
        for delivery in deliveries:
            if line is None:
                delivery.error = "no SMS line is connected to this endpoint"
                continue
            form = twilio.form_of(bytes(delivery.body))
            status = _one(form, "MessageStatus") or _one(form, "SmsStatus")
            if status in ("", "received") and _one(form, "From"):
                inbound_apply(
                    line=line,
                    provider="twilio",
                    ident=_one(form, "MessageSid") or _one(form, "SmsSid"),
                    sender=_one(form, "From"),
                    text=_one(form, "Body"),
                    at=delivery.received_at,
                )
                continue
            report = SmsDriver.parse_report("twilio", form)
            if report is not None:
                report_apply(
                    shop_id=line.shop_id,
                    provider_id=report.provider_id,
                    state=report.state,
                    reason=report.reason,
                )


class SmsapiSource:
    """SMSAPI.pl callbacks: delivery reports (MsgId, status) and inbound texts (sms_from, sms_text).

    SMSAPI does not sign its callbacks: the address carries the endpoint's secret (`?s=...`), checked here."""

    name = "smsapi"
    methods = ("GET", "POST")  # delivery reports come as GET with their fields in the query string

    def verify(self, incoming: Incoming) -> Accepted:
        from urllib.parse import parse_qs, urlsplit

        given = (parse_qs(urlsplit(incoming.url).query).get("s") or [""])[0]
        if not given:
            raise Rejected(401, "missing the callback secret (?s=)")
        signatures.must_match(given, incoming.secret, what="callback secret")
        form = dict(incoming.form or twilio.form_of(incoming.body))
        if _one(form, "MsgId"):
            ids, statuses = _one(form, "MsgId"), _one(form, "status")
            return Accepted(key=f"dlr:{ids}:{statuses}"[:200], topic="sms.report", answer=b"OK")
        if _one(form, "sms_from"):
            digest = hashlib.sha256(
                "|".join(_one(form, k) for k in ("sms_from", "sms_to", "sms_date", "sms_text")).encode()
            ).hexdigest()
            return Accepted(key=f"mo:{digest}", topic="sms.received", answer=b"OK")
        raise Rejected(400, "neither a delivery report (MsgId) nor a text (sms_from)")

    def process(self, endpoint: Endpoint, deliveries: list[Delivery]) -> None:
        line = _line(endpoint)
        for delivery in deliveries:
            if line is None:
                delivery.error = "no SMS line is connected to this endpoint"
                continue
            form = twilio.form_of(bytes(delivery.body))
            if _one(form, "MsgId"):
                # One callback may carry several reports: comma-separated, position by position.
                ids = _one(form, "MsgId").split(",")
                statuses = _one(form, "status").split(",")
                for i, provider_id in enumerate(ids):
                    status = statuses[i] if i < len(statuses) else statuses[-1]
                    report = SmsDriver.parse_report(
                        "smsapi", {"MsgId": [provider_id.strip()], "status": [status.strip()]}
                    )
                    if report is not None:
                        report_apply(
                            shop_id=line.shop_id,
                            provider_id=report.provider_id,
                            state=report.state,
                            reason=report.reason,
                        )
                continue
            at = delivery.received_at
            if _one(form, "sms_date").isdigit():
                at = dt.datetime.fromtimestamp(int(_one(form, "sms_date")), tz=dt.UTC)
            inbound_apply(
                line=line,
                provider="smsapi",
                ident=delivery.key,
                sender=_one(form, "sms_from"),
                text=_one(form, "sms_text"),
                at=at,
            )


def calling_notice(agent: Agent) -> str:
    return _("Calling: your phone rings first, then the customer's.")


def sent_notice() -> str:
    return _("The text with your name and number is on its way.")
