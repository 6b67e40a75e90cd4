"""Fixtures of the chat tests: a widget (livechat inbox) and sockets on a loop registered with the bridge.

`live(scenario)` runs an async scenario on a loop that `opiekun.core.serving` knows, as `opiekun run`
does with uvicorn's, so fan-out after commit (the bridge, the driver) reaches the test's sockets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.testing.websocket import WebsocketCommunicator
from django.core.cache import cache

from opiekun.inboxes.drivers.livechat.identity import identity_sign
from opiekun.livechat.consumers import AgentChatConsumer, VisitorConsumer
from opiekun.livechat.intake import intake
from opiekun.livechat.selectors import Widget
from opiekun.testing import factories
from opiekun.testing.live import next_frame, run_live

ORIGIN = "https://sklep.example"
KEY = "testwidgetkey0123456789"
SECRET = "s3cret-identity-key"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate limits and the online flag live in the cache
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _intake_stopped():
    yield
    # The committer thread ends and closes its connection: nothing holds the test database open.
    intake().stop()


def make_widget(shop: Any, **config: Any) -> Widget:
    from opiekun.inboxes.drivers.livechat.driver import LivechatConfig

    inbox = factories.InboxFactory(
        shop=shop,
        kind="livechat",
        name=config.pop("name", "Chat"),
        config={
            "public_key": config.pop("public_key", KEY),
            "allowed_origins": [ORIGIN, "*.sklep.example"],
            "offline_when_no_agents": False,
            **config,
        },
        secrets={"identity_secret": SECRET},
    )
    return Widget(inbox=inbox, config=inbox.settings(LivechatConfig))


@pytest.fixture
def widget(shop):  # type: ignore[no-untyped-def]
    return make_widget(shop)


def signed_identity(email: str, name: str, expires: int, secret: str = SECRET) -> dict[str, Any]:
    return {
        "email": email,
        "name": name,
        "expires": expires,
        "signature": identity_sign(secret=secret, email=email, name=name, expires=expires),
    }


@pytest.fixture
def live() -> Callable[[Callable[[], Awaitable[None]]], None]:
    return run_live


async def visitor(key: str = KEY, origin: str = ORIGIN) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        VisitorConsumer.as_asgi(), f"/ws/chat/{key}/", headers=[(b"origin", origin.encode())]
    )
    communicator.scope["url_route"] = {"args": (), "kwargs": {"key": key}}
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def hello(communicator: WebsocketCommunicator, **fields: Any) -> dict[str, Any]:
    await communicator.send_json_to(
        {"type": "hello", "lang": "pl", "page": {"url": f"{ORIGIN}/koszyk", "title": "Koszyk"}, **fields}
    )
    return await next_frame(communicator, lambda f: f["type"] in ("welcome", "error"))


async def agent_socket(user: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(AgentChatConsumer.as_asgi(), "/ws/desk/chat/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator
