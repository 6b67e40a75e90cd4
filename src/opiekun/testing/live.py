"""Socket tests: run a scenario on an event loop registered with the realtime bridge, read its frames.

`opiekun run` registers uvicorn's loop with the bridge; `run_live` does the same for the loop that
runs a test scenario, so fan-out from sync code (services, commit callbacks) reaches the sockets
exactly as in production. The channel layer is emptied before and after.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing.websocket import WebsocketCommunicator

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


async def next_frame(
    communicator: WebsocketCommunicator,
    match: Callable[[dict], bool] = lambda f: True,  # type: ignore[type-arg]
    timeout: float = 3.0,
    seen: list[dict] | None = None,  # type: ignore[type-arg]
) -> dict:  # type: ignore[type-arg]
    """The first JSON frame satisfying `match` within `timeout`; frames skipped on the way go to `seen`.
    A socket that closes meanwhile fails the test with its close code."""
    skipped: list[dict] = seen if seen is not None else []  # type: ignore[type-arg]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no matching frame within {timeout}s; saw {skipped}")
        try:
            async with asyncio.timeout(remaining):
                message = await communicator.output_queue.get()
        except TimeoutError:
            raise AssertionError(f"no matching frame within {timeout}s; saw {skipped}") from None
        if message["type"] == "websocket.close":
            raise AssertionError(f"socket closed with {message.get('code')}; saw {skipped}")
        frame = json.loads(message["text"])
        if match(frame):
            return frame
        skipped.append(frame)


async def quiet_frames(communicator: WebsocketCommunicator, seconds: float = 0.5) -> list[Any]:
    """Everything the socket sends until it has been quiet for `seconds`: JSON frames decoded, a close
    message as it came (a test that expects only frames compares against a list without it)."""
    frames: list[Any] = []
    while True:
        try:
            async with asyncio.timeout(seconds):
                message = await communicator.output_queue.get()
        except TimeoutError:
            return frames
        frames.append(json.loads(message["text"]) if message["type"] == "websocket.send" else message)
