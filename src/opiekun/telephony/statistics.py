"""Phone and SMS figures for reports, per shop and per agent and day (in the installation's time zone).

Calls in and out, answered, missed (abandoned and voicemail counted apart), the abandonment rate; for
callbacks: how long until the customer was reached, the share reached within the deadline, attempts
per callback; texts sent, delivered and failed. Computed from the rows themselves in a few grouped
queries, so they never disagree with what the desk shows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from opiekun.conversations.models import ChannelKind, Message

from .models import Call, Callback, CallState


@dataclass
class Figures:
    calls_in: int = 0
    calls_out: int = 0
    answered: int = 0
    missed: int = 0
    abandoned: int = 0
    voicemail: int = 0
    callbacks: int = 0
    callbacks_reached: int = 0
    callbacks_exhausted: int = 0
    callbacks_open: int = 0
    reached_within_deadline: int = 0
    attempts: int = 0
    minutes_to_callback: list[float] = field(default_factory=list)
    sms_sent: int = 0
    sms_delivered: int = 0
    sms_failed: int = 0

    @property
    def abandonment_rate(self) -> float | None:
        """Unanswered inbound calls (missed, abandoned, voicemail) per inbound call."""
        unanswered = self.missed + self.abandoned + self.voicemail
        return round(unanswered / self.calls_in, 4) if self.calls_in else None

    @property
    def within_deadline_rate(self) -> float | None:
        closed = self.callbacks_reached + self.callbacks_exhausted
        return round(self.reached_within_deadline / closed, 4) if closed else None

    @property
    def attempts_per_callback(self) -> float | None:
        closed = self.callbacks_reached + self.callbacks_exhausted
        return round(self.attempts / closed, 2) if closed else None

    @property
    def median_minutes_to_callback(self) -> float | None:
        values = sorted(self.minutes_to_callback)
        if not values:
            return None
        mid = len(values) // 2
        return round(values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2, 1)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("minutes_to_callback")
        data.update(
            abandonment_rate=self.abandonment_rate,
            within_deadline_rate=self.within_deadline_rate,
            attempts_per_callback=self.attempts_per_callback,
            median_minutes_to_callback=self.median_minutes_to_callback,
        )
        return data


@dataclass
class PhoneReport:
    total: Figures
    by_day: dict[str, Figures]
    by_agent: dict[int, Figures]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.as_dict(),
            "by_day": {day: f.as_dict() for day, f in sorted(self.by_day.items())},
            "by_agent": {str(agent): f.as_dict() for agent, f in sorted(self.by_agent.items())},
        }


def phone_report(*, shop_id: int, start: dt.datetime, end: dt.datetime) -> PhoneReport:
    """Figures of the calls started, callbacks opened and texts sent in [start, end) (reads calls,
    callbacks, SMS messages of the shop)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    total = Figures()
    by_day: dict[str, Figures] = defaultdict(Figures)
    by_agent: dict[int, Figures] = defaultdict(Figures)

    def buckets(at: dt.datetime, agent_id: int | None) -> list[Figures]:
        out = [total, by_day[at.astimezone(tz).date().isoformat()]]
        if agent_id is not None:
            out.append(by_agent[agent_id])
        return out

    calls = Call.objects.filter(shop_id=shop_id, started_at__gte=start, started_at__lt=end).values_list(
        "direction", "state", "started_at", "answered_by_id", "placed_by_id"
    )
    for direction, state, started, answered_by, placed_by in calls:
        for f in buckets(started, answered_by or placed_by):
            if direction == Call.Direction.OUTBOUND:
                f.calls_out += 1
                continue
            f.calls_in += 1
            if state in (CallState.ENDED, CallState.ANSWERED):
                f.answered += 1
            elif state == CallState.ABANDONED:
                f.abandoned += 1
            elif state == CallState.VOICEMAIL:
                f.voicemail += 1
            elif state == CallState.MISSED:
                f.missed += 1
    callbacks = Callback.objects.filter(
        shop_id=shop_id, first_call_at__gte=start, first_call_at__lt=end
    ).values_list("status", "first_call_at", "due_at", "closed_at", "closed_by_id", "attempts")
    for status, first, due, closed, closed_by, attempts in callbacks:
        for f in buckets(first, closed_by):
            f.callbacks += 1
            f.attempts += attempts
            if status == Callback.Status.OPEN:
                f.callbacks_open += 1
            elif status == Callback.Status.REACHED:
                f.callbacks_reached += 1
                if closed is not None:
                    f.minutes_to_callback.append((closed - first).total_seconds() / 60)
                    if closed <= due:
                        f.reached_within_deadline += 1
            else:
                f.callbacks_exhausted += 1
    texts = Message.objects.filter(
        shop_id=shop_id,
        channel=ChannelKind.SMS,
        direction=Message.Direction.OUTBOUND,
        is_internal=False,
        created_at__gte=start,
        created_at__lt=end,
    ).values_list("delivery_status", "created_at", "author_agent_id")
    for status, created, agent in texts:
        for f in buckets(created, agent):
            if status in (Message.Delivery.SENT, Message.Delivery.DELIVERED):
                f.sms_sent += 1
            if status == Message.Delivery.DELIVERED:
                f.sms_delivered += 1
            if status == Message.Delivery.FAILED:
                f.sms_failed += 1
    return PhoneReport(total, dict(by_day), dict(by_agent))
