"""The demo shop's phone day (`opiekun demo`): a PBX on the generic webhook, calls answered and missed,
one callback overdue and escalated, one done after two attempts, and a text-message conversation.

Written through the real paths (call_event_apply, callback_attempt_log, the SMS inbound pipeline), so
the Callbacks view and the timelines show what a connected phone system would. Nothing is sent out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from opiekun.agents.models import Agent, Team
from opiekun.contacts.models import Contact, Identity
from opiekun.shops.models import Shop

from . import services, sms
from .callstate import CallEvent
from .models import Callback


def _events(line, call_id: str, number: str, at: dt.datetime, outcome: str, extension: str = "") -> None:  # type: ignore[no-untyped-def]
    base: dict[str, Any] = {
        "provider": "generic",
        "call_id": call_id,
        "caller": number,
        "callee": "+48221234567",
    }
    services.call_event_apply(
        line=line, event=CallEvent(kind="ringing", at=at, event_key=f"{call_id}:r", **base)
    )
    if outcome == "answered":
        services.call_event_apply(
            line=line,
            event=CallEvent(
                kind="answered",
                at=at + dt.timedelta(seconds=9),
                extension=extension,
                event_key=f"{call_id}:a",
                **base,
            ),
        )
        services.call_event_apply(
            line=line,
            event=CallEvent(
                kind="ended", at=at + dt.timedelta(minutes=4), duration=231, event_key=f"{call_id}:e", **base
            ),
        )
    else:
        services.call_event_apply(
            line=line,
            event=CallEvent(kind=outcome, at=at + dt.timedelta(seconds=35), event_key=f"{call_id}:m", **base),
        )


def seed(*, shop: Shop, now: dt.datetime) -> None:
    agents = {a.user.username: a for a in Agent.objects.filter(shop=shop).select_related("user")}
    for i, agent in enumerate(agents.values()):
        Agent.objects.filter(pk=agent.pk).update(
            phone_extension=str(101 + i), direct_number=f"+4822123450{i + 1}"
        )
    team = Team.objects.filter(shop=shop).order_by("id").first()
    services.policy_update(shop=shop, callback_minutes=30, team=team)
    line = services.line_create(
        shop=shop, provider="generic", label="Centrala (PBX)", number="+48221234567", team=team
    )
    known = Contact.objects.filter(shop=shop).filter(Q(caretaker__isnull=False)).order_by("id").first()
    known_number = "+48512000101"
    if known is not None:
        Identity.objects.get_or_create(
            shop=shop, kind="phone", value=known_number, defaults={"contact": known}
        )
    _events(line, "demo-1", known_number, now - dt.timedelta(hours=3), "answered", extension="101")
    _events(line, "demo-2", "+48 601 555 204", now - dt.timedelta(minutes=95), "missed")
    _events(line, "demo-3", "+48 601 555 204", now - dt.timedelta(minutes=70), "abandoned")
    _events(line, "demo-4", "+48 733 410 118", now - dt.timedelta(minutes=12), "voicemail")
    _events(line, "demo-5", "+48 698 020 377", now - dt.timedelta(hours=5), "missed")
    _events(
        line, "demo-6", "0048 22 000", now - dt.timedelta(minutes=40), "missed"
    )  # a number that cannot be parsed
    # The demo runs at any hour: pin the deadlines so one callback is overdue and escalated, the others due.
    Callback.objects.filter(shop=shop, number="+48601555204").update(due_at=now - dt.timedelta(minutes=65))
    Callback.objects.filter(shop=shop, number="+48733410118").update(due_at=now + dt.timedelta(minutes=18))
    Callback.objects.filter(shop=shop, number="0048 22 000").update(due_at=now + dt.timedelta(minutes=50))
    services.callbacks_escalate_due(now=now)
    done = Callback.objects.get(shop=shop, number="+48698020377")
    piotr = agents.get("piotr")
    services.callback_attempt_log(
        callback=done, agent=piotr, outcome="no_answer", at=now - dt.timedelta(hours=4)
    )
    services.callback_attempt_log(
        callback=done,
        agent=piotr,
        outcome="reached",
        note="Zamówienie przełożone na piątek.",
        at=now - dt.timedelta(hours=3, minutes=30),
    )
    sms_line = sms.sms_line_create(
        shop=shop,
        provider="smsapi",
        sender="SklepDemo",
        credentials={"api_token": "demo-token-not-used"},
        public_url="http://127.0.0.1:8000",
        name="SMS (SMSAPI)",
        team=team,
    )
    sms.inbound_apply(
        line=sms_line,
        provider="smsapi",
        ident="demo-sms-1",
        sender="+48 601 555 204",
        text="Dzień dobry, dzwoniłam dwa razy w sprawie zamówienia. Proszę o telefon po 15.",
        at=now - dt.timedelta(minutes=60),
    )
