"""Domain events, published after the transaction commits (never from model save/signals).

Services call `publish(SomethingHappened(...))` inside their transaction; subscribers (realtime
fan-out, delivery, automation) run only once the data they will read is committed. Outside a
transaction the event is delivered at once. A failing subscriber is logged and never breaks the
write that already happened or the other subscribers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    shop_id: int


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]
_subscribers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)
_batch_subscribers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Register `handler` for `event_type` (and its subclasses). Idempotent per handler."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def subscribe_many(event_type: type[E], handler: Callable[[list[E]], None]) -> None:
    """Register `handler` for lists of `event_type` events published together (one call per batch;
    a lone `publish` makes a list of one). Idempotent per handler."""
    if handler not in _batch_subscribers[event_type]:
        _batch_subscribers[event_type].append(handler)


def _call(handler: Handler, what: Any) -> None:
    try:
        handler(what)
    except Exception:
        log.exception("subscriber %s failed on %s", getattr(handler, "__name__", handler), what)


def _dispatch(events: list[DomainEvent]) -> None:
    for event in events:
        for event_type, handlers in list(_subscribers.items()):
            if isinstance(event, event_type):
                for handler in list(handlers):
                    _call(handler, event)
    for event_type, handlers in list(_batch_subscribers.items()):
        matching = [e for e in events if isinstance(e, event_type)]
        if matching:
            for handler in list(handlers):
                _call(handler, matching)


def publish(event: DomainEvent) -> None:
    """Deliver `event` to its subscribers after the current transaction commits."""
    transaction.on_commit(lambda: _dispatch([event]), robust=True)


def publish_many(events: list[DomainEvent]) -> None:
    """Deliver `events` (in order) after the current transaction commits, as one batch."""
    if events:
        batch = list(events)
        transaction.on_commit(lambda: _dispatch(batch), robust=True)
