"""Fan domain events out to the live desks: one frame per event to the shop, coalesced counts per agent.

Subscribed in RealtimeConfig.ready(). Handlers run after commit in whichever thread committed (a
request, a worker task); they do one indexed lookup and hand the rest to the realtime loop
(`bridge`), so a burst never makes a request wait on sockets.

Counts are pushed, never pulled: the first change in a shop arms a short timer; when it fires, the
shop's counts are computed ONCE (`shop_counts`, two queries) and every agent of the shop gets their
own view of it on `desk.agent.<id>`. Changes during the wait ride along; a change that lands while
the computation runs arms another round, so the last state always reaches the desks.

Frames carry ids and numbers only, never message text: a desk re-fetches what it shows through the
normal, permission-checked views. Every group here is a desk group: internal notes reach agents and
nothing customer-facing (the chat widget's groups are not fed from here).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from channels.db import database_sync_to_async

from opiekun.agents.models import Agent
from opiekun.conversations import selectors
from opiekun.conversations.events import ConversationChanged, MessageCreated, MessageUpdated
from opiekun.conversations.models import Conversation
from opiekun.core.events import subscribe

from . import bridge

log = logging.getLogger(__name__)

COUNTS_DELAY = 0.25  # seconds a shop's count changes are gathered before one computation
COUNTS_RETRIES = 3  # attempts of one round when the database is briefly unavailable
FRAME_MESSAGE_TYPE = "desk.frame"  # the consumer handler (DeskConsumer.desk_frame) for every frame


def shop_group(shop_id: int) -> str:
    return f"desk.shop.{shop_id}"


def agent_group(agent_id: int) -> str:
    return f"desk.agent.{agent_id}"


def connect() -> None:
    subscribe(ConversationChanged, on_conversation_changed)
    subscribe(MessageCreated, on_message_created)
    subscribe(MessageUpdated, on_message_updated)


def _send_to_desk(group: str, frame: dict[str, Any]) -> None:
    # Everything this module sends may describe internal notes; it must only ever reach agents.
    assert group.startswith("desk."), group
    bridge.group_send(group, {"type": FRAME_MESSAGE_TYPE, "frame": frame})


def _number(shop_id: int, conversation_id: int) -> int | None:
    """The case number of one conversation of the shop (one indexed lookup per event)."""
    return (
        Conversation.objects.filter(shop_id=shop_id, pk=conversation_id)
        .values_list("number", flat=True)
        .first()
    )


def _send_about_conversation(
    shop_id: int, conversation_id: int, frame: dict[str, Any], number: int = 0
) -> None:
    """One frame about a conversation to the shop's desks, with its case number (nothing when gone).
    The number comes with the event when its publisher had it (a chat storing several messages a second
    spares a lookup per message), else from one indexed lookup."""
    known = number or _number(shop_id, conversation_id)
    if known is not None:
        _send_to_desk(shop_group(shop_id), {**frame, "conversation_id": conversation_id, "number": known})


def on_conversation_changed(event: ConversationChanged) -> None:
    if not bridge.is_live():
        return
    _send_about_conversation(
        event.shop_id, event.conversation_id, {"type": "conversation", "what": event.what}, event.number
    )
    counts_changed(event.shop_id)


def on_message_created(event: MessageCreated) -> None:
    if not bridge.is_live():
        return
    _send_about_conversation(
        event.shop_id,
        event.conversation_id,
        {
            "type": "message",
            "message_id": event.message_id,
            "direction": event.direction,
            "internal": event.is_internal,
        },
        event.number,
    )
    # Services pair a customer-visible message with ConversationChanged already; marking here too costs
    # nothing (coalesced) and keeps counts right for any future service that does not.
    counts_changed(event.shop_id)


def on_message_updated(event: MessageUpdated) -> None:
    # A delivery status changes no count: only the thread needs to know.
    if not bridge.is_live():
        return
    _send_about_conversation(
        event.shop_id,
        event.conversation_id,
        {"type": "message_updated", "message_id": event.message_id},
        number=event.number,
    )


def counts_changed(shop_id: int) -> None:
    """Note (from any thread) that the shop's counts changed; the desks get them within COUNTS_DELAY."""
    bridge.call_soon(_mark_on_loop, shop_id)


def _mark_on_loop(shop_id: int) -> None:
    _pusher(asyncio.get_running_loop()).mark(shop_id)


def counts_for_agents(shop_id: int) -> list[tuple[int, dict[str, int]]]:
    """Each active agent of the shop with their counts, from ONE shop_counts computation."""
    counts = selectors.shop_counts(shop_id=shop_id)
    agent_ids = Agent.objects.filter(shop_id=shop_id, user__is_active=True).values_list("pk", flat=True)
    return [(agent_id, counts.for_agent(agent_id).as_dict()) for agent_id in agent_ids]


class CountsPusher:
    """Per event loop: at most one pending and one running counts round per shop."""

    def __init__(self, delay: float = COUNTS_DELAY) -> None:
        self.delay = delay
        self._scheduled: set[int] = set()
        self._running: set[int] = set()
        self._dirty: set[int] = set()

    def mark(self, shop_id: int) -> None:
        if shop_id in self._running:
            self._dirty.add(shop_id)
        elif shop_id not in self._scheduled:
            self._scheduled.add(shop_id)
            bridge.spawn(self._rounds(shop_id))

    async def _rounds(self, shop_id: int) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self.delay * (1 + failures))
            self._scheduled.discard(shop_id)
            self._running.add(shop_id)
            self._dirty.discard(shop_id)
            try:
                per_agent = await database_sync_to_async(counts_for_agents)(shop_id)
            except Exception:
                failures += 1
                log.warning("counts for shop %s failed (attempt %d)", shop_id, failures, exc_info=True)
                if failures < COUNTS_RETRIES:
                    self._dirty.add(shop_id)
            else:
                failures = 0
                for agent_id, counts in per_agent:
                    _send_to_desk(agent_group(agent_id), {"type": "counts", "counts": counts})
            finally:
                self._running.discard(shop_id)
            if shop_id not in self._dirty:
                return
            self._scheduled.add(shop_id)


_pushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CountsPusher] = weakref.WeakKeyDictionary()


def _pusher(loop: asyncio.AbstractEventLoop) -> CountsPusher:
    pusher = _pushers.get(loop)
    if pusher is None:
        pusher = _pushers[loop] = CountsPusher()
    return pusher
