"""GET /healthz: the database, the channel layer and the worker, as JSON (200 when all are ok)."""

from __future__ import annotations

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from opiekun.core.heartbeat import worker_status


def _database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__}
    return {"status": "ok", "vendor": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 2)}


async def _layer_roundtrip(layer) -> None:  # type: ignore[no-untyped-def]
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


def _channel_layer() -> dict:
    layer = get_channel_layer()
    if layer is None:
        return {"status": "error", "error": "no channel layer configured"}
    try:
        async_to_sync(_layer_roundtrip)(layer)
    except Exception as exc:
        return {"status": "error", "backend": type(layer).__name__, "error": exc.__class__.__name__}
    return {"status": "ok", "backend": type(layer).__name__}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "channel_layer": _channel_layer(), "worker": worker_status()}
    ok = all(c["status"] in ("ok", "starting") for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks}, status=200 if ok else 503)
