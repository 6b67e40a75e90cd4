"""Group commit of visitor messages, on a committer thread of its own.

Every socket hands its message to the process's one committer thread and waits for the outcome. The
thread stores whatever has gathered since its last write in one call
(`services.chat_messages_store_many`), so under load a batch holds everything that arrived while the
previous one was being written, and a lone message is written at once instead of waiting for company.

Why a thread of its own: every other database call of the sockets (a visitor's hello, a push read, the
desk's counts and waiting chats) runs on Channels' one database thread, one after another. Sharing it
put each batch behind them — and them behind each batch (bench/chat_sockets.py showed the intake's
waits, not its writes, as the visitor's delay). The committer has its own connection, which it closes
when it has been idle for IDLE_EXIT seconds (the thread then ends; the next message starts another).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from django.db import close_old_connections, connections

from . import services

log = logging.getLogger(__name__)

BATCH_MAX = 300  # messages in one write
IDLE_EXIT = 5.0  # seconds without work before the committer closes its connection and ends


@dataclass
class _Waiting:
    request: services.ChatMessageRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[services.StoredMessage]


class Intake:
    """The committer: a queue of waiting messages and the thread that writes them."""

    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopping = False

    async def store(self, request: services.ChatMessageRequest) -> services.StoredMessage:
        """Store one visitor message with whatever else arrives meanwhile; raises what it earned."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[services.StoredMessage] = loop.create_future()
        with self._lock:
            self._waiting.append(_Waiting(request, loop, future))
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="opiekun-chat-intake", daemon=True)
                self._thread.start()
            else:
                self._work.notify()
        return await future

    def stop(self, timeout: float = 5.0) -> None:
        """Let the committer finish what waits, close its connection and end (tests, shutdown)."""
        with self._lock:
            self._stopping = True
            self._work.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._waiting and not self._stopping:
                        self._work.wait(IDLE_EXIT)
                    if not self._waiting:
                        self._thread = None
                        return
                    batch, self._waiting = self._waiting[:BATCH_MAX], self._waiting[BATCH_MAX:]
                self._write(batch)
        finally:
            connections.close_all()

    def _write(self, batch: list[_Waiting]) -> None:
        close_old_connections()  # as Channels' database thread does around each call
        try:
            outcomes: list[services.StoredMessage | Exception] = services.chat_messages_store_many(
                [w.request for w in batch]
            )
        except Exception as exc:  # the database is away: every message of the batch says so
            log.warning("a batch of %d chat messages was not stored", len(batch), exc_info=True)
            outcomes = [exc] * len(batch)
            close_old_connections()
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiting, object]]] = {}
        for waiting, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(waiting.loop, []).append((waiting, outcome))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # that loop closed meanwhile (its sockets are gone)
                pass


def _settle(settled: list[tuple[_Waiting, object]]) -> None:
    for waiting, outcome in settled:
        if waiting.future.done():  # the socket went away meanwhile
            continue
        if isinstance(outcome, BaseException):
            waiting.future.set_exception(outcome)
        else:
            waiting.future.set_result(outcome)  # type: ignore[arg-type]


_intake = Intake()


def intake() -> Intake:
    """The process's intake (its committer thread serves every loop's sockets)."""
    return _intake
