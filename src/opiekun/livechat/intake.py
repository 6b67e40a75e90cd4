"""Group commit of visitor messages on one event loop.

Every socket's message waits here a few milliseconds (BATCH_WAIT) for others, then one database call
stores the whole batch (`services.chat_messages_store_many`: one pass of the inbound pipeline per
widget). Database calls from sockets all run on Channels' one database thread, one after another; a
transaction and a pipeline pass per message made that thread the limit long before the sockets were
(bench/chat_sockets.py). A lone message waits at most BATCH_WAIT; under load the batches grow and the
cost per message falls.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass

from channels.db import database_sync_to_async

from . import services

log = logging.getLogger(__name__)

BATCH_WAIT = 0.005  # seconds the first message of a batch waits for company
BATCH_MAX = 200


@dataclass
class _Waiting:
    request: services.ChatMessageRequest
    future: asyncio.Future[services.StoredMessage]


class Intake:
    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._runner: asyncio.Task[None] | None = None

    async def store(self, request: services.ChatMessageRequest) -> services.StoredMessage:
        """Store one visitor message with whatever else arrives meanwhile; raises what it earned."""
        future: asyncio.Future[services.StoredMessage] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(request, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            await asyncio.sleep(BATCH_WAIT)
            batch, self._waiting = self._waiting[:BATCH_MAX], self._waiting[BATCH_MAX:]
            try:
                outcomes = await database_sync_to_async(services.chat_messages_store_many)(
                    [w.request for w in batch]
                )
            except Exception as exc:  # the database is away: every message of the batch says so
                log.warning("a batch of %d chat messages was not stored", len(batch), exc_info=True)
                outcomes = [exc] * len(batch)
            for waiting, outcome in zip(batch, outcomes, strict=True):
                if waiting.future.done():  # the socket went away meanwhile
                    continue
                if isinstance(outcome, Exception):
                    waiting.future.set_exception(outcome)
                else:
                    waiting.future.set_result(outcome)


_intakes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Intake] = weakref.WeakKeyDictionary()


def intake() -> Intake:
    """The running loop's intake (the serving loop in `opiekun run`, a test's own loop in tests)."""
    loop = asyncio.get_running_loop()
    found = _intakes.get(loop)
    if found is None:
        found = _intakes[loop] = Intake()
    return found
