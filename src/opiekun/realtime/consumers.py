"""Websocket consumers. DeskConsumer: a logged-in agent's live desk at /ws/desk/.

The socket only tells the desk *that* something changed (frames in COMMON.md "Live desk protocol");
the page re-fetches what it shows through the ordinary views, so permissions live in one place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from importlib import import_module
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.utils.crypto import constant_time_compare

from opiekun.agents.models import Agent
from opiekun.conversations.selectors import view_counts

from .bridge import BATCH_MESSAGE_TYPE
from .fanout import agent_group, shop_group

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_AN_AGENT = 4403
CLOSE_TOO_SLOW = 1013  # "try again later": the client reconnects and starts from fresh counts
OUTBOX_LIMIT = 200  # frames one socket may have waiting before we stop holding them for it
MAX_CLIENT_FRAME = 4096  # bytes; the client only ever sends pings
RECHECK_EVERY = 300  # seconds between checks that the session behind a socket is still signed in


def _agent_of(user: Any) -> Agent | None:
    """The active user's agent profile (with its shop id), or None."""
    if not user.is_active:
        return None
    return Agent.objects.filter(user_id=user.pk).only("id", "shop_id").first()


def still_signed_in(*, agent_id: int, session_key: str | None, check_session: bool) -> bool:
    """The agent is still active and (for a session-authenticated socket) its session still signs them in.

    Reads the session afresh from its store: a logout elsewhere deletes it, a password change alters
    the user's session hash; either ends the socket as it ends the session's HTTP access.
    """
    agent = Agent.objects.filter(pk=agent_id, user__is_active=True).select_related("user").first()
    if agent is None:
        return False
    if not check_session:
        return True
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if str(session.get(SESSION_KEY, "")) != str(agent.user.pk):
        return False
    stored_hash = session.get(HASH_SESSION_KEY, "")
    return bool(stored_hash) and constant_time_compare(stored_hash, agent.user.get_session_auth_hash())


class Outbox:
    """Frames waiting for one socket. Counts collapse to the newest; other frames queue up to `limit`.

    A client that lags `limit` frames behind is not worth buffering for: `put` answers False and the
    consumer closes the socket, so one slow client never holds more than `limit` frames of memory.
    """

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        self.limit = limit
        self._frames: deque[dict[str, Any]] = deque()
        self._counts: dict[str, Any] | None = None
        self._wakeup = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames) + (self._counts is not None)

    def put(self, frame: dict[str, Any]) -> bool:
        if frame.get("type") == "counts":
            self._counts = frame
        elif frame in self._frames:
            pass  # the same refresh already waits; once is enough
        elif len(self._frames) >= self.limit:
            return False
        else:
            self._frames.append(frame)
        self._wakeup.set()
        return True

    def has_counts(self) -> bool:
        return self._counts is not None

    async def get(self) -> dict[str, Any]:
        while not self._frames and self._counts is None:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._counts is not None:
            frame, self._counts = self._counts, None
            return frame
        return self._frames.popleft()


class BoundedSocket(AsyncWebsocketConsumer):
    """A socket whose frames out wait in a bounded Outbox drained by one writer task.

    A client that reads slowly blocks only its writer, while frames for it collect (bounded) in the
    outbox instead of in the channel layer's unbounded queues; one that lags `outbox_limit` frames
    behind is closed with 1013. The desk socket and the chat sockets (livechat/consumers.py) share it.
    """

    outbox_limit = OUTBOX_LIMIT

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler.

        That call is a hop to the one thread all of the process's `database_sync_to_async` calls share,
        for every frame a socket receives and every layer message it is sent: under the chat's load each
        visitor frame and each fan-out waited there behind other sockets' queries. Our handlers touch the
        database only through `database_sync_to_async`, which closes stale connections around each call
        itself (channels.db.DatabaseSyncToAsync), or through the chat intake's own thread."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def _setup(self) -> None:
        self.outbox = Outbox(self.outbox_limit)
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._joined: list[str] = []
        self._closer: asyncio.Task[None] | None = None

    def _start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write())

    async def _stop(self) -> None:
        """The socket is going: no more frames, no more groups (safe before `_setup` ran, too)."""
        self._closing = True
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.cancel()
        if hasattr(self, "_joined"):
            await self._leave_groups()

    async def _join(self, group: str) -> None:
        if group not in self._joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self._joined.append(group)

    async def _leave_groups(self) -> None:
        joined, self._joined = self._joined, []
        for group in joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def queue(self, frame: dict[str, Any]) -> None:
        if self._closing:
            return
        if not self.outbox.put(frame):
            log.info("%s lags %d frames behind; closing it", self.socket_label(), len(self.outbox))
            self._closing = True
            if self._writer is not None:
                self._writer.cancel()
            # Leave the groups first: nothing more piles up for this socket in the channel layer, even
            # while the close frame itself waits behind the client's full TCP window.
            await self._leave_groups()
            self._closer = asyncio.create_task(self.close(code=CLOSE_TOO_SLOW))

    async def _write(self) -> None:
        try:
            while True:
                frame = await self.outbox.get()
                await self.transmit(frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("writer of %s failed", self.socket_label(), exc_info=True)

    async def transmit(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    def socket_label(self) -> str:
        return f"socket {self.channel_name}"

    async def realtime_batch(self, event: dict[str, Any]) -> None:
        """Several layer messages the bridge sent this socket's group at once: handled in order."""
        for message in event.get("messages") or ():
            if not isinstance(message, dict) or message.get("type") == BATCH_MESSAGE_TYPE:
                continue
            try:
                handler = getattr(self, get_handler_name(message), None)
            except ValueError:  # a private name: never a handler
                continue
            if handler is not None:
                await handler(message)

    # -- an agent's socket: it lives only as long as the sign-in behind it ---------------------------

    def _remember_sign_in(self) -> None:
        session = self.scope.get("session")
        self._session_key = getattr(session, "session_key", None) if session is not None else None
        self._check_session = session is not None
        self._checked_at = time.monotonic()

    async def _still_signed_in_or_close(self, agent_id: int) -> bool:
        """Every RECHECK_EVERY seconds: the agent is still signed in (logout elsewhere, deactivation and a
        password change end the socket as they end the session), else the socket closes with 4401."""
        if time.monotonic() - self._checked_at <= RECHECK_EVERY:
            return True
        self._checked_at = time.monotonic()
        if await database_sync_to_async(still_signed_in)(
            agent_id=agent_id, session_key=self._session_key, check_session=self._check_session
        ):
            return True
        self._closing = True
        await self._leave_groups()
        await self.close(code=CLOSE_UNAUTHENTICATED)
        return False


class DeskConsumer(BoundedSocket):
    """One agent's desk: joins `desk.shop.<shop>` and `desk.agent.<agent>`, forwards their frames."""

    async def connect(self) -> None:
        self.agent_id: int | None = None
        self._setup()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first so the browser sees the close code (a refused handshake carries none).
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        agent = await database_sync_to_async(_agent_of)(user)
        if agent is None:
            await self.accept()
            await self.close(code=CLOSE_NOT_AN_AGENT)
            return
        self.agent_id = agent.pk
        self._remember_sign_in()
        # Join before reading the counts: a change made meanwhile is then pushed, not missed.
        for group in (shop_group(agent.shop_id), agent_group(agent.pk)):
            await self._join(group)
        await self.accept()
        self._start_writer()
        # Any change after this read is followed by a pushed round, so the desk converges on the truth.
        counts = await database_sync_to_async(view_counts)(agent=agent)
        await self.queue({"type": "counts", "counts": counts.as_dict()})

    async def disconnect(self, code: int) -> None:
        await self._stop()

    # -- from the channel layer -------------------------------------------------------------------

    async def desk_frame(self, message: dict[str, Any]) -> None:
        frame = message.get("frame")
        if not isinstance(frame, dict) or self.agent_id is None:
            return
        await self.queue(frame)

    # -- from the browser -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.agent_id is None:
            return
        if text_data is None or len(text_data) > MAX_CLIENT_FRAME:
            await self.queue({"type": "error", "error": "bad_frame"})
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            await self.queue({"type": "error", "error": "bad_json"})
            return
        if not isinstance(data, dict) or data.get("type") != "ping":
            await self.queue({"type": "error", "error": "unknown_type"})
            return
        if not await self._still_signed_in_or_close(self.agent_id):  # the desk pings every 25 s
            return
        await self.queue({"type": "pong"})

    # -- to the browser ---------------------------------------------------------------------------

    def socket_label(self) -> str:
        return f"desk socket of agent {self.agent_id}"
