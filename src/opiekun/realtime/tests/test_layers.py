"""The in-memory layer of the one-process setup: what Channels' does, without a sweep on every call."""

import asyncio
import logging

from opiekun.realtime import layers


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_group_message_reaches_every_member_once_and_a_change_after_sending_reaches_nobody():
    async def scenario() -> None:
        layer = layers.InMemoryChannelLayer(capacity=10)
        a, b = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("g", a)
        await layer.group_add("g", b)
        message = {"type": "x", "frame": {"n": 1}}
        await layer.group_send("g", message)
        message["frame"]["n"] = 2  # the sender reuses its dict: members keep what was sent
        got = [await asyncio.wait_for(layer.receive(c), 1) for c in (a, b)]
        assert got == [{"type": "x", "frame": {"n": 1}}] * 2
        await layer.group_discard("g", b)
        await layer.group_send("g", {"type": "y"})
        assert await asyncio.wait_for(layer.receive(a), 1) == {"type": "y"}
        assert b not in layer.channels  # nothing waits for the one who left

    run(scenario())


def test_a_full_queue_drops_and_says_so(caplog):
    async def scenario() -> None:
        layer = layers.InMemoryChannelLayer(capacity=2)
        a = await layer.new_channel()
        await layer.group_add("g", a)
        with caplog.at_level(logging.WARNING, logger="opiekun.realtime.layers"):
            for n in range(3):
                await layer.group_send("g", {"type": "x", "n": n})
        assert layer.dropped == 1
        assert "dropped" in caplog.text
        assert [(await layer.receive(a))["n"] for _ in range(2)] == [0, 1]

    run(scenario())


def test_expired_messages_and_memberships_still_go_within_a_sweep(monkeypatch):
    async def scenario() -> None:
        import channels.layers as channels_layers

        clock = {"t": 1000.0}
        monkeypatch.setattr(layers.time, "time", lambda: clock["t"])
        monkeypatch.setattr(layers.time, "monotonic", lambda: clock["t"])
        monkeypatch.setattr(channels_layers.time, "time", lambda: clock["t"])
        layer = layers.InMemoryChannelLayer(expiry=1, group_expiry=1)
        a = await layer.new_channel()
        await layer.group_add("g", a)
        await layer.group_send("g", {"type": "x"})
        clock["t"] += 0.5
        layer._clean_expired()
        assert a in layer.channels  # not yet
        clock["t"] += 5  # past both expiries and past one sweep interval
        layer._clean_expired()
        assert a not in layer.channels and not layer.groups.get("g")

    run(scenario())
