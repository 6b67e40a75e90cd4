"""Domain events: after commit, never on rollback; batches reach batch subscribers as one list."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import transaction

from opiekun.core import events


@dataclass(frozen=True)
class Said(events.DomainEvent):
    text: str


@dataclass(frozen=True)
class Shouted(Said):
    pass


@pytest.fixture
def heard():
    one: list[Said] = []
    many: list[list[Said]] = []

    def on_one(event: Said) -> None:
        one.append(event)

    def on_many(batch: list[Said]) -> None:
        many.append(batch)

    events.subscribe(Said, on_one)
    events.subscribe_many(Said, on_many)
    yield one, many
    events._subscribers[Said].remove(on_one)
    events._batch_subscribers[Said].remove(on_many)


@pytest.mark.django_db
def test_a_batch_reaches_batch_subscribers_once_and_plain_ones_event_by_event(
    heard, django_capture_on_commit_callbacks
):
    one, many = heard
    batch = [Said(1, "a"), Shouted(1, "B"), Said(2, "c")]
    with django_capture_on_commit_callbacks(execute=True) as hooks, transaction.atomic():
        events.publish_many(batch)
        assert one == [] and many == []  # nothing before the commit
    assert len(hooks) == 1  # one after-commit hook for the whole batch
    assert one == batch  # subclasses included, in order
    assert many == [batch]
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(Said(1, "d"))  # a lone event: a list of one for batch subscribers
    assert many[-1] == [Said(1, "d")] and one[-1] == Said(1, "d")


@pytest.mark.django_db
def test_a_rolled_back_batch_is_never_heard_and_a_failing_subscriber_spares_the_others(
    heard, django_capture_on_commit_callbacks
):
    one, many = heard
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish_many([Said(1, "gone")])
        raise RuntimeError
    assert one == [] and many == []

    def broken(batch: list[Said]) -> None:
        raise ValueError("a bug")

    events._batch_subscribers[Said].insert(0, broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events.publish_many([Said(1, "still heard")])
    finally:
        events._batch_subscribers[Said].remove(broken)
    assert many == [[Said(1, "still heard")]] and one == [Said(1, "still heard")]
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        events.publish_many([])  # nothing to say: no hook at all
    assert hooks == []
