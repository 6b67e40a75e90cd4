"""Which event loop serves the websockets in this process (set by `opiekun run`, read by realtime).

Kept in the kernel so the serving command does not import the realtime app.
"""

from __future__ import annotations

import asyncio
import threading

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def register_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    global _loop
    with _lock:
        _loop = loop


def serving_loop() -> asyncio.AbstractEventLoop | None:
    return _loop
