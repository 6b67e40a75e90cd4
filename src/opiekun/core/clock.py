"""The one place code asks what time it is, so tests can move time (opiekun.testing.clock)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    return _frozen if _frozen is not None else timezone.now()


def freeze(at: dt.datetime | None) -> None:
    """Tests only: pin the clock at `at` (None lets it run again)."""
    global _frozen
    _frozen = at
