"""The live desk socket: who may connect, what they receive, and that it never crashes or hoards."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from opiekun.conversations import selectors
from opiekun.conversations.routing import Route
from opiekun.conversations.services import conversation_assign, conversation_create, message_send, note_add
from opiekun.realtime.consumers import CLOSE_NOT_AN_AGENT, CLOSE_TOO_SLOW, CLOSE_UNAUTHENTICATED, DeskConsumer
from opiekun.realtime.fanout import shop_group
from opiekun.testing import factories
from opiekun.testing.live import next_frame

from .conftest import desk_socket, drain_frames

pytestmark = pytest.mark.django_db(transaction=True)


def counts_of(frame):
    return frame["type"] == "counts"


@pytest.fixture
def desk(shop, agent):
    """A small shop: one case for `agent`, one unassigned in a team, one pending on the customer."""
    team = factories.TeamFactory(shop=shop, name="Returns")
    colleague = factories.AgentFactory(shop=shop, display_name="Piotr")
    mine = factories.ConversationFactory(shop=shop, assignee=agent, status="open")
    queued = factories.ConversationFactory(shop=shop, team=team, status="new")
    factories.ConversationFactory(shop=shop, assignee=colleague, status="pending_customer")
    factories.ConversationFactory(shop=shop, status="resolved")
    return {"team": team, "colleague": colleague, "mine": mine, "queued": queued}


def test_anonymous_is_refused_with_4401(live):
    async def scenario():
        communicator = WebsocketCommunicator(DeskConsumer.as_asgi(), "/ws/desk/")
        communicator.scope["user"] = AnonymousUser()
        await communicator.connect()
        closed = await communicator.receive_output()
        assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}

    live(scenario)


def test_user_without_agent_profile_is_refused_with_4403(live):
    user = factories.UserFactory(username="customer-like")

    async def scenario():
        communicator = WebsocketCommunicator(DeskConsumer.as_asgi(), "/ws/desk/")
        communicator.scope["user"] = user
        await communicator.connect()
        closed = await communicator.receive_output()
        assert closed == {"type": "websocket.close", "code": CLOSE_NOT_AN_AGENT}

    live(scenario)


def test_inactive_agent_is_refused(live, agent):
    agent.user.is_active = False
    agent.user.save()

    async def scenario():
        communicator = WebsocketCommunicator(DeskConsumer.as_asgi(), "/ws/desk/")
        communicator.scope["user"] = agent.user
        await communicator.connect()
        assert (await communicator.receive_output())["code"] == CLOSE_NOT_AN_AGENT

    live(scenario)


def test_session_cookie_through_the_asgi_stack_gets_the_right_counts(live, agent, desk):
    from opiekun.config.asgi import application

    client = Client()
    client.force_login(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        communicator = WebsocketCommunicator(
            application,
            "/ws/desk/",
            headers=[
                (b"cookie", cookie),
                (b"origin", b"http://127.0.0.1:8000"),
                (b"host", b"127.0.0.1:8000"),
            ],
        )
        connected, _ = await communicator.connect()
        assert connected
        frame = await communicator.receive_json_from()
        assert frame == {
            "type": "counts",
            "counts": {
                "mine": 1,
                "my_customers": 0,
                "unassigned": 1,
                "open": 3,
                "pending_customer": 1,
                "pending_internal": 0,
                "sla_risk": 0,
                f"team_{desk['team'].pk}": 1,
            },
        }
        await communicator.disconnect()

    live(scenario)


def test_session_cookie_of_nobody_is_refused(live, agent):
    from opiekun.config.asgi import application

    async def scenario():
        communicator = WebsocketCommunicator(
            application,
            "/ws/desk/",
            headers=[(b"cookie", b"sessionid=forged-session-key"), (b"origin", b"http://127.0.0.1:8000")],
        )
        await communicator.connect()
        assert (await communicator.receive_output())["code"] == CLOSE_UNAUTHENTICATED

    live(scenario)


def test_foreign_origin_is_refused(live, agent):
    from opiekun.config.asgi import application

    client = Client()
    client.force_login(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/desk/", headers=[(b"cookie", cookie), (b"origin", b"https://evil.example")]
        )
        connected, _ = await communicator.connect()
        assert not connected

    live(scenario)


def test_reply_reaches_the_desk_after_commit_with_every_frame(live, shop, agent, desk):
    conversation = desk["queued"]

    async def scenario():
        socket = await desk_socket(agent.user)
        assert (await next_frame(socket, counts_of))["counts"]["mine"] == 1
        message = await sync_to_async(message_send)(
            conversation=conversation, agent=agent, text="Parcel is on its way"
        )
        seen: list[dict] = []
        assert await next_frame(socket, lambda f: f["type"] == "message", seen=seen) == {
            "type": "message",
            "conversation_id": conversation.pk,
            "number": conversation.number,
            "message_id": message.pk,
            "direction": "out",
            "internal": False,
        }
        assert await next_frame(socket, lambda f: f["type"] == "conversation", seen=seen) == {
            "type": "conversation",
            "conversation_id": conversation.pk,
            "number": conversation.number,
            "what": "message",
        }
        # Delivery ran (tasks are inline in tests) and marked the reply sent: the thread hears of it.
        assert await next_frame(socket, lambda f: f["type"] == "message_updated", seen=seen) == {
            "type": "message_updated",
            "conversation_id": conversation.pk,
            "number": conversation.number,
            "message_id": message.pk,
        }
        # The reply took the unassigned case: it is mine now, and waits on the customer.
        frames = seen + await drain_frames(socket)
        counts = [f for f in frames if f["type"] == "counts"][-1]["counts"]
        assert (counts["mine"], counts["unassigned"], counts["pending_customer"]) == (2, 0, 2)
        await socket.disconnect()

    live(scenario)


def test_assignment_pushes_counts_to_both_agents(live, shop, agent, desk):
    colleague = desk["colleague"]

    async def scenario():
        mine = await desk_socket(agent.user)
        theirs = await desk_socket(colleague.user)
        assert (await next_frame(mine, counts_of))["counts"]["mine"] == 1
        assert (await next_frame(theirs, counts_of))["counts"]["mine"] == 1
        await sync_to_async(conversation_assign)(conversation=desk["queued"], agent=colleague, actor=agent)
        for socket, expected_mine in ((mine, 1), (theirs, 2)):
            frame = await next_frame(socket, lambda f: f["type"] == "conversation")
            assert (frame["number"], frame["what"]) == (desk["queued"].number, "assigned")
            counts = (await next_frame(socket, counts_of))["counts"]
            assert (counts["mine"], counts["unassigned"]) == (expected_mine, 0)
        await mine.disconnect()
        await theirs.disconnect()

    live(scenario)


def test_agent_of_another_shop_hears_nothing(live, shop, agent, other_shop, desk):
    stranger = factories.AgentFactory(shop=other_shop, display_name="Obcy")

    async def scenario():
        ours = await desk_socket(agent.user)
        foreign = await desk_socket(stranger.user)
        await next_frame(ours, counts_of)
        assert (await next_frame(foreign, counts_of))["counts"]["open"] == 0
        await sync_to_async(conversation_assign)(conversation=desk["queued"], agent=agent, actor=agent)
        await sync_to_async(note_add)(conversation=desk["mine"], agent=agent, text="VIP, be nice")
        # Positive control: our desk hears of both, including the pushed counts…
        await next_frame(ours, lambda f: f["type"] == "message" and f["internal"])
        await next_frame(ours, counts_of)
        # …while the other shop's desk stays silent for longer than a counts round.
        assert await foreign.receive_nothing(timeout=0.8)
        await ours.disconnect()
        await foreign.disconnect()

    live(scenario)


def test_internal_note_reaches_agents_marked_internal(live, shop, agent, desk):
    async def scenario():
        socket = await desk_socket(agent.user)
        await next_frame(socket, counts_of)
        note = await sync_to_async(note_add)(conversation=desk["mine"], agent=agent, text="Call after 5")
        frame = await next_frame(socket, lambda f: f["type"] == "message")
        assert frame == {
            "type": "message",
            "conversation_id": desk["mine"].pk,
            "number": desk["mine"].number,
            "message_id": note.pk,
            "direction": "out",
            "internal": True,
        }
        # Frames never carry the text itself: the desk re-fetches through the permission-checked views.
        assert "Call after 5" not in json.dumps(frame)
        await socket.disconnect()

    live(scenario)


def test_ping_pong_and_malformed_frames_answered_without_crashing(live, agent):
    async def scenario():
        socket = await desk_socket(agent.user)
        await next_frame(socket, counts_of)
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}
        await socket.send_to(text_data="{not json")
        assert await socket.receive_json_from() == {"type": "error", "error": "bad_json"}
        await socket.send_json_to(["ping"])
        assert await socket.receive_json_from() == {"type": "error", "error": "unknown_type"}
        await socket.send_json_to({"type": "subscribe", "shop": 999})
        assert await socket.receive_json_from() == {"type": "error", "error": "unknown_type"}
        await socket.send_to(bytes_data=b"\x00\x01")
        assert await socket.receive_json_from() == {"type": "error", "error": "bad_frame"}
        await socket.send_to(text_data="x" * 10_000)
        assert await socket.receive_json_from() == {"type": "error", "error": "bad_frame"}
        # Still alive and well.
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}
        await socket.disconnect()

    live(scenario)


def test_flood_of_events_computes_counts_a_few_times_and_ends_right(live, shop, agent, monkeypatch):
    computations = []
    real_shop_counts = selectors.shop_counts

    def counting_shop_counts(*, shop_id):
        computations.append(shop_id)
        return real_shop_counts(shop_id=shop_id)

    monkeypatch.setattr(selectors, "shop_counts", counting_shop_counts)
    colleague = factories.AgentFactory(shop=shop)
    contact = factories.ContactFactory(shop=shop)

    def open_case(i):
        route = Route(assignee=agent, team=None, reason="test") if i % 3 == 0 else None
        conversation_create(shop=shop, contact=contact, subject=f"Case {i}", route=route)

    async def scenario():
        socket = await desk_socket(agent.user)
        other = await desk_socket(colleague.user)
        await next_frame(socket, counts_of)
        await next_frame(other, counts_of)
        computations.clear()
        for i in range(200):
            await sync_to_async(open_case)(i)
            await asyncio.sleep(0.002)
        frames = await drain_frames(socket)
        other_frames = await drain_frames(other)
        assert len([f for f in frames if f["type"] == "conversation"]) == 200
        # 200 events, a handful of count computations: one per shop per round, never per socket.
        assert 1 <= len(computations) <= 20, len(computations)
        pushed = [f["counts"] for f in frames if f["type"] == "counts"]
        assert len(pushed) <= len(computations)
        assert pushed[-1] == (await sync_to_async(selectors.view_counts)(agent=agent)).as_dict()
        assert (pushed[-1]["mine"], pushed[-1]["unassigned"], pushed[-1]["open"]) == (67, 133, 200)
        assert [f["counts"] for f in other_frames if f["type"] == "counts"][-1]["mine"] == 0
        await socket.disconnect()
        await other.disconnect()

    live(scenario)


class StuckClient(DeskConsumer):
    """A browser that stopped reading: every send to it hangs (as on a full TCP window)."""

    outbox_limit = 20

    async def transmit(self, frame):
        await asyncio.Event().wait()


class SmallOutbox(DeskConsumer):
    outbox_limit = 20


def frame_for(number):
    return {
        "type": "desk.frame",
        "frame": {"type": "conversation", "conversation_id": number, "number": number, "what": "status"},
    }


def test_slow_client_is_closed_once_it_lags_the_outbox_limit(live, shop, agent):
    layer = get_channel_layer()

    async def scenario():
        socket = await desk_socket(agent.user, StuckClient)
        for number in range(1, 20):
            await layer.group_send(shop_group(shop.pk), frame_for(number))
        assert await socket.receive_nothing(timeout=0.3)  # within the limit: held, not dropped
        for number in range(20, 60):
            await layer.group_send(shop_group(shop.pk), frame_for(number))
        assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_TOO_SLOW}

    live(scenario)


def test_a_client_that_keeps_up_is_not_closed_by_the_limit(live, shop, agent):
    layer = get_channel_layer()

    async def scenario():
        socket = await desk_socket(agent.user, SmallOutbox)
        await next_frame(socket, counts_of)
        numbers = []
        for batch in range(5):
            for number in range(batch * 10, batch * 10 + 10):
                await layer.group_send(shop_group(shop.pk), frame_for(number))
            for _ in range(10):
                numbers.append((await socket.receive_json_from())["number"])
        assert numbers == list(range(50))
        await socket.disconnect()

    live(scenario)


def test_socket_ends_when_its_session_signs_out(live, agent, monkeypatch):
    from opiekun.config.asgi import application
    from opiekun.realtime import consumers

    monkeypatch.setattr(consumers, "RECHECK_EVERY", 0)
    client = Client()
    client.force_login(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        socket = WebsocketCommunicator(
            application, "/ws/desk/", headers=[(b"cookie", cookie), (b"origin", b"http://127.0.0.1:8000")]
        )
        assert (await socket.connect())[0]
        await next_frame(socket, counts_of)
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}  # still signed in: kept
        await sync_to_async(client.logout)()  # e.g. "Sign out" in another tab
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}

    live(scenario)


def test_socket_of_a_deactivated_agent_ends(live, agent, monkeypatch):
    from opiekun.realtime import consumers

    monkeypatch.setattr(consumers, "RECHECK_EVERY", 0)

    def deactivate():
        agent.user.is_active = False
        agent.user.save(update_fields=["is_active"])

    async def scenario():
        socket = await desk_socket(agent.user)
        await next_frame(socket, counts_of)
        await sync_to_async(deactivate)()
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}

    live(scenario)
