"""Turning stored deliveries into domain records, exactly once, in batches, with retries.

The worker claims the oldest pending deliveries, hands each endpoint's share to its source's
`process` and marks them processed in the same transaction — a crash anywhere leaves them pending
and nothing half-done. On PostgreSQL several workers skip each other's rows (`SKIP LOCKED`); on
SQLite the write transaction is exclusive. A batch that raises is retried delivery by delivery, so
one poisoned payload cannot hold back the rest: it is retried with backoff and, after MAX_ATTEMPTS,
kept with its error for an admin to see.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import timedelta

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Q, QuerySet

from opiekun.core import clock
from opiekun.core.bulk import bulk_set

from .models import Delivery, Endpoint
from .registry import sources

log = logging.getLogger(__name__)

BATCH = 200
# On SQLite a batch holds the one write lock the intake also needs: keep each transaction short so an
# arriving webhook never waits long for its commit, whatever a source costs per delivery.
BATCH_SECONDS = 0.05
MAX_ATTEMPTS = 8
IDLE_WAIT = 0.2  # seconds the processor sleeps when nothing is pending
AWAY_WAIT_MAX = 30.0


def backoff(attempts: int) -> timedelta:
    """5 s, 20 s, 80 s … capped at an hour."""
    return timedelta(seconds=min(3600, 5 * 4 ** max(0, attempts - 1)))


def process_pending(limit: int = 2000) -> int:
    """Process up to `limit` due deliveries; returns how many were processed (successfully or given up)."""
    done, size = 0, 20 if connection.vendor == "sqlite" else BATCH
    while done < limit:
        started = time.perf_counter()
        count = _process_batch(min(size, limit - done))
        if count == 0:
            break
        done += count
        if connection.vendor == "sqlite":  # PostgreSQL's row locks let the intake commit meanwhile
            per_delivery = (time.perf_counter() - started) / count
            size = max(1, min(BATCH, int(BATCH_SECONDS / max(per_delivery, 1e-5))))
        else:
            size = BATCH
    return done


def _due_query() -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(processed_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=clock.now()))
        .order_by("id")
    )


def _due(size: int) -> list[Delivery]:
    query = _due_query()
    if connection.vendor == "postgresql":
        query = query.select_for_update(skip_locked=True)
    return list(query[:size])


def _process_batch(size: int) -> int:
    failed: list[Delivery] = []
    # Looked for outside the transaction first: on SQLite a transaction takes the one write lock at its
    # start, and an idle poll (several a second per process) would queue every other writer behind it.
    if not _due_query().exists():
        return 0
    with transaction.atomic():
        deliveries = _due(size)
        if not deliveries:
            return 0
        by_endpoint: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            by_endpoint[delivery.endpoint_id].append(delivery)
        endpoints = Endpoint.objects.in_bulk(list(by_endpoint))
        finished: list[Delivery] = []
        for endpoint_id, group in by_endpoint.items():
            endpoint = endpoints[endpoint_id]
            try:
                with transaction.atomic():
                    _hand_over(endpoint, group)
            except Exception:
                log.warning(
                    "a batch of %d %s deliveries failed; retrying one by one", len(group), endpoint.source
                )
                failed += group
                continue
            finished += group
        _mark_processed(finished)
    for delivery in failed:  # each alone, so the good ones go through
        _process_one(delivery)
    return len(deliveries)


def _hand_over(endpoint: Endpoint, deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        delivery.endpoint = endpoint
        delivery.error = ""
    sources.get(endpoint.source).process(endpoint, deliveries)


def _mark_processed(deliveries: list[Delivery]) -> None:
    now = clock.now()
    for delivery in deliveries:
        delivery.processed_at = now
        delivery.attempts += 1
    bulk_set(deliveries, ["processed_at", "attempts", "error"])


def _process_one(delivery: Delivery) -> None:
    with transaction.atomic():
        # Re-read under the lock: another worker may have taken it meanwhile.
        query = Delivery.objects.filter(pk=delivery.pk, processed_at__isnull=True)
        if connection.vendor == "postgresql":
            query = query.select_for_update(skip_locked=True)
        current = query.select_related("endpoint").first()
        if current is None:
            return
        try:
            with transaction.atomic():
                _hand_over(current.endpoint, [current])
        except Exception as exc:
            current.attempts += 1
            current.error = f"{type(exc).__name__}: {exc}"[:2000]
            if current.attempts >= MAX_ATTEMPTS:
                current.processed_at = clock.now()  # given up: kept, with its error, for an admin
                log.error(
                    "webhook delivery %s given up after %d attempts: %s", current.pk, current.attempts, exc
                )
            else:
                current.next_attempt_at = clock.now() + backoff(current.attempts)
            current.save(update_fields=["attempts", "error", "processed_at", "next_attempt_at"])
            return
        _mark_processed([current])


def retry(delivery: Delivery) -> None:
    """Put a given-up delivery back in line (an admin fixed the cause)."""
    Delivery.objects.filter(pk=delivery.pk).update(
        processed_at=None, next_attempt_at=None, attempts=0, error=""
    )


class Processor:
    """The worker's loop: process what is pending, sleep briefly when there is nothing."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-processor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        away = 0.0  # seconds to wait while the database is unreachable (grows to AWAY_WAIT_MAX)
        while not self._stop.is_set():
            try:
                close_old_connections()
                count = process_pending()
            except DatabaseError as exc:  # the database is away: say so once per wait, no traceback
                away = min(AWAY_WAIT_MAX, max(1.0, away * 2))
                log.warning(
                    "webhook processing paused, the database is unavailable (%s); retry in %.0f s", exc, away
                )
                connection.close()
                self._stop.wait(away)
                continue
            except Exception:
                log.exception("webhook processing failed; trying again shortly")
                count = 0
            away = 0.0
            if count == 0:
                self._stop.wait(IDLE_WAIT)
        connection.close()


def processor_service() -> Processor:
    return Processor()
