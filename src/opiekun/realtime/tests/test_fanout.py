"""The fan-out subscriber and the bridge that carries its frames to the serving loop."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from opiekun.conversations.events import ConversationChanged
from opiekun.conversations.services import conversation_assign, note_add
from opiekun.realtime import bridge, fanout
from opiekun.realtime.fanout import agent_group, shop_group
from opiekun.testing import factories
from opiekun.testing.live import next_frame

from .conftest import desk_socket


@pytest.fixture
def recorded(monkeypatch):
    """Pretend a serving loop exists and record what the fan-out hands to the bridge."""
    sent, marked = [], []
    monkeypatch.setattr(bridge, "is_live", lambda: True)
    monkeypatch.setattr(bridge, "group_send", lambda group, message: sent.append((group, message)))
    monkeypatch.setattr(fanout, "counts_changed", marked.append)
    return sent, marked


@pytest.mark.django_db(transaction=True)
def test_frames_leave_only_after_commit_and_never_on_rollback(shop, agent, recorded):
    sent, marked = recorded
    conversation = factories.ConversationFactory(shop=shop)
    with transaction.atomic():
        conversation_assign(conversation=conversation, agent=agent, actor=agent)
        assert sent == [] and marked == []
    assert sent == [
        (
            shop_group(shop.pk),
            {
                "type": "desk.frame",
                "frame": {
                    "type": "conversation",
                    "conversation_id": conversation.pk,
                    "number": conversation.number,
                    "what": "assigned",
                },
            },
        )
    ]
    assert marked == [shop.pk]

    sent.clear()
    marked.clear()
    other = factories.ConversationFactory(shop=shop)
    with pytest.raises(RuntimeError), transaction.atomic():
        conversation_assign(conversation=other, agent=agent, actor=agent)
        raise RuntimeError("the request failed after the write")
    assert sent == [] and marked == []


@pytest.mark.django_db(transaction=True)
def test_internal_notes_only_ever_reach_desk_groups(shop, agent, recorded):
    sent, _ = recorded
    conversation = factories.ConversationFactory(shop=shop)
    note_add(conversation=conversation, agent=agent, text="Internal only")
    assert sent and all(group.startswith("desk.") for group, _ in sent)
    assert sent[0][1]["frame"]["internal"] is True
    with pytest.raises(AssertionError):
        fanout._send_to_desk("chat.conversation.1", {"type": "message"})


@pytest.mark.django_db
def test_without_a_serving_loop_the_in_memory_fanout_does_no_work(shop, django_assert_num_queries):
    # A management command on the in-memory layer has no sockets to tell: not even the number lookup.
    assert not bridge.is_live()
    with django_assert_num_queries(0):
        fanout.on_conversation_changed(ConversationChanged(shop_id=shop.pk, conversation_id=1, what="status"))


@pytest.mark.django_db(transaction=True)
def test_counts_go_to_every_active_agent_of_the_shop_from_one_computation(shop, agent, other_shop):
    colleague = factories.AgentFactory(shop=shop)
    gone = factories.AgentFactory(shop=shop)
    gone.user.is_active = False
    gone.user.save()
    factories.AgentFactory(shop=other_shop)
    factories.ConversationFactory(shop=shop, assignee=colleague, status="open")
    per_agent = dict(fanout.counts_for_agents(shop.pk))
    assert set(per_agent) == {agent.pk, colleague.pk}
    assert (per_agent[agent.pk]["mine"], per_agent[colleague.pk]["mine"]) == (0, 1)


@pytest.mark.django_db(transaction=True)
def test_group_send_from_a_worker_thread_reaches_the_socket_in_order(live, agent):
    async def scenario():
        socket = await desk_socket(agent.user)
        await next_frame(socket, lambda f: f["type"] == "counts")
        took = []

        def worker():
            started = time.monotonic()
            for n in range(100):
                bridge.group_send(
                    agent_group(agent.pk), {"type": "desk.frame", "frame": {"type": "pong", "n": n}}
                )
            took.append(time.monotonic() - started)

        thread = threading.Thread(target=worker)
        await sync_to_async(thread.start)()
        got = [(await socket.receive_json_from())["n"] for _ in range(100)]
        assert got == list(range(100))
        thread.join()
        assert took[0] < 0.5  # handing over never waits for the sockets
        await socket.disconnect()

    live(scenario)


def test_a_cross_process_layer_gets_a_private_loop_when_nothing_serves(monkeypatch):
    """A worker-only process (Redis layer, no sockets of its own) still publishes, in order."""
    received = []

    class FakeRedisLayer:
        async def group_send(self, group, message):
            await asyncio.sleep(0.001)
            # What waited together leaves as one batch (unpacked in order by the consumer).
            inner = message["messages"] if message["type"] == bridge.BATCH_MESSAGE_TYPE else [message]
            received.extend((group, m["n"], threading.current_thread().name) for m in inner)

    monkeypatch.setattr(bridge, "get_channel_layer", lambda: FakeRedisLayer())
    monkeypatch.setattr(bridge, "_private", None)
    for n in range(20):
        bridge.group_send("desk.shop.1", {"type": "desk.frame", "n": n})
    assert bridge.drain(timeout=3)
    assert [n for _, n, _ in received] == list(range(20))
    assert {thread for _, _, thread in received} == {"opiekun-realtime-bridge"}
    loop = bridge._private
    loop.call_soon_threadsafe(loop.stop)


def test_messages_waiting_for_one_group_leave_as_one_batch_handled_in_order(monkeypatch):
    import asyncio

    from opiekun.core.serving import register_loop
    from opiekun.realtime import bridge
    from opiekun.realtime.consumers import BoundedSocket

    sent: list[tuple[str, dict]] = []

    class Layer(bridge.InMemoryChannelLayer):  # type: ignore[misc]
        async def group_send(self, group, message):  # type: ignore[no-untyped-def]
            sent.append((group, message))

    monkeypatch.setattr(bridge, "get_channel_layer", lambda: Layer())

    async def scenario() -> None:
        register_loop(asyncio.get_running_loop())
        try:
            for n in range(3):
                bridge.group_send("desk.shop.1", {"type": "desk.frame", "frame": {"n": n}})
            bridge.group_send("desk.agent.2", {"type": "desk.frame", "frame": {"n": 9}})
            while bridge._state(asyncio.get_running_loop()).busy():
                await asyncio.sleep(0.01)
        finally:
            register_loop(None)

    asyncio.run(scenario())
    assert [g for g, _m in sent] == ["desk.shop.1", "desk.agent.2"]
    batch = sent[0][1]
    assert batch["type"] == bridge.BATCH_MESSAGE_TYPE and [m["frame"]["n"] for m in batch["messages"]] == [
        0,
        1,
        2,
    ]
    assert sent[1][1] == {"type": "desk.frame", "frame": {"n": 9}}  # a lone message goes as it is

    handled: list[object] = []

    class Socket(BoundedSocket):
        async def desk_frame(self, message):  # type: ignore[no-untyped-def]
            handled.append(message["frame"]["n"])

        async def _private(self, message):  # type: ignore[no-untyped-def]
            handled.append("private")

    batch["messages"].append({"type": "_private"})
    asyncio.run(Socket().realtime_batch(batch))
    assert handled == [0, 1, 2]
