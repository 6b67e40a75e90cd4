"""Deadlines in business hours: "30 minutes" counts only opening hours, skipping weekends and (for
Polish shops) the public holidays set by the Act of 18 January 1951, Easter-dependent ones included."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month = (h + leap - 7 * m + 114) // 31
    day = (h + leap - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


@cache
def polish_holidays(year: int) -> frozenset[dt.date]:
    sunday = easter(year)
    fixed = [(1, 1), (1, 6), (5, 1), (5, 3), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26)]
    if year >= 2025:
        fixed.append((12, 24))  # Christmas Eve is a public holiday from 2025 on
    days = {dt.date(year, m, d) for m, d in fixed}
    days |= {
        sunday,
        sunday + dt.timedelta(days=1),
        sunday + dt.timedelta(days=49),
        sunday + dt.timedelta(days=60),
    }
    return frozenset(days)


def parse_span(text: str) -> tuple[dt.time, dt.time] | None:
    """'08:00-16:00' -> (08:00, 16:00); None for an empty or malformed span."""
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-", 1))
    except ValueError:
        return None
    return (start, end) if start < end else None


class Hours:
    """Opening hours per weekday in one time zone; no hours at all means around the clock."""

    def __init__(self, spans: dict[str, str], tz: str, holidays: bool = True) -> None:
        self.tz = ZoneInfo(tz)
        self.holidays = holidays
        self.spans = {day: span for day, text in (spans or {}).items() if (span := parse_span(text or ""))}

    def _span_on(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        if self.holidays and day in polish_holidays(day.year):
            return None
        span = self.spans.get(DAYS[day.weekday()])
        if span is None:
            return None
        return (
            dt.datetime.combine(day, span[0], tzinfo=self.tz),
            dt.datetime.combine(day, span[1], tzinfo=self.tz),
        )

    def is_open(self, at: dt.datetime) -> bool:
        if not self.spans:
            return True
        span = self._span_on(at.astimezone(self.tz).date())
        return span is not None and span[0] <= at < span[1]

    def add(self, start: dt.datetime, minutes: int) -> dt.datetime:
        """`start` plus `minutes` of opening hours (a call after closing is due `minutes` after the next
        opening)."""
        if not self.spans:
            return start + dt.timedelta(minutes=minutes)
        left = dt.timedelta(minutes=minutes)
        day = start.astimezone(self.tz).date()
        for _ in range(400):  # a year and a bit: hours that never open end the search
            span = self._span_on(day)
            if span is not None:
                begin = max(span[0], start)
                if begin < span[1]:
                    room = span[1] - begin
                    if left <= room:
                        return begin + left
                    left -= room
            day += dt.timedelta(days=1)
        return start + dt.timedelta(minutes=minutes)
