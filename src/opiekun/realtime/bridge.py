"""Send to channel-layer groups from sync code (request threads, worker threads) safely and in order.

With the in-memory layer every socket lives on the serving event loop (uvicorn's, which `opiekun run`
registers in opiekun.core.serving); a worker thread must hand its message to *that* loop — a loop of
its own would put the message into queues that belong to another loop, from the wrong thread. With
a cross-process layer (Redis) a process that serves no sockets (`--worker-only`, a management
command) gets one private long-lived loop, so it keeps one Redis connection instead of opening a
loop per message.

Sending never blocks the caller: messages go into a bounded, ordered backlog that a task on the loop
drains. A slow or unreachable Redis therefore cannot stall a request or a delivery task.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from opiekun.core.serving import serving_loop

log = logging.getLogger(__name__)

MAX_BACKLOG = 10_000  # messages waiting for the layer; beyond this the oldest are dropped (and logged)
SEND_TIMEOUT = 5.0  # seconds for one group_send before it is given up
BATCH_MESSAGE_TYPE = "realtime.batch"  # several messages for one group, in order (BoundedSocket unpacks)
BATCH_MAX = 100  # messages in one batch

_lock = threading.Lock()
_private: asyncio.AbstractEventLoop | None = None


class _LoopState:
    """What the bridge keeps per loop: the ordered backlog and the tasks it must not lose."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.backlog: deque[tuple[str, dict[str, Any]]] = deque()
        self.drainer: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.dropped = 0
        # Sends from other threads gather here and reach the loop in one wake-up: a committer thread
        # storing 200 chat lines a second made ~9 sends per line, and a call_soon_threadsafe each (a
        # write to the loop's self-pipe, and a turn of the loop) cost more than the sends themselves.
        # Items are (group, message) to send, or (None, (fn, args)) to call — in the order handed over.
        self.incoming: deque[tuple[str | None, Any]] = deque()
        self.incoming_lock = threading.Lock()
        self.incoming_armed = False

    def hand_over(self, group: str | None, message: Any) -> bool:
        """From another thread: queue for the loop; True when the caller must wake the loop."""
        with self.incoming_lock:
            self.incoming.append((group, message))
            if self.incoming_armed:
                return False
            self.incoming_armed = True
            return True

    def take_incoming(self) -> None:
        """On the loop: move what other threads handed over into the backlog, in their order."""
        with self.incoming_lock:
            items = list(self.incoming)
            self.incoming.clear()
            self.incoming_armed = False
        for group, message in items:
            if group is not None:
                self.put(group, message)
                continue
            fn, args = message
            try:
                fn(*args)
            except Exception:
                log.exception("realtime callback %s failed", getattr(fn, "__name__", fn))

    def put(self, group: str, message: dict[str, Any]) -> None:
        if len(self.backlog) >= MAX_BACKLOG:
            self.backlog.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("realtime backlog full: %d message(s) dropped so far", self.dropped)
        self.backlog.append((group, message))
        if self.drainer is None or self.drainer.done():
            self.drainer = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        # What waits for one group leaves as ONE layer message (BATCH_MESSAGE_TYPE, unpacked in order by
        # the receiving consumer, realtime.consumers.BoundedSocket): a consumer handles one layer message
        # per turn of the event loop, and under load (a thousand sockets, a committer thread holding the
        # GIL in turns) the desk's consumer fell behind a message per frame. No task per send either
        # (asyncio.wait_for made one). The in-memory layer's group_send never waits; a Redis layer's
        # waits on its connection, within SEND_TIMEOUT each.
        layer = get_channel_layer()
        local = isinstance(layer, InMemoryChannelLayer)
        while self.backlog:
            by_group: dict[str, list[dict[str, Any]]] = {}
            for _n in range(len(self.backlog)):
                group, message = self.backlog.popleft()
                by_group.setdefault(group, []).append(message)
            if layer is None:
                continue
            for group, messages in by_group.items():
                for start in range(0, len(messages), BATCH_MAX):
                    chunk = messages[start : start + BATCH_MAX]
                    message = chunk[0] if len(chunk) == 1 else {"type": BATCH_MESSAGE_TYPE, "messages": chunk}
                    try:
                        if local:
                            await layer.group_send(group, message)
                        else:
                            async with asyncio.timeout(SEND_TIMEOUT):
                                await layer.group_send(group, message)
                    except Exception:
                        log.warning("realtime fan-out to %s failed", group, exc_info=True)

    def busy(self) -> bool:
        return (
            bool(self.backlog)
            or bool(self.incoming)
            or (self.drainer is not None and not self.drainer.done())
            or any(not t.done() for t in self.tasks)
        )


_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()


_states_lock = threading.Lock()


def _state(loop: asyncio.AbstractEventLoop) -> _LoopState:
    state = _states.get(loop)
    if state is None:
        with _states_lock:  # threads handing over may ask for it at the same time as the loop
            state = _states.get(loop)
            if state is None:
                state = _states[loop] = _LoopState(loop)
    return state


def _layer_is_process_local() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def _start_private_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    threading.Thread(target=run, name="opiekun-realtime-bridge", daemon=True).start()
    ready.wait(5)
    # A management command may publish and exit at once: give its messages (and the counts round they
    # armed) a moment to leave. This must run before thread pools refuse work at interpreter exit, which
    # happens ahead of plain atexit handlers; threading's own exit hooks run newest first, before them.
    register = getattr(threading, "_register_atexit", atexit.register)
    register(drain, 3.0)
    return loop


def target_loop() -> asyncio.AbstractEventLoop | None:
    """The loop sends from this process run on, or None when nothing here or elsewhere could receive them.

    None happens with the in-memory layer in a process that serves no sockets (a management command
    or a test that did not register a loop): there is nobody to tell, so the fan-out skips its work.
    """
    global _private
    serving = serving_loop()
    if serving is not None and not serving.is_closed():
        return serving
    with _lock:
        if get_channel_layer() is None or _layer_is_process_local():
            return None
        if _private is None or _private.is_closed():
            _private = _start_private_loop()
        return _private


def is_live() -> bool:
    return target_loop() is not None


def call_soon(fn: Callable[..., Any], *args: Any) -> bool:
    """Run `fn(*args)` on the target loop (from any thread); False when there is none.

    From another thread the call joins the sends handed over (one wake-up of the loop for a run of
    them, in order with the sends). The callback gets a fresh context: it must not inherit a
    request's thread-sensitive context, which would be gone by the time the callback's tasks run.
    """
    loop = target_loop()
    if loop is None:
        return False
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.call_soon(fn, *args, context=contextvars.Context())
        return True
    return _wake(loop, _state(loop), None, (fn, args))


def group_send(group: str, message: dict[str, Any]) -> None:
    """Queue `message` for `group`; returns at once, messages from one process keep their order."""
    loop = target_loop()
    if loop is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    state = _state(loop)
    if running is loop:
        state.put(group, message)
        return
    _wake(loop, state, group, message)


def _wake(loop: asyncio.AbstractEventLoop, state: _LoopState, group: str | None, item: Any) -> bool:
    if not state.hand_over(group, item):
        return True  # a wake-up is already on its way and will take this one too
    try:
        loop.call_soon_threadsafe(state.take_incoming, context=contextvars.Context())
    except RuntimeError:
        log.debug("realtime loop closed; dropped a message for %s", group or "a callback")
        return False
    return True


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Start `coro` on the running loop and keep it referenced until done (drain() waits for it)."""
    loop = asyncio.get_running_loop()
    state = _state(loop)
    task = loop.create_task(coro)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    return task


def drain(timeout: float = 3.0) -> bool:
    """From a thread other than the loop's: wait until queued sends and spawned tasks are done."""
    loop = target_loop() if serving_loop() is not None or _private is not None else None
    if loop is None or loop.is_closed() or not loop.is_running():
        return True
    try:
        if asyncio.get_running_loop() is loop:
            return False  # would wait on ourselves
    except RuntimeError:
        pass
    deadline = time.monotonic() + timeout

    async def busy() -> bool:
        return _state(loop).busy()

    while time.monotonic() < deadline:
        try:
            if not asyncio.run_coroutine_threadsafe(busy(), loop).result(
                timeout=max(0.1, deadline - time.monotonic())
            ):
                return True
        except Exception:
            return False
        time.sleep(0.02)
    return False
