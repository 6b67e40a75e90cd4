"""The worker heartbeat /healthz reads: ok while fresh, starting before the first beat, error when stale."""

from __future__ import annotations

import time

import pytest
from huey.contrib.djhuey import HUEY

from opiekun.core import heartbeat


@pytest.fixture
def queued_mode(monkeypatch):  # type: ignore[no-untyped-def]
    """Heartbeat logic as a real worker sees it (the suite runs tasks inline, which is always "ok")."""
    monkeypatch.setattr(heartbeat, "_PROCESS_STARTED", time.monotonic())  # a process that just started
    HUEY.immediate = False
    HUEY.storage = HUEY.get_immediate_storage()  # an in-memory queue, not the data folder's
    heartbeat.forget()
    yield
    heartbeat.forget()
    HUEY.immediate = True


def test_inline_tasks_are_always_ok():
    assert HUEY.immediate
    assert heartbeat.worker_status() == {"status": "ok", "mode": "immediate"}


def test_a_fresh_beat_is_ok(queued_mode):
    heartbeat.beat()
    status = heartbeat.worker_status()
    assert status["status"] == "ok" and status["last_beat_seconds_ago"] < 5


def test_no_beat_yet_is_starting_then_an_error(queued_mode, monkeypatch):
    assert heartbeat.worker_status()["status"] == "starting"
    monkeypatch.setattr(heartbeat, "_PROCESS_STARTED", time.monotonic() - heartbeat.STALE_AFTER - 1)
    assert heartbeat.worker_status() == {"status": "error", "error": "no worker heartbeat"}


def test_a_stale_beat_is_an_error(queued_mode):
    HUEY.storage.put_data(heartbeat.KEY, str(time.time() - heartbeat.STALE_AFTER - 10).encode())
    status = heartbeat.worker_status()
    assert status["status"] == "error" and status["last_beat_seconds_ago"] > heartbeat.STALE_AFTER


def test_forget_drops_the_beat(queued_mode):
    heartbeat.beat()
    heartbeat.forget()
    assert heartbeat.worker_status()["status"] == "starting"


def test_garbage_in_the_key_is_not_a_beat(queued_mode):
    HUEY.storage.put_data(heartbeat.KEY, b"not a number")
    assert heartbeat.worker_status()["status"] == "starting"


def test_the_periodic_task_beats(queued_mode):
    from opiekun.core.tasks import worker_heartbeat

    worker_heartbeat.call_local()
    assert heartbeat.worker_status()["status"] == "ok"
