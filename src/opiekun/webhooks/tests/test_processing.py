"""Processing stored deliveries: exactly once, in order, one poisoned payload never holds back the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opiekun.core import clock
from opiekun.webhooks import intake, processing, selectors, services
from opiekun.webhooks.models import Delivery

from .test_intake import SOURCE, SignedJSON, source  # noqa: F401  (fixture)


@pytest.fixture
def endpoint(shop, source):  # noqa: F811
    return services.endpoint_create(shop=shop, source=source.name, secret="x")


def arrive(endpoint, *keys: str) -> None:
    for key in keys:
        intake.group.store(intake.Arrival(endpoint.pk, key, "t", b"{}", {}))


def test_pending_deliveries_are_processed_once_oldest_first(endpoint, source: SignedJSON):  # noqa: F811
    arrive(endpoint, "a", "b", "c")
    assert processing.process_pending() == 3
    assert processing.process_pending() == 0
    assert source.seen == [(endpoint.pk, ["a", "b", "c"])]
    assert not Delivery.objects.filter(processed_at__isnull=True).exists()
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


def test_an_idle_poll_opens_no_write_transaction(endpoint, source: SignedJSON, monkeypatch):  # noqa: F811
    """On SQLite a transaction holds the one write lock from its start: polling must not take it."""
    opened = []
    atomic = processing.transaction.atomic
    monkeypatch.setattr(processing.transaction, "atomic", lambda *a, **k: opened.append(1) or atomic(*a, **k))
    assert processing.process_pending() == 0
    assert opened == []
    arrive(endpoint, "a")
    assert processing.process_pending() == 1
    assert opened and source.seen == [(endpoint.pk, ["a"])]


def test_a_poisoned_delivery_is_retried_with_backoff_while_the_others_go_through(
    endpoint,
    source: SignedJSON,  # noqa: F811
):
    arrive(endpoint, "good-1", "bad", "good-2")
    source.poison.add("bad")
    assert processing.process_pending() == 3
    assert [keys for _, keys in source.seen] == [["good-1"], ["good-2"]]
    bad = Delivery.objects.get(key="bad")
    assert (bad.processed_at, bad.attempts) == (None, 1)
    assert bad.error == "ValueError: cannot read bad"
    assert bad.next_attempt_at > clock.now() + timedelta(seconds=4)
    assert processing.process_pending() == 0  # not due yet
    health = selectors.endpoint_health(endpoint)
    assert (health.pending, health.failed, health.last_error) == (1, 1, "ValueError: cannot read bad")


def test_a_delivery_failing_every_attempt_is_given_up_kept_and_can_be_retried(
    endpoint,
    source: SignedJSON,  # noqa: F811
):
    arrive(endpoint, "bad")
    source.poison.add("bad")
    for _ in range(processing.MAX_ATTEMPTS):
        Delivery.objects.update(next_attempt_at=None)
        processing.process_pending()
    bad = Delivery.objects.get()
    assert bad.attempts == processing.MAX_ATTEMPTS and bad.processed_at is not None and bad.error
    source.poison.clear()
    processing.retry(bad)
    assert processing.process_pending() == 1
    assert source.seen == [(endpoint.pk, ["bad"])]
    assert Delivery.objects.get().error == ""


def test_backoff_grows_and_is_capped():
    assert [processing.backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 20, 80]
    assert processing.backoff(30) == timedelta(hours=1)


@pytest.mark.django_db(transaction=True)
def test_the_worker_thread_processes_what_arrives_and_stops_cleanly(shop, source: SignedJSON):  # noqa: F811
    import time

    endpoint = services.endpoint_create(shop=shop, source=source.name, secret="x")
    # Stored before the thread starts: the test database is SQLite's shared-cache memory database,
    # where a write racing the thread's read is refused at once (no busy timeout) and the thread would
    # back off as if the database were away.
    arrive(endpoint, "live-1", "live-2")
    worker = processing.processor_service()
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while Delivery.objects.filter(processed_at__isnull=True).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert not Delivery.objects.filter(processed_at__isnull=True).exists()
    assert [key for _, keys in source.seen for key in keys] == ["live-1", "live-2"]
    assert not worker._thread.is_alive()
