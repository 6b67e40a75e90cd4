"""Through the real ASGI stack: the widget's socket is judged by the widget's origins, not the host's;
the desk's sockets keep their same-host origin check and session sign-in."""

import pytest
from channels.testing.websocket import WebsocketCommunicator
from django.test import Client

from opiekun.livechat.consumers import CLOSE_FORBIDDEN_ORIGIN

from .conftest import KEY, ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_widget_socket_takes_the_shops_origin_and_refuses_others(live, widget):
    from opiekun.config.asgi import application

    async def scenario():
        ok = WebsocketCommunicator(
            application,
            f"/ws/chat/{KEY}/",
            headers=[(b"origin", ORIGIN.encode()), (b"host", b"chat.opiekun.example")],
        )
        connected, _ = await ok.connect()
        assert connected
        await ok.send_json_to({"type": "hello"})
        assert (await ok.receive_json_from())["type"] == "welcome"
        await ok.disconnect()

        evil = WebsocketCommunicator(
            application, f"/ws/chat/{KEY}/", headers=[(b"origin", b"https://evil.example")]
        )
        await evil.connect()
        assert await evil.receive_output() == {"type": "websocket.close", "code": CLOSE_FORBIDDEN_ORIGIN}

    live(scenario)


def test_the_desk_sockets_keep_the_host_origin_check(live, agent, widget):
    from opiekun.config.asgi import application

    client = Client()
    client.force_login(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        desk_chat = WebsocketCommunicator(
            application,
            "/ws/desk/chat/",
            headers=[
                (b"cookie", cookie),
                (b"origin", b"http://127.0.0.1:8000"),
                (b"host", b"127.0.0.1:8000"),
            ],
        )
        connected, _ = await desk_chat.connect()
        assert connected
        assert (await desk_chat.receive_json_from())["type"] == "waiting"
        await desk_chat.disconnect()
        for path in ("/ws/desk/", "/ws/desk/chat/"):
            # The shop's site (allowed for the widget) may not open an agent's socket with their cookie.
            foreign = WebsocketCommunicator(
                application, path, headers=[(b"cookie", cookie), (b"origin", ORIGIN.encode())]
            )
            connected, _ = await foreign.connect()
            assert not connected, path

    live(scenario)
