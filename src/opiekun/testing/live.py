"""Run a socket test scenario on an event loop registered with the realtime bridge.

`opiekun run` registers uvicorn's loop with the bridge; `run_live` does the same for the loop that
runs a test scenario, so fan-out from sync code (services, commit callbacks) reaches the sockets
exactly as in production. The channel layer is emptied before and after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from opiekun.core.serving import register_loop


def run_live(scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        layer = get_channel_layer()
        await layer.flush()
        register_loop(asyncio.get_running_loop())
        try:
            await scenario()
        finally:
            register_loop(None)
            await layer.flush()

    async_to_sync(main)()
