"""Reads of telephony for the desk, the API and reports; every one takes the shop."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from opiekun.agents.models import Agent
from opiekun.core import clock
from opiekun.core.errors import NotFound

from .models import Call, Callback, CallbackAttempt, PhoneLine

DUE_SOON = dt.timedelta(hours=1)
VIEWS = ("due", "overdue", "done", "mine")


def _callbacks(shop_id: int) -> QuerySet[Callback]:
    return Callback.objects.filter(shop_id=shop_id).select_related(
        "contact", "owner", "team", "escalated_to", "closed_by", "conversation"
    )


def callbacks_list(
    *, shop_id: int, view: str, agent: Agent | None = None, now: dt.datetime | None = None, limit: int = 100
) -> list[Callback]:
    """Callbacks of one view: due (open, deadline ahead), overdue (open, deadline passed), done, mine."""
    now = now or clock.now()
    query = _callbacks(shop_id)
    if view == "overdue":
        query = query.filter(status=Callback.Status.OPEN, due_at__lte=now).order_by("due_at", "id")
    elif view == "done":
        query = query.exclude(status=Callback.Status.OPEN).order_by("-closed_at", "-id")
    elif view == "mine" and agent is not None:
        query = (
            query.filter(status=Callback.Status.OPEN)
            .filter(Q(owner=agent) | Q(escalated_to=agent) | Q(owner__isnull=True, team__members=agent))
            .distinct()
            .order_by("due_at", "id")
        )
    else:
        query = query.filter(status=Callback.Status.OPEN, due_at__gt=now).order_by("due_at", "id")
    return list(query[:limit])


@dataclass(frozen=True)
class CallbackCounts:
    due: int
    overdue: int
    mine: int

    @property
    def open(self) -> int:
        return self.due + self.overdue


def callback_counts(
    *, shop_id: int, agent: Agent | None = None, now: dt.datetime | None = None
) -> CallbackCounts:
    now = now or clock.now()
    open_ = Callback.objects.filter(shop_id=shop_id, status=Callback.Status.OPEN)
    overdue = open_.filter(due_at__lte=now).count()
    total = open_.count()
    mine = open_.filter(Q(owner=agent) | Q(escalated_to=agent)).count() if agent is not None else 0
    return CallbackCounts(due=total - overdue, overdue=overdue, mine=mine)


def access_callback(*, shop_id: int, callback_id: int) -> Callback:
    """One callback of the shop; NotFound for another shop's id exactly as for a missing one."""
    callback = _callbacks(shop_id).filter(pk=callback_id).first()
    if callback is None:
        raise NotFound("callback")
    return callback


def callback_attempts(*, callback: Callback) -> list[CallbackAttempt]:
    return list(callback.attempt_rows.select_related("agent").order_by("at", "id"))


def attempts_of(*, callback_ids: list[int]) -> dict[int, list[CallbackAttempt]]:
    out: dict[int, list[CallbackAttempt]] = {pk: [] for pk in callback_ids}
    for attempt in (
        CallbackAttempt.objects.filter(callback_id__in=callback_ids)
        .select_related("agent")
        .order_by("at", "id")
    ):
        out[attempt.callback_id].append(attempt)
    return out


def calls_of_contact(*, shop_id: int, contact_id: int, limit: int = 20) -> list[Call]:
    return list(
        Call.objects.filter(shop_id=shop_id, contact_id=contact_id)
        .select_related("answered_by", "placed_by", "recording")
        .order_by("-started_at")[:limit]
    )


def calls_of_callbacks(*, callback_ids: list[int]) -> dict[int, list[Call]]:
    out: dict[int, list[Call]] = {pk: [] for pk in callback_ids}
    for call in Call.objects.filter(callback_id__in=callback_ids).order_by("started_at"):
        out[call.callback_id].append(call)  # type: ignore[index]
    return out


def lines_of_shop(*, shop_id: int) -> list[PhoneLine]:
    return list(PhoneLine.objects.filter(shop_id=shop_id).select_related("endpoint", "inbox").order_by("id"))


def can_place_calls(*, shop_id: int) -> bool:
    return PhoneLine.objects.filter(
        shop_id=shop_id, purpose=PhoneLine.Purpose.VOICE, is_active=True, provider__in=("twilio", "zadarma")
    ).exists()
