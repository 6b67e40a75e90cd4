"""Writes of telephony: apply call events, keep the callback guarantee, log attempts, place calls.

Every missed, abandoned or voicemail inbound call lands in the one open Callback of its number (a
unique constraint keeps it one), owned by the caretaker, else the backup, else the team queue, due
`callback_minutes` of business hours after the first call. An answered call from the customer, or an
attempt that reaches them, closes it; attempts running out, or a wrong number, gives it up.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import translation
from django.utils.translation import gettext as _

from opiekun.agents.models import Agent, Team
from opiekun.agents.selectors import agent_is_absent
from opiekun.agents.services import audit_record
from opiekun.contacts.models import Contact, Identity
from opiekun.contacts.normalise import Address
from opiekun.contacts.services import contact_identify
from opiekun.conversations.models import OPEN_STATUSES, Conversation
from opiekun.conversations.routing import route_new_conversation
from opiekun.conversations.services import conversation_create
from opiekun.conversations.timeline import event_build
from opiekun.core import clock
from opiekun.core.errors import ValidationFailed
from opiekun.core.events import publish
from opiekun.shops.models import Shop
from opiekun.webhooks.services import endpoint_create

from .callstate import CallEvent, facts_apply, state_of
from .events import CallbacksChanged
from .hours import Hours
from .models import UNANSWERED, Call, Callback, CallbackAttempt, CallState, PhoneLine, PhonePolicy, Provider
from .numbers import number_read

log = logging.getLogger(__name__)

# Webhook source names, one per provider and purpose (registered in sources.py).
VOICE_SOURCES: dict[str, str] = {
    Provider.TWILIO: "twilio-voice",
    Provider.ZADARMA: "zadarma",
    Provider.GENERIC: "generic-voice",
}
SMS_SOURCES: dict[str, str] = {Provider.TWILIO: "twilio-sms", Provider.SMSAPI: "smsapi"}


# --- policy and lines ----------------------------------------------------------------------------


def policy_of(shop: Shop | int) -> PhonePolicy:
    """The shop's callback policy (created with the defaults on first use)."""
    shop_id = shop if isinstance(shop, int) else shop.pk
    policy, _created = PhonePolicy.objects.get_or_create(shop_id=shop_id)
    return policy


def hours_of(policy: PhonePolicy) -> Hours:
    return Hours(policy.business_hours or {}, settings.TIME_ZONE, holidays=policy.polish_holidays)


def policy_update(*, shop: Shop, actor: Agent | None = None, **fields: Any) -> PhonePolicy:
    """Change the callback policy (minutes, hours, attempts, queue team)."""
    allowed = {"callback_minutes", "business_hours", "polish_holidays", "max_attempts", "team"}
    if set(fields) - allowed:
        raise ValidationFailed(f"Unknown policy settings: {', '.join(sorted(set(fields) - allowed))}")
    if fields.get("max_attempts") is not None and int(fields["max_attempts"]) < 1:
        raise ValidationFailed(_("At least one attempt."), field="max_attempts")
    with transaction.atomic():
        policy = policy_of(shop)
        for name, value in fields.items():
            setattr(policy, name, value)
        policy.save()
        if actor is not None:
            audit_record(actor=actor, action="phone.policy", obj=policy, shop_id=shop.pk)
    return policy


def line_create(
    *,
    shop: Shop,
    provider: str,
    number: str = "",
    credentials: dict[str, str] | None = None,
    secret: str = "",
    label: str = "",
    purpose: str = PhoneLine.Purpose.VOICE,
    inbox: Any = None,
    team: Team | None = None,
    api_base: str = "",
) -> PhoneLine:
    """Connect a provider account: its webhook endpoint (signed with `secret`) and sealed credentials.

    Twilio signs with the account's auth token, so its endpoint secret is the auth token."""
    sources = VOICE_SOURCES if purpose == PhoneLine.Purpose.VOICE else SMS_SOURCES
    if provider not in sources:
        raise ValidationFailed(f"{provider} does not offer {purpose} here.", field="provider")
    credentials = dict(credentials or {})
    if provider == Provider.TWILIO and not secret:
        secret = credentials.get("auth_token", "")
    if provider == Provider.ZADARMA and not secret:
        secret = credentials.get("secret", "")
    shop_number = number_read(number).e164 if number else ""
    with transaction.atomic():
        endpoint = endpoint_create(
            shop=shop, source=sources[provider], secret=secret, label=label or provider
        )
        return PhoneLine.objects.create(
            shop=shop,
            provider=provider,
            purpose=purpose,
            endpoint=endpoint,
            inbox=inbox,
            label=label,
            number=shop_number,
            credentials=credentials,
            api_base=api_base,
            team=team,
        )


def _log(*, at: dt.datetime | None = None, **fields: Any) -> None:
    """Append a timeline entry dated when it happened (a call's end, an attempt), not when processed."""
    event = event_build(**fields)
    if at is not None:
        event.created_at = at
    event.save(force_insert=True)


# --- calls ---------------------------------------------------------------------------------------


def _plain_extension(text: str) -> str:
    """'sip:101@pbx.example' -> '101', 'client:anna' -> 'anna'; numbers stay as they are."""
    text = (text or "").strip()
    for prefix in ("sip:", "client:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    return text.split("@", 1)[0]


def agent_for_extension(*, shop_id: int, extension: str) -> Agent | None:
    """The shop's agent whose extension, direct number or (Twilio client) user name this is."""
    plain = _plain_extension(extension)
    if not plain:
        return None
    query = Q(phone_extension=plain) | Q(user__username=plain)
    e164 = number_read(plain).e164
    if e164:
        query |= Q(direct_number=e164)
    return Agent.objects.filter(shop_id=shop_id).filter(query).order_by("id").first()


def _customer(event: CallEvent) -> str:
    return event.caller if event.direction == "in" else event.callee


def call_event_apply(*, line: PhoneLine, event: CallEvent) -> Call:
    """Fold one provider event into its Call (creating it), then keep the callback guarantee.

    Idempotent per event key; any order of a call's events gives the same Call. Writes Call,
    Callback, CallbackAttempt, timeline Events; may create the contact and a conversation."""
    with transaction.atomic():
        now = clock.now()
        call = Call.objects.filter(
            shop_id=line.shop_id, provider=event.provider, provider_call_id=event.call_id
        ).first()
        if call is None:
            call = Call(
                shop_id=line.shop_id,
                line=line,
                provider=event.provider,
                provider_call_id=event.call_id,
                direction=event.direction,
                started_at=event.at,
                created_at=now,
                updated_at=now,
            )
        elif event.event_key and event.event_key in (call.seen or []):
            return call
        before = call.state if call.pk else ""
        started_before = call.started_at
        facts_before = _facts(call)
        _fill_parties(call, event)
        facts_apply(call, event)
        if call.pk and _facts(call) == facts_before:
            return call  # a replayed or redundant event (e.g. Twilio's in-progress after ringing): no write
        if event.event_key:
            call.seen = [*(call.seen or []), event.event_key][-40:]
        if call.extension and call.answered_by_id is None and call.answered_at is not None:
            call.answered_by = agent_for_extension(shop_id=call.shop_id, extension=call.extension)
        call.state = state_of(call)
        call.updated_at = now
        if call.contact_id is None and call.customer_number:
            _link(call, line)
        try:
            with transaction.atomic():
                call.save()
        except IntegrityError:
            # The same call's first event processed elsewhere at the same moment: apply onto that one.
            return call_event_apply(line=line, event=event)
        if call.callback_id is not None and call.started_at < started_before:
            _callback_move_start(call)
        _after_change(call, before, line)
    return call


_FACTS = (
    "started_at",
    "answered_at",
    "ended_at",
    "end_reason",
    "voicemail",
    "duration",
    "recording_url",
    "extension",
    "from_raw",
    "to_raw",
    "customer_number",
    "customer_raw",
    "placed_by_id",
)


def _facts(call: Call) -> tuple[Any, ...]:
    return tuple(getattr(call, name) for name in _FACTS)


def _callback_move_start(call: Call) -> None:
    """The call began earlier than its first event said (its ringing event came late): so did the promise."""
    if call.callback_id is None:
        return
    callback = Callback.objects.filter(pk=call.callback_id, status=Callback.Status.OPEN).first()
    if callback is None or call.started_at >= callback.first_call_at:
        return
    policy = policy_of(call.shop_id)
    due = hours_of(policy).add(call.started_at, policy.callback_minutes)
    Callback.objects.filter(pk=callback.pk).update(
        first_call_at=call.started_at, due_at=min(due, callback.due_at)
    )


def _fill_parties(call: Call, event: CallEvent) -> None:
    if event.caller and not call.from_raw:
        call.from_raw = event.caller[:80]
    if event.callee and not call.to_raw:
        call.to_raw = event.callee[:80]
    if event.direction == "out" and call.direction != "out" and not call.pk:
        call.direction = "out"
    customer = _customer(event) if event.direction == call.direction else ""
    if customer and not call.customer_number and not call.customer_raw:
        number = number_read(customer)
        call.customer_raw = number.raw[:80]
        call.customer_number = number.e164
        call.number_flagged = number.flagged
    if call.direction == "out" and event.extension and call.placed_by_id is None and event.kind == "ringing":
        call.placed_by = agent_for_extension(shop_id=call.shop_id, extension=event.extension)


def _link(call: Call, line: PhoneLine) -> None:
    """The customer's contact (created for an unknown number) and their open case (or a new one)."""
    shop = line.shop  # loaded once per batch with the line
    contact, _created = contact_identify(
        shop=shop, addresses=[Address(Identity.Kind.PHONE, call.customer_number)]
    )
    call.contact = contact
    conversation = (
        Conversation.objects.filter(
            shop_id=shop.pk, contact=contact, status__in=OPEN_STATUSES, merged_into__isnull=True
        )
        .order_by("-last_message_at", "-id")
        .first()
    )
    if conversation is None:
        with translation.override(contact.language or shop.default_language):
            subject = (
                _("Phone call from %(number)s") if call.direction == "in" else _("Phone call to %(number)s")
            ) % {"number": call.customer_number}
        team = line.team or policy_of(shop).team
        conversation = conversation_create(
            shop=shop,
            contact=contact,
            subject=subject,
            route=route_new_conversation(contact=contact, team=team, at=call.started_at),
            language=contact.language,
            at=call.started_at,
        )
    call.conversation = conversation


TIMELINE_KINDS = {
    CallState.ENDED: "call.inbound",
    CallState.MISSED: "call.missed",
    CallState.ABANDONED: "call.missed",
    CallState.VOICEMAIL: "call.voicemail",
}


def _after_change(call: Call, before: str, line: PhoneLine) -> None:
    if call.state == before:
        return
    settled = call.is_settled
    if settled:
        kind = "call.outbound" if call.direction == "out" else TIMELINE_KINDS[CallState(call.state)]
        if kind not in (call.logged or []):
            _log(
                at=call.ended_at or call.started_at,
                shop_id=call.shop_id,
                kind=kind,
                conversation=call.conversation,
                contact=call.contact,
                actor=call.answered_by or call.placed_by,
                data=call_summary(call),
            )
            Call.objects.filter(pk=call.pk).update(logged=[*(call.logged or []), kind])
            call.logged = [*(call.logged or []), kind]
        if call.recording_url and call.recording_id is None:
            call_id = call.pk
            transaction.on_commit(lambda: _enqueue_recording(call_id))
    if call.direction == "in":
        if call.state in UNANSWERED:
            if (
                call.callback_id is not None
                and call.state == CallState.VOICEMAIL
                and before != CallState.VOICEMAIL
            ):
                Callback.objects.filter(pk=call.callback_id).update(voicemails=F("voicemails") + 1)
            if call.callback_id is None and not call.number_flagged.startswith(
                "the caller's number was withheld"
            ):
                callback_for_missed(call=call, line=line)
        elif call.answered_at is not None:
            _callback_answered(call)
    elif settled:
        _callback_outbound_attempt(call)


def call_summary(call: Call) -> dict[str, Any]:
    """What a call's timeline entry says (kept with the event: the timeline is append-only)."""
    return {
        "call": call.pk,
        "direction": call.direction,
        "state": call.state,
        "number": call.customer_number or call.customer_raw,
        "flagged": call.number_flagged,
        "duration": call.duration,
        "agent": call.answered_by.display_name if call.answered_by_id and call.answered_by else "",
        "extension": call.extension,
    }


def _enqueue_recording(call_id: int) -> None:
    from .tasks import fetch_recording

    fetch_recording(call_id)


# --- callbacks -----------------------------------------------------------------------------------


def _can_take(agent: Agent | None, at: dt.datetime) -> bool:
    return agent is not None and agent.user.is_active and not agent_is_absent(agent=agent, at=at)


def owner_for(*, contact: Contact | None, at: dt.datetime) -> tuple[Agent | None, str]:
    """The caretaker when present, else the backup, else nobody (the team queue)."""
    if contact is not None:
        caretaker = contact.caretaker if contact.caretaker_id else None
        if _can_take(caretaker, at):
            return caretaker, Callback.Owner.CARETAKER
        backup = contact.backup_caretaker if contact.backup_caretaker_id else None
        if _can_take(backup, at):
            return backup, Callback.Owner.BACKUP
    return None, Callback.Owner.QUEUE


def callback_for_missed(*, call: Call, line: PhoneLine | None = None) -> Callback:
    """Put an unanswered inbound call into its number's open callback, opening one if there is none."""
    number = call.customer_number or call.customer_raw
    policy = policy_of(call.shop_id)
    due = hours_of(policy).add(call.started_at, policy.callback_minutes)
    voicemail = 1 if call.state == CallState.VOICEMAIL else 0
    with transaction.atomic():
        existing = Callback.objects.filter(
            shop_id=call.shop_id, number=number, status=Callback.Status.OPEN
        ).first()
        if existing is None:
            owner, reason = owner_for(contact=call.contact, at=call.started_at)
            team = (line.team if line is not None else None) or policy.team
            try:
                with transaction.atomic():
                    callback = Callback.objects.create(
                        shop_id=call.shop_id,
                        number=number,
                        contact=call.contact,
                        conversation=call.conversation,
                        owner=owner,
                        owner_reason=reason,
                        team=team,
                        first_call_at=call.started_at,
                        last_call_at=call.started_at,
                        due_at=due,
                        voicemails=voicemail,
                        created_at=clock.now(),
                    )
            except IntegrityError:
                existing = Callback.objects.get(
                    shop_id=call.shop_id, number=number, status=Callback.Status.OPEN
                )
            else:
                Call.objects.filter(pk=call.pk).update(callback=callback)
                call.callback = callback
                _log(
                    at=call.ended_at or call.started_at,
                    shop_id=call.shop_id,
                    kind="callback.opened",
                    conversation=call.conversation,
                    contact=call.contact,
                    data={
                        "callback": callback.pk,
                        "number": number,
                        "owner": owner.display_name if owner else "",
                        "reason": reason,
                        "due_at": due.isoformat(),
                    },
                )
                publish(CallbacksChanged(shop_id=call.shop_id))
                return callback
        # A repeated call: merged into the open callback; the promise still runs from the first call.
        Callback.objects.filter(pk=existing.pk).update(
            missed_calls=F("missed_calls") + 1, voicemails=F("voicemails") + voicemail
        )
        if call.started_at > existing.last_call_at:
            Callback.objects.filter(pk=existing.pk).update(last_call_at=call.started_at)
        if call.started_at < existing.first_call_at:  # an earlier call reported late
            Callback.objects.filter(pk=existing.pk).update(
                first_call_at=call.started_at, due_at=min(due, existing.due_at)
            )
        Call.objects.filter(pk=call.pk).update(callback=existing)
        call.callback = existing
        publish(CallbacksChanged(shop_id=call.shop_id))
        existing.refresh_from_db()
        return existing


def _close(callback: Callback, *, status: str, reason: str, agent: Agent | None, at: dt.datetime) -> bool:
    """Close an open callback once (a conditional update: two closers cannot both win)."""
    done = Callback.objects.filter(pk=callback.pk, status=Callback.Status.OPEN).update(
        status=status, closed_reason=reason, closed_by=agent, closed_at=at
    )
    if not done:
        return False
    callback.status, callback.closed_reason, callback.closed_by, callback.closed_at = (
        status,
        reason,
        agent,
        at,
    )
    _log(
        at=at,
        shop_id=callback.shop_id,
        kind="callback.done" if status == Callback.Status.REACHED else "callback.exhausted",
        conversation=callback.conversation,
        contact=callback.contact_id,
        actor=agent,
        data={
            "callback": callback.pk,
            "number": callback.number,
            "reason": reason,
            "attempts": callback.attempts,
        },
    )
    publish(CallbacksChanged(shop_id=callback.shop_id))
    return True


def _callback_answered(call: Call) -> None:
    """The customer called and someone answered: their open callback is done."""
    number = call.customer_number or call.customer_raw
    if call.callback_id is not None:
        own = Callback.objects.filter(pk=call.callback_id, status=Callback.Status.OPEN).first()
        if own is not None and own.missed_calls <= 1 and own.attempts == 0:
            # This call alone opened it, counted missed only until its answer arrived: it never was one.
            Call.objects.filter(pk=call.pk).update(callback=None)
            own.delete()
            call.callback = None
            publish(CallbacksChanged(shop_id=call.shop_id))
            return
        if own is not None:
            Callback.objects.filter(pk=own.pk).update(missed_calls=F("missed_calls") - 1)
    callback = Callback.objects.filter(
        shop_id=call.shop_id, number=number, status=Callback.Status.OPEN
    ).first()
    if callback is not None and (call.answered_at or call.started_at) >= callback.first_call_at:
        _close(
            callback,
            status=Callback.Status.REACHED,
            reason="customer_called",
            agent=call.answered_by,
            at=call.answered_at or call.started_at,
        )


def _callback_outbound_attempt(call: Call) -> None:
    """A call we placed to a number with an open callback is an attempt at it."""
    number = call.customer_number or call.customer_raw
    callback = Callback.objects.filter(
        shop_id=call.shop_id, number=number, status=Callback.Status.OPEN
    ).first()
    if callback is None or CallbackAttempt.objects.filter(callback=callback, call=call).exists():
        return
    outcome = CallbackAttempt.Outcome.REACHED if call.answered_at else CallbackAttempt.Outcome.NO_ANSWER
    callback_attempt_log(
        callback=callback,
        agent=call.placed_by or call.answered_by,
        outcome=outcome,
        call=call,
        at=call.ended_at or call.started_at,
    )


def callback_attempt_log(
    *,
    callback: Callback,
    agent: Agent | None,
    outcome: str,
    note: str = "",
    call: Call | None = None,
    at: dt.datetime | None = None,
    ip: str | None = None,
) -> CallbackAttempt:
    """Log one try at calling back; reached closes it, a wrong number or the last allowed try gives it up."""
    if outcome not in CallbackAttempt.Outcome.values:
        raise ValidationFailed(_("Choose how the call went."), field="outcome")
    if agent is not None and agent.shop_id != callback.shop_id:
        raise ValidationFailed(_("This callback belongs to another shop."))
    at = at or clock.now()
    with transaction.atomic():
        if not Callback.objects.filter(pk=callback.pk, status=Callback.Status.OPEN).update(
            attempts=F("attempts") + 1
        ):
            raise ValidationFailed(_("This callback is already closed."))
        callback.refresh_from_db()
        attempt = CallbackAttempt.objects.create(
            callback=callback, agent=agent, outcome=outcome, note=note.strip()[:500], call=call, at=at
        )
        _log(
            at=at,
            shop_id=callback.shop_id,
            kind="callback.attempt",
            conversation=callback.conversation,
            contact=callback.contact_id,
            actor=agent,
            data={
                "callback": callback.pk,
                "number": callback.number,
                "outcome": outcome,
                "note": attempt.note,
                "attempt": callback.attempts,
            },
        )
        if outcome == CallbackAttempt.Outcome.REACHED:
            _close(callback, status=Callback.Status.REACHED, reason="reached", agent=agent, at=at)
        elif outcome == CallbackAttempt.Outcome.WRONG_NUMBER:
            _close(callback, status=Callback.Status.EXHAUSTED, reason="wrong_number", agent=agent, at=at)
        elif callback.attempts >= policy_of(callback.shop_id).max_attempts:
            _close(callback, status=Callback.Status.EXHAUSTED, reason="attempts", agent=agent, at=at)
        else:
            publish(CallbacksChanged(shop_id=callback.shop_id))
        if agent is not None:
            audit_record(
                actor=agent, action="callback.attempt", obj=callback, data={"outcome": outcome}, ip=ip
            )
    return attempt


def escalation_target(callback: Callback) -> Agent | None:
    """The team lead of the callback's queue, else the shop's first lead, else its first administrator."""
    team = callback.team or policy_of(callback.shop_id).team
    if team is not None and team.lead_id:
        return team.lead
    return (
        Agent.objects.filter(
            shop_id=callback.shop_id, role__in=(Agent.Role.LEAD, Agent.Role.ADMIN), user__is_active=True
        )
        .order_by("-role", "id")  # "lead" sorts after "admin": leads first
        .first()
    )


def callbacks_escalate_due(*, now: dt.datetime | None = None) -> int:
    """Escalate every open callback past its deadline to the team lead, once; returns how many."""
    now = now or clock.now()
    count = 0
    overdue = Callback.objects.filter(status=Callback.Status.OPEN, due_at__lt=now, escalated_at__isnull=True)
    for callback in overdue.select_related("team__lead").order_by("due_at")[:500]:
        lead = escalation_target(callback)
        with transaction.atomic():
            if not Callback.objects.filter(pk=callback.pk, escalated_at__isnull=True).update(
                escalated_at=now, escalated_to=lead
            ):
                continue
            _log(
                at=now,
                shop_id=callback.shop_id,
                kind="callback.escalated",
                conversation=callback.conversation,
                contact=callback.contact_id,
                data={
                    "callback": callback.pk,
                    "number": callback.number,
                    "lead": lead.display_name if lead else "",
                    "due_at": callback.due_at.isoformat(),
                },
            )
            publish(CallbacksChanged(shop_id=callback.shop_id))
        count += 1
    return count


# --- recordings and click-to-call ----------------------------------------------------------------


def call_recording_store(*, call: Call, content: bytes, mime_type: str = "audio/mpeg") -> Call:
    """Keep a call's recording as an attachment (content-addressed bytes, one row)."""
    from opiekun.conversations.attachments import blob_store
    from opiekun.conversations.models import Attachment

    digest = blob_store(content)
    with transaction.atomic():
        attachment = Attachment.objects.create(
            shop_id=call.shop_id,
            sha256=digest,
            filename=f"call-{call.pk}.mp3",
            mime_type=mime_type,
            size=len(content),
        )
        Call.objects.filter(pk=call.pk).update(recording=attachment, recording_error="")
        call.recording = attachment
    return call


def call_recording_failed(*, call: Call, reason: str) -> None:
    Call.objects.filter(pk=call.pk).update(recording_error=reason[:300])


def voice_line_of(shop_id: int) -> PhoneLine | None:
    """The shop's line that can place calls (Twilio or Zadarma)."""
    return (
        PhoneLine.objects.filter(
            shop_id=shop_id,
            purpose=PhoneLine.Purpose.VOICE,
            is_active=True,
            provider__in=(Provider.TWILIO, Provider.ZADARMA),
        )
        .order_by("id")
        .first()
    )


def call_place(*, agent: Agent, contact: Contact, number: str, ip: str | None = None) -> Call | None:
    """Click-to-call: the provider rings the agent's phone, then the customer; the call's events come
    back through the webhook. Returns the Call when the provider names it at once (Twilio)."""
    from .providers import twilio, zadarma
    from .providers.http import ProviderError

    if contact.shop_id != agent.shop_id:
        raise ValidationFailed(_("This contact belongs to another shop."))
    customer = number_read(number)
    if not customer.e164:
        raise ValidationFailed(_("This is not a number that can be called."), field="number")
    line = voice_line_of(agent.shop_id)
    if line is None:
        raise ValidationFailed(_("No phone line that can place calls is connected."))
    creds = line.credentials or {}
    now = clock.now()
    try:
        if line.provider == Provider.TWILIO:
            if not agent.direct_number:
                raise ValidationFailed(_("Set your direct number on your profile first."))
            client = twilio.Client(
                account_sid=creds.get("account_sid", ""),
                auth_token=creds.get("auth_token", ""),
                api_base=line.api_base,
            )
            sid = client.call(
                from_=line.number,
                agent_phone=agent.direct_number,
                customer=customer.e164,
                status_callback=settings.OPIEKUN_PUBLIC_URL + line.endpoint.url_path,
            )
        else:
            if not (agent.phone_extension or agent.direct_number):
                raise ValidationFailed(_("Set your extension on your profile first."))
            zadarma.Client(
                key=creds.get("key", ""), secret=creds.get("secret", ""), api_base=line.api_base
            ).callback(from_=agent.phone_extension or agent.direct_number, to=customer.e164)
            sid = ""
    except ProviderError as exc:
        raise ValidationFailed(
            _("The call could not be placed: %(reason)s") % {"reason": exc.reason}
        ) from None
    with transaction.atomic():
        audit_record(actor=agent, action="call.place", obj=contact, data={"number": customer.e164}, ip=ip)
        if not sid:
            return None
        call, _created = Call.objects.get_or_create(
            shop_id=agent.shop_id,
            provider=line.provider,
            provider_call_id=sid,
            defaults={
                "line": line,
                "direction": Call.Direction.OUTBOUND,
                "from_raw": line.number,
                "to_raw": customer.e164,
                "customer_number": customer.e164,
                "customer_raw": customer.raw,
                "placed_by": agent,
                "started_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        if call.contact_id is None:
            _link(call, line)
            call.save(update_fields=["contact", "conversation"])
    return call
