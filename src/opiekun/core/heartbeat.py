"""The worker's heartbeat, kept in the task queue's own storage so web and worker processes share it.

A worker thread writes the beat (the periodic `worker_heartbeat` task, and once at start-up), so a
fresh beat proves that tasks really run, not merely that a process is up.
"""

from __future__ import annotations

import time
from typing import Any

from huey.constants import EmptyData
from huey.contrib.djhuey import HUEY

KEY = "opiekun:worker-heartbeat"
STALE_AFTER = 150  # seconds; the periodic beat runs every minute
# A web process that never saw a beat is "starting" for this long, then the missing worker is an error.
_PROCESS_STARTED = time.monotonic()


def beat() -> None:
    """Record that a worker is alive now (writes one key in the task queue's storage)."""
    HUEY.storage.put_data(KEY, str(time.time()).encode())


def forget() -> None:
    """Drop the last beat (a new worker starts): an old run's beat must not vouch for this one."""
    HUEY.storage.pop_data(KEY)


def worker_status() -> dict[str, Any]:
    """The worker's health as /healthz reports it: ok, starting (no beat yet) or error."""
    if HUEY.immediate:
        return {"status": "ok", "mode": "immediate"}
    try:
        raw = HUEY.storage.peek_data(KEY)
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__}
    last = _parse(raw)
    if last is None:
        if time.monotonic() - _PROCESS_STARTED < STALE_AFTER:
            return {"status": "starting", "detail": "no heartbeat yet"}
        return {"status": "error", "error": "no worker heartbeat"}
    age = max(0.0, time.time() - last)
    if age < STALE_AFTER:
        return {"status": "ok", "last_beat_seconds_ago": round(age, 1)}
    return {"status": "error", "error": "worker heartbeat is stale", "last_beat_seconds_ago": round(age, 1)}


def _parse(raw: object) -> float | None:
    if raw is EmptyData or not raw:
        return None
    try:
        return float(raw.decode() if isinstance(raw, bytes) else raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
