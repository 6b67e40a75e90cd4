"""The worker's heartbeat, kept in the task queue's own storage so web and worker processes share it."""

from __future__ import annotations

import time

from huey.constants import EmptyData
from huey.contrib.djhuey import HUEY

KEY = "opiekun:worker-heartbeat"
STALE_AFTER = 150  # seconds; the periodic beat runs every minute


def beat() -> None:
    HUEY.storage.put_data(KEY, str(time.time()).encode())


def worker_status() -> dict:
    try:
        raw = HUEY.storage.peek_data(KEY)
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__}
    if HUEY.immediate:
        return {"status": "ok", "mode": "immediate"}
    if raw is EmptyData or not raw:
        return {"status": "starting", "detail": "no heartbeat yet"}
    try:
        age = time.time() - float(raw.decode() if isinstance(raw, bytes) else raw)
    except (TypeError, ValueError):
        return {"status": "starting", "detail": "no heartbeat yet"}
    return {"status": "ok" if age < STALE_AFTER else "error", "last_beat_seconds_ago": round(age, 1)}
