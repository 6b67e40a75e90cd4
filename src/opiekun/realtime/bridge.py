"""Send to channel-layer groups from sync code (request threads, worker threads) safely.

With the in-memory layer, every socket lives on uvicorn's event loop; a worker thread must hand its
message to *that* loop (run_coroutine_threadsafe), not spin up a loop of its own, or the message
would sit in a queue bound to the wrong loop. `opiekun run` registers the serving loop at start-up (opiekun.core.serving).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from opiekun.core.serving import serving_loop

log = logging.getLogger(__name__)


def group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = serving_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is not None and loop.is_running() and running is not loop:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        try:
            future.result(timeout=5)
        except Exception:
            log.warning("realtime fan-out to %s failed", group, exc_info=True)
        return
    if running is not None:
        running.create_task(layer.group_send(group, message))
        return
    async_to_sync(layer.group_send)(group, message)
