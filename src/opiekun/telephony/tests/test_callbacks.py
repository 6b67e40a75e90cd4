"""Attempts at a callback: reached closes it, a wrong number or the last allowed try gives it up."""

from __future__ import annotations

import datetime as dt

import pytest

from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.telephony import selectors, services
from opiekun.telephony.hours import Hours, easter, polish_holidays
from opiekun.telephony.models import Callback
from opiekun.testing.factories import AgentFactory

W = dt.timezone(dt.timedelta(hours=1))


def _callback(shop, number="+48601000001", due_in=30) -> Callback:
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=W)
    return Callback.objects.create(
        shop=shop,
        number=number,
        first_call_at=now,
        last_call_at=now,
        due_at=now + dt.timedelta(minutes=due_in),
        created_at=now,
    )


def test_no_answer_until_the_attempts_run_out(shop, agent):
    services.policy_update(shop=shop, max_attempts=3)
    callback = _callback(shop)
    for outcome in ("no_answer", "busy"):
        services.callback_attempt_log(callback=callback, agent=agent, outcome=outcome)
        callback.refresh_from_db()
        assert callback.status == "open"
    services.callback_attempt_log(callback=callback, agent=agent, outcome="no_answer")
    callback.refresh_from_db()
    assert (callback.status, callback.closed_reason, callback.attempts) == ("exhausted", "attempts", 3)
    with pytest.raises(ValidationFailed):
        services.callback_attempt_log(callback=callback, agent=agent, outcome="reached")
    assert callback.attempt_rows.count() == 3


def test_reached_and_wrong_number_close_at_once(shop, agent):
    first, second = _callback(shop), _callback(shop, number="+48601000002")
    services.callback_attempt_log(callback=first, agent=agent, outcome="reached", note="Order explained")
    services.callback_attempt_log(callback=second, agent=agent, outcome="wrong_number")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.closed_by) == ("reached", agent)
    assert (second.status, second.closed_reason) == ("exhausted", "wrong_number")


def test_another_shops_agent_cannot_log_and_ids_are_scoped(shop, other_shop):
    callback = _callback(shop)
    stranger = AgentFactory(shop=other_shop)
    with pytest.raises(ValidationFailed):
        services.callback_attempt_log(callback=callback, agent=stranger, outcome="reached")
    assert callback.attempt_rows.count() == 0
    with pytest.raises(NotFound):
        selectors.access_callback(shop_id=other_shop.pk, callback_id=callback.pk)


def test_views_split_due_overdue_done(shop, agent):
    now = dt.datetime(2026, 3, 2, 10, 15, tzinfo=W)
    due, overdue, done = (
        _callback(shop, "+48601000003"),
        _callback(shop, "+48601000004", due_in=5),
        _callback(shop, "+48601000005"),
    )
    services.callback_attempt_log(callback=done, agent=agent, outcome="reached")
    assert [c.pk for c in selectors.callbacks_list(shop_id=shop.pk, view="due", now=now)] == [due.pk]
    assert [c.pk for c in selectors.callbacks_list(shop_id=shop.pk, view="overdue", now=now)] == [overdue.pk]
    assert [c.pk for c in selectors.callbacks_list(shop_id=shop.pk, view="done", now=now)] == [done.pk]
    assert selectors.callback_counts(shop_id=shop.pk, now=now).open == 2


def test_business_hours_skip_nights_weekends_and_polish_holidays():
    hours = Hours({d: "08:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")}, "Europe/Warsaw")
    from zoneinfo import ZoneInfo

    w = ZoneInfo("Europe/Warsaw")
    assert easter(2026) == dt.date(2026, 4, 5)
    assert dt.date(2026, 4, 6) in polish_holidays(2026) and dt.date(2026, 6, 4) in polish_holidays(2026)
    friday = dt.datetime(2026, 4, 3, 15, 50, tzinfo=w)  # Easter Monday follows the weekend
    assert hours.add(friday, 30) == dt.datetime(2026, 4, 7, 8, 20, tzinfo=w)
    assert hours.add(dt.datetime(2026, 3, 2, 6, 0, tzinfo=w), 30) == dt.datetime(2026, 3, 2, 8, 30, tzinfo=w)
    assert Hours({}, "Europe/Warsaw").add(friday, 30) == friday + dt.timedelta(minutes=30)
