"""Helpers for the live-desk tests: run a scenario on an event loop registered with the bridge.

`opiekun run` registers uvicorn's loop with the bridge; `run_live` does the same for the loop that
runs a test scenario, so fan-out from sync code (services, commit callbacks) reaches the sockets
exactly as in production. Sync work inside the scenario goes through `sync_to_async`, which (like
the consumers' database_sync_to_async) runs it on the test's own thread and database connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.testing.websocket import WebsocketCommunicator

from opiekun.realtime.consumers import DeskConsumer
from opiekun.testing.live import run_live


async def desk_socket(user: Any, consumer: type[DeskConsumer] = DeskConsumer) -> WebsocketCommunicator:
    """A connected desk socket for `user` (put into the scope, as AuthMiddleware would)."""
    communicator = WebsocketCommunicator(consumer.as_asgi(), "/ws/desk/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def next_frame(
    communicator: WebsocketCommunicator,
    match: Callable[[dict], bool] = lambda f: True,
    timeout: float = 3.0,
    seen: list[dict] | None = None,
) -> dict:
    """The first frame satisfying `match` within `timeout`; frames skipped on the way go to `seen`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no matching frame within {timeout}s; saw {seen}")
        try:
            async with asyncio.timeout(remaining):
                message = await communicator.output_queue.get()
        except TimeoutError:
            raise AssertionError(f"no matching frame within {timeout}s; saw {seen}") from None
        assert message["type"] == "websocket.send", message
        frame = json.loads(message["text"])
        if match(frame):
            return frame
        if seen is not None:
            seen.append(frame)


async def drain_frames(communicator: WebsocketCommunicator, quiet: float = 0.6) -> list[dict]:
    """Every frame until the socket has been quiet for `quiet` seconds (longer than a counts round)."""
    frames = []
    while True:
        try:
            async with asyncio.timeout(quiet):
                message = await communicator.output_queue.get()
        except TimeoutError:
            return frames
        assert message["type"] == "websocket.send", message
        frames.append(json.loads(message["text"]))


@pytest.fixture
def live() -> Callable[[Callable[[], Awaitable[None]]], None]:
    return run_live
