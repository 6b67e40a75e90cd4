"""The in-memory channel layer of the one-process setup, made to hold a thousand sockets.

Channels' InMemoryChannelLayer sweeps every queue and every group membership for expired entries on
each `receive` and each `group_send`. Every socket's consumer calls `receive` again after each message
it gets, so with a thousand chat sockets the sweep walked ~3,000 entries a few hundred times a second:
half of the event loop's time at 100 chat messages/s (cProfile of `opiekun run` under
bench/chat_sockets.py). Here the sweep runs at most once per SWEEP_EVERY seconds, which keeps the
expiry rules (a message waits at most `expiry` seconds, a membership lasts `group_expiry`) to within
that second.

`group_send` copies the message once for the whole group instead of once per member, puts it straight
into the members' queues instead of starting a task per member, and logs what a full queue drops
(Channels drops it silently).
"""

from __future__ import annotations

import asyncio
import logging
import time
from copy import deepcopy
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryLayer

log = logging.getLogger(__name__)

SWEEP_EVERY = 1.0  # seconds between sweeps for expired messages and memberships


class InMemoryChannelLayer(ChannelsInMemoryLayer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._swept = 0.0
        self.dropped = 0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = self.groups.get(group)
        if not members:
            return
        # One copy for every member: consumers read messages, they never change them.
        entry = (time.time() + self.expiry, deepcopy(message))
        for channel in list(members):
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            try:
                queue.put_nowait(entry)
            except asyncio.QueueFull:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("channel %s is full: %d message(s) dropped so far", channel, self.dropped)
