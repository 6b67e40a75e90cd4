"""Storing accepted webhooks before answering 200: durably, once, and in groups under load.

Platforms treat a 200 as "delivered" and many never retry, so the row must be committed (fsynced on
SQLite) before we answer. One commit per request would make the fsync the limit; instead concurrent
requests of a process share commits: the first to arrive writes what is waiting (a *leader*), the
ones arriving meanwhile wait, and the next batch is written by one of them. A lone request pays one
commit; under load a commit serves many. Nothing waits on a timer. Replays are caught by the unique
(endpoint, key) constraint — `ON CONFLICT DO NOTHING` — within a batch as across batches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from opiekun.core import clock
from opiekun.core.bulk import marks
from opiekun.core.durability import durable_atomic

from .models import Delivery

MAX_BATCH = 128


@dataclass
class Arrival:
    endpoint_id: int
    key: str
    topic: str
    body: bytes
    headers: dict[str, str]
    duplicate: bool = False
    error: BaseException | None = None
    lead: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class GroupCommit:
    """Leader-follower group commit of arrivals; `store` returns when the arrival is committed."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self._lock = threading.Lock()
        self._waiting: list[Arrival] = []
        self._leading = False
        self._max = max_batch

    def store(self, arrival: Arrival) -> Arrival:
        with self._lock:
            self._waiting.append(arrival)
            if not self._leading:
                self._leading = arrival.lead = True
        if not arrival.lead:
            arrival.done.wait()
            if not arrival.lead:  # written by a leader
                return arrival
            # promoted: this thread writes the next batch (its own arrival is in it)
        # Leading: the batch holds this arrival (it is the oldest waiting one) and what came meanwhile.
        with self._lock:
            batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
        self._write(batch)
        with self._lock:
            if self._waiting:  # hand the lead to the oldest waiting arrival
                self._waiting[0].lead = True
                self._waiting[0].done.set()
            else:
                self._leading = False
        for other in batch:
            if other is not arrival:
                other.done.set()
        return arrival

    @staticmethod
    def _write(batch: list[Arrival]) -> None:
        try:
            inserted = insert_deliveries(batch)
        except Exception as exc:  # the database is away: every request of the batch answers 503
            for arrival in batch:
                arrival.error = exc
            return
        seen: set[tuple[int, str]] = set()
        for arrival in batch:
            ident = (arrival.endpoint_id, arrival.key)
            arrival.duplicate = ident not in inserted or ident in seen
            seen.add(ident)


def insert_deliveries(arrivals: list[Arrival]) -> set[tuple[int, str]]:
    """Insert what is new in one durable commit; returns the (endpoint, key) pairs that were inserted."""
    fields: list[Any] = [
        Delivery._meta.get_field(name) for name in ("endpoint", "key", "topic", "body", "headers")
    ]
    received: Any = Delivery._meta.get_field("received_at")
    now = received.get_db_prep_save(clock.now(), connection)
    params: list[Any] = []
    for a in arrivals:
        values = (a.endpoint_id, a.key, a.topic, a.body, a.headers)
        params += [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
        params.append(now)
    quote = connection.ops.quote_name
    row = "(" + marks(6) + ", 0, '')"
    sql = (
        f"INSERT INTO {quote(Delivery._meta.db_table)} (endpoint_id, {quote('key')}, topic, body, headers,"
        f" received_at, attempts, error) VALUES {', '.join([row] * len(arrivals))}"
        f" ON CONFLICT (endpoint_id, {quote('key')}) DO NOTHING RETURNING endpoint_id, {quote('key')}"
    )
    with durable_atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(int(e), str(k)) for e, k in cursor.fetchall()}


group = GroupCommit()
