"""GET /healthz in-process: the JSON shape, and 503 with the failing part named (see tests/test_serving.py
for the same against a real `opiekun run` and an unreachable database)."""

from __future__ import annotations

import time

import pytest
from huey.contrib.djhuey import HUEY

from opiekun.config import health
from opiekun.core import heartbeat


@pytest.mark.django_db
def test_healthz_reports_database_channel_layer_and_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok" and body["database"]["vendor"] in ("sqlite", "postgresql")
    assert body["channel_layer"] == {"status": "ok", "backend": "InMemoryChannelLayer"}
    assert body["worker"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_the_worker_heartbeat_is_stale(client):
    HUEY.immediate = False
    HUEY.storage = HUEY.get_immediate_storage()
    try:
        HUEY.storage.put_data(heartbeat.KEY, str(time.time() - heartbeat.STALE_AFTER - 60).encode())
        response = client.get("/healthz")
    finally:
        HUEY.immediate = True
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["worker"]["status"] == "error"
    assert body["database"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_the_channel_layer_does_not_answer(client, monkeypatch):
    class Deaf:
        async def new_channel(self, prefix: str) -> str:
            return prefix + "x"

        async def send(self, channel: str, message: dict) -> None:  # type: ignore[type-arg]
            return None

        async def receive(self, channel: str) -> dict:  # type: ignore[type-arg]
            import asyncio

            await asyncio.sleep(60)
            return {}

    deaf = Deaf()
    monkeypatch.setattr(health, "get_channel_layer", lambda: deaf)
    monkeypatch.setattr(health, "LAYER_TIMEOUT", 0.2)
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 5  # fails fast instead of hanging the load balancer's probe
    assert response.status_code == 503
    assert response.json()["channel_layer"] == {"status": "error", "backend": "Deaf", "error": "TimeoutError"}


def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_the_layer_check_is_remembered_for_a_few_seconds_then_repeated(client, monkeypatch):
    class Counting:
        trips = 0
        box: list = []  # type: ignore[type-arg]

        async def new_channel(self, prefix: str) -> str:
            return prefix + "x"

        async def send(self, channel: str, message: dict) -> None:  # type: ignore[type-arg]
            type(self).trips += 1
            self.box.append(message)

        async def receive(self, channel: str) -> dict:  # type: ignore[type-arg]
            return self.box.pop()

    layer = Counting()
    now = [1000.0]
    monkeypatch.setattr(health, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(health, "_now", lambda: now[0])
    for _ in range(5):
        assert client.get("/healthz").json()["channel_layer"]["status"] == "ok"
    assert Counting.trips == 1
    now[0] += health.LAYER_CHECK_EVERY + 0.1
    client.get("/healthz")
    assert Counting.trips == 2
