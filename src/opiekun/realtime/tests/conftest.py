"""Helpers for the live-desk tests: run a scenario on an event loop registered with the bridge.

`opiekun run` registers uvicorn's loop with the bridge; `run_live` does the same for the loop that
runs a test scenario, so fan-out from sync code (services, commit callbacks) reaches the sockets
exactly as in production. Sync work inside the scenario goes through `sync_to_async`, which (like
the consumers' database_sync_to_async) runs it on the test's own thread and database connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.testing.websocket import WebsocketCommunicator

from opiekun.realtime.consumers import DeskConsumer
from opiekun.testing.live import quiet_frames, run_live


async def desk_socket(user: Any, consumer: type[DeskConsumer] = DeskConsumer) -> WebsocketCommunicator:
    """A connected desk socket for `user` (put into the scope, as AuthMiddleware would)."""
    communicator = WebsocketCommunicator(consumer.as_asgi(), "/ws/desk/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def drain_frames(communicator: WebsocketCommunicator, quiet: float = 0.6) -> list[dict]:  # type: ignore[type-arg]
    """Every frame until the socket has been quiet for `quiet` seconds (longer than a counts round)."""
    return await quiet_frames(communicator, quiet)


@pytest.fixture
def live() -> Callable[[Callable[[], Awaitable[None]]], None]:
    return run_live
