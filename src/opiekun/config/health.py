"""GET /healthz: the database, the channel layer and the worker, as JSON (200 when all are ok, else 503).

Load balancers and `opiekun run`'s own tests poll it; it reads nothing of any shop, and its errors
name the exception class only (never a connection string or a message that may carry one).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from opiekun.core.heartbeat import worker_status

LAYER_TIMEOUT = 3.0  # seconds; a wedged Redis must make /healthz fail, not hang


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"status": "error", "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {
        "status": "ok",
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }


async def _layer_roundtrip(layer: Any) -> None:
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


# A round trip through Redis from a WSGI thread opens a connection and a subscription for a fresh event
# loop each time (~50 ms: /healthz answered 18 requests/s with REDIS_URL set). The answer is remembered
# per process for a few seconds, so a probe every second costs one round trip per LAYER_CHECK_EVERY and
# a layer that stops answering still shows within that time; one thread checks while others read.
LAYER_CHECK_EVERY = 5.0
_layer_check: dict[str, Any] = {"at": float("-inf"), "result": None, "layer": None}
_layer_lock = threading.Lock()
_now = time.monotonic


def _channel_layer() -> dict[str, Any]:
    layer = get_channel_layer()
    remembered = _layer_check["result"]
    fresh = _now() - _layer_check["at"] < LAYER_CHECK_EVERY and _layer_check["layer"] is layer
    if remembered is not None and fresh:
        return remembered
    if not _layer_lock.acquire(blocking=remembered is None or _layer_check["layer"] is not layer):
        return remembered  # another thread is checking right now
    try:
        result = _check_layer(layer)
        _layer_check.update(at=_now(), result=result, layer=layer)
        return result
    finally:
        _layer_lock.release()


def _check_layer(layer: Any) -> dict[str, Any]:
    if layer is None:
        return {"status": "error", "error": "no channel layer configured"}
    try:
        async_to_sync(_layer_roundtrip)(layer)
    except Exception as exc:
        return {"status": "error", "backend": type(layer).__name__, "error": exc.__class__.__name__}
    return {"status": "ok", "backend": type(layer).__name__}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Checks the database (SELECT 1), a channel-layer round trip and the worker's heartbeat."""
    checks = {"database": _database(), "channel_layer": _channel_layer(), "worker": worker_status()}
    ok = all(c["status"] in ("ok", "starting") for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks}, status=200 if ok else 503)
