"""The chat's websockets.

VisitorConsumer at /ws/chat/<public key>/: a visitor's widget on a shop's page. Not behind the
desk's AllowedHostsOriginValidator (visitors come from the shop's own domains): the Origin is
checked against the widget's allowed origins here, and refused with 4403. Frames (JSON, both ways)
are in docs/channels/livechat.md; every client frame is size-checked and parsed defensively, a bad
one earns an error frame, never a crash, and one socket's trouble never touches another's.

AgentChatConsumer at /ws/desk/chat/: the desk's chat side for a signed-in agent (rings, visitor
typing and presence, the agent's own typing and read receipts). The desk socket (/ws/desk/) stays
as it is: it already refreshes the list and the thread for the messages chats store.

Both reuse the desk's bounded Outbox: one slow client never holds more than its limit of frames.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from django.urls import reverse

from opiekun.agents.models import Agent
from opiekun.conversations.models import Attachment, Message
from opiekun.core.errors import NotFound, RateLimited, ValidationFailed
from opiekun.inboxes.drivers.livechat.driver import conversation_group, origin_allowed
from opiekun.realtime.consumers import BoundedSocket

from . import selectors, services, tokens
from .fanout import agent_name, desk_group, online_changed, session_group, widget_group
from .intake import intake
from .models import ChatSession

log = logging.getLogger(__name__)

CLOSE_UNKNOWN_WIDGET = 4404
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_UNAUTHENTICATED = 4401
CLOSE_POLICY = 1008  # a flood of frames: the widget backs off before it reconnects
MAX_FRAME = 16 * 1024  # bytes of one client frame (a message of MAX_TEXT characters fits)
FRAMES_PER_WINDOW = (40, 10)  # any frames per socket per window (seconds), before error frames
FLOOD_CLOSE = 3  # …and this many windows' worth of frames closes the socket
TYPING_EVERY = 2.0  # seconds between typing frames passed on
SEEN_EVERY = 30.0  # seconds between "still here" writes of a session


class _Window:
    """A per-socket fixed-window frame counter (in memory: it guards this socket only)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.start, self.count = time.monotonic(), 0

    def hit(self) -> int:
        now = time.monotonic()
        if now - self.start >= self.window:
            self.start, self.count = now, 0
        self.count += 1
        return self.count


class _Bounded(BoundedSocket):
    """The chat sockets' shared part (the bounded writer itself is realtime's BoundedSocket)."""

    async def _refuse(self, code: int) -> None:
        # Accept first so the browser sees the close code (a refused handshake carries none).
        await self.accept()
        await self.close(code=code)

    def _parse(self, text_data: str | None, bytes_data: bytes | None) -> dict[str, Any] | str:
        """The client frame as a dict, or the error code to answer with."""
        if text_data is None:
            return "bad_frame"
        if len(text_data) > MAX_FRAME:
            return "too_large"
        try:
            data = json.loads(text_data)
        except ValueError:
            return "bad_json"
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return "bad_frame"
        return data


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62 else 0


def message_frame(
    message: Message, session: ChatSession, files: list[Attachment] | None = None
) -> dict[str, Any]:
    """How the widget sees one message: text as text, the agent's first name, signed file links (of
    `files` when the caller read them, else of the message's attachments)."""
    agent = message.author_agent
    author = ""
    if message.direction == Message.Direction.OUTBOUND and agent is not None:
        author = agent.display_name.split()[0] if agent.display_name.strip() else ""
    client_id = ""
    if message.direction == Message.Direction.INBOUND and message.external_id:
        prefix = f"{session.key}:"
        if message.external_id.startswith(prefix):
            client_id = message.external_id[len(prefix) :]
    return {
        "type": "message",
        "id": message.pk,
        "from": "visitor" if message.direction == Message.Direction.INBOUND else "agent",
        "author": author,
        "text": message.text,
        "at": message.created_at.isoformat(),
        "client_id": client_id,
        "files": [
            {
                "name": a.filename,
                "type": a.mime_type,
                "size": a.size,
                "url": reverse(
                    "livechat:file",
                    kwargs={"token": tokens.file_token(attachment_id=a.pk, session_id=session.pk)},
                ),
            }
            for a in (message.attachments.all() if files is None else files)
        ],
    }


class VisitorConsumer(_Bounded):
    """One visitor's widget. State: the widget (by the URL's key), then the session (by `hello`)."""

    async def connect(self) -> None:
        self._setup()
        self.widget: selectors.Widget | None = None
        self.session: ChatSession | None = None
        self._sent: deque[int] = deque(maxlen=500)
        self._frames = _Window(*services.limit("frames", FRAMES_PER_WINDOW))
        self._typing_at = 0.0
        self._seen_at = time.monotonic()
        key = self.scope["url_route"]["kwargs"].get("key", "")
        try:
            self.widget = await database_sync_to_async(selectors.access_widget)(key)
        except NotFound:
            await self._refuse(CLOSE_UNKNOWN_WIDGET)
            return
        origin = dict(self.scope.get("headers") or []).get(b"origin", b"").decode("latin-1")
        if not origin_allowed(origin, self.widget.config):
            self.widget = None
            await self._refuse(CLOSE_FORBIDDEN_ORIGIN)
            return
        await self._join(widget_group(self.widget.inbox.pk))  # whether someone is there, pushed
        await self.accept()
        self._start_writer()

    async def disconnect(self, code: int) -> None:
        await self._stop()
        session = getattr(self, "session", None)
        if session is not None:
            self.session = None
            await database_sync_to_async(services.chat_session_left)(session_id=session.pk)
            if session.conversation_id is not None:
                await self._to_desk(
                    {"type": "visitor_typing", "conversation_id": session.conversation_id, "on": False}
                )

    # -- from the widget ----------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.widget is None or self._closing:
            return
        count = self._frames.hit()
        if count > self._frames.limit * FLOOD_CLOSE:
            self._closing = True
            await self._leave_groups()
            await self.close(code=CLOSE_POLICY)
            return
        if count > self._frames.limit:
            await self.queue(
                {"type": "error", "code": "rate_limited", "retry_after": int(self._frames.window)}
            )
            return
        data = self._parse(text_data, bytes_data)
        if isinstance(data, str):
            await self.queue({"type": "error", "code": data})
            return
        kind = data["type"]
        if kind == "ping":
            await self.queue({"type": "pong"})
            await self._still_here()
            return
        if kind == "hello":
            await self._hello(data)
            return
        if self.session is None:
            await self.queue({"type": "error", "code": "hello_first"})
            return
        handler = {
            "message": self._message,
            "typing": self._typing,
            "delivered": self._delivered,
            "read": self._read,
            "page": self._page,
            "prechat": self._prechat,
            "transcript": self._transcript,
            "end": self._end,
        }.get(kind)
        if handler is None:
            await self.queue({"type": "error", "code": "unknown_type"})
            return
        try:
            await handler(data)
        except Exception:  # one bad frame must never take the socket (or the server) down
            log.exception("chat frame %r failed", kind)
            await self.queue({"type": "error", "code": "server_error"})

    async def _hello(self, data: dict[str, Any]) -> None:
        assert self.widget is not None
        if self.session is not None:
            await self.queue({"type": "error", "code": "already_started"})
            return
        key = tokens.session_key_from(data.get("session"), inbox_id=self.widget.inbox.pk)
        page: dict[str, Any] = data["page"] if isinstance(data.get("page"), dict) else {}
        headers = dict(self.scope.get("headers") or [])
        client = self.scope.get("client") or ("", 0)
        try:
            session = await database_sync_to_async(services.chat_session_open)(
                widget=self.widget,
                key=key,
                identity=data.get("identity"),
                page_url=str(page.get("url") or ""),
                page_title=str(page.get("title") or ""),
                language=str(data.get("lang") or "")[:8],
                user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
                ip=str(client[0] or ""),
            )
        except RateLimited as exc:
            await self.queue({"type": "error", "code": "rate_limited", "retry_after": exc.retry_after})
            return
        self.session = session
        await self._join(session_group(session.pk))
        if session.conversation is not None:
            await self._join(conversation_group(self.widget.config.public_key, session.conversation.number))
        welcome = await database_sync_to_async(self._welcome)(session, _int(data.get("last_id")))
        await self.queue(welcome)
        for frame in welcome.pop("_frames"):
            self._sent.append(frame["id"])

    def _welcome(self, session: ChatSession, after_id: int) -> dict[str, Any]:
        assert self.widget is not None
        history = [
            message_frame(m, session) for m in selectors.session_history(session=session, after_id=after_id)
        ]
        return {
            "type": "welcome",
            "session": tokens.session_token(key=session.key, inbox_id=self.widget.inbox.pk),
            "online": selectors.widget_online(widget=self.widget),
            "identified": session.identified,
            "prechat_done": bool(session.identified or session.given_email or session.given_name),
            "visitor": {"name": session.given_name, "email": session.given_email},
            "messages": history,
            "agent_read_up_to": session.agent_read_up_to,
            "agent": agent_name(session.conversation.assignee) if session.conversation else "",
            "_frames": history,
        }

    async def _message(self, data: dict[str, Any]) -> None:
        assert self.widget is not None and self.session is not None
        client_id = data.get("client_id")
        text = data.get("text")
        if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
            await self.queue({"type": "error", "code": "bad_client_id"})
            return
        if not isinstance(text, str):
            await self.queue({"type": "error", "code": "bad_frame", "client_id": client_id})
            return
        if len(text) > services.MAX_TEXT:
            await self.queue(
                {"type": "error", "code": "too_long", "client_id": client_id, "limit": services.MAX_TEXT}
            )
            return
        had_case = self.session.conversation_id
        try:
            stored = await intake().store(
                services.ChatMessageRequest(
                    session=self.session,
                    widget=self.widget,
                    client_id=client_id,
                    text=text,
                    origin=self.channel_name,
                )
            )
        except RateLimited as exc:
            await self.queue(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "client_id": client_id,
                    "retry_after": exc.retry_after,
                }
            )
            return
        except ValidationFailed as exc:
            await self.queue(
                {"type": "error", "code": "invalid", "client_id": client_id, "message": exc.message}
            )
            return
        message = stored.message
        if self.session.conversation is not None and self.session.conversation_id != had_case:
            await self._join(
                conversation_group(self.widget.config.public_key, self.session.conversation.number)
            )
        self._sent.append(message.pk)
        await self.queue(
            {
                "type": "ack",
                "client_id": client_id,
                "id": message.pk,
                "at": message.created_at.isoformat(),
                "duplicate": stored.duplicate,
            }
        )

    async def _typing(self, data: dict[str, Any]) -> None:
        assert self.session is not None
        on = data.get("on") is True
        now = time.monotonic()
        if on and now - self._typing_at < TYPING_EVERY:
            return
        self._typing_at = now if on else 0.0
        if self.session.conversation_id is not None:
            await self._to_desk(
                {"type": "visitor_typing", "conversation_id": self.session.conversation_id, "on": on}
            )

    async def _delivered(self, data: dict[str, Any]) -> None:
        assert self.session is not None
        up_to = _int(data.get("up_to"))
        if up_to:
            await database_sync_to_async(services.chat_mark_delivered)(session=self.session, up_to=up_to)

    async def _read(self, data: dict[str, Any]) -> None:
        assert self.session is not None
        up_to = _int(data.get("up_to"))
        if up_to:
            await database_sync_to_async(services.chat_mark_read_by_visitor)(
                session=self.session, up_to=up_to
            )

    async def _page(self, data: dict[str, Any]) -> None:
        assert self.session is not None
        url, title = data.get("url"), data.get("title")
        if isinstance(url, str):
            await database_sync_to_async(services.chat_session_page)(
                session=self.session, url=url, title=title if isinstance(title, str) else ""
            )

    async def _prechat(self, data: dict[str, Any]) -> None:
        assert self.widget is not None and self.session is not None
        fields = {k: data.get(k) if isinstance(data.get(k), str) else "" for k in ("name", "email", "phone")}
        try:
            await database_sync_to_async(services.chat_prechat)(
                session=self.session, widget=self.widget, **fields
            )
        except ValidationFailed as exc:
            await self.queue({"type": "error", "code": "invalid", "field": exc.field, "message": exc.message})
            return
        await self.queue({"type": "prechat_ok"})

    async def _transcript(self, data: dict[str, Any]) -> None:
        assert self.session is not None
        email = data.get("email") if isinstance(data.get("email"), str) else ""
        try:
            address = await database_sync_to_async(services.chat_transcript_request)(
                session=self.session, email=email
            )
        except RateLimited as exc:
            await self.queue({"type": "error", "code": "rate_limited", "retry_after": exc.retry_after})
            return
        except ValidationFailed as exc:
            await self.queue({"type": "error", "code": "invalid", "field": "email", "message": exc.message})
            return
        await self.queue({"type": "transcript_ok", "email": address})

    async def _end(self, data: dict[str, Any]) -> None:
        assert self.session is not None
        await database_sync_to_async(services.chat_session_end)(session=self.session)
        await self.queue({"type": "ended"})

    async def _still_here(self) -> None:
        if self.session is not None and time.monotonic() - self._seen_at > SEEN_EVERY:
            self._seen_at = time.monotonic()
            await database_sync_to_async(services.chat_session_seen)(session_id=self.session.pk)

    async def _to_desk(self, frame: dict[str, Any]) -> None:
        if self.widget is not None:
            await self.channel_layer.group_send(
                desk_group(self.widget.shop_id), {"type": "chat.desk", "frame": frame}
            )

    # -- from the channel layer ---------------------------------------------------------------------

    async def chat_push(self, event: dict[str, Any]) -> None:
        """A message of this chat is there (an agent's reply, or the visitor's from another tab)."""
        message_id = _int(event.get("message_id"))
        session = self.session
        if not message_id or session is None or message_id in self._sent:
            return
        if event.get("origin") == self.channel_name:
            return  # this socket sent it: its ack says so (it may overtake the ack: no read for it)
        frame = await database_sync_to_async(self._load_frame)(session, message_id)
        if frame is not None and message_id not in self._sent:
            self._sent.append(message_id)
            await self.queue(frame)

    def _load_frame(self, session: ChatSession, message_id: int) -> dict[str, Any] | None:
        pushed = selectors.session_message(session=session, message_id=message_id)
        return message_frame(pushed.message, session, pushed.files) if pushed is not None else None

    async def chat_visitor(self, event: dict[str, Any]) -> None:
        """Frames for the visitor: an agent typing or reading, another tab opening the case."""
        frame = event.get("frame")
        if not isinstance(frame, dict) or self.session is None or self.widget is None:
            return
        if frame.get("type") == "joined":
            number = _int(frame.get("number"))
            if self.session.conversation is not None and self.session.conversation.number == number:
                return  # the tab that opened the case: it knows already (and joined in `_message`)
            refreshed = await database_sync_to_async(
                lambda: ChatSession.objects.select_related("conversation").filter(pk=self.session.pk).first()  # type: ignore[union-attr]
            )()
            if (
                refreshed is not None
                and refreshed.conversation is not None
                and refreshed.conversation.number == number
            ):
                self.session.conversation = refreshed.conversation
                await self._join(conversation_group(self.widget.config.public_key, number))
            return
        await self.queue(frame)


def _agent_for(user: Any) -> Agent | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return Agent.objects.filter(user_id=user.pk).only("id", "shop_id", "display_name").first()


class AgentChatConsumer(_Bounded):
    """One agent's desk, chat side. Joins `livechat.d.<shop>`; forwards only the rings it should hear."""

    async def connect(self) -> None:
        self._setup()
        self.agent: Agent | None = None
        self._frames = _Window(*FRAMES_PER_WINDOW)
        self._typing_at: dict[int, float] = {}
        self._seen_at = time.monotonic()
        self._conversations: dict[int, tuple[str, int] | None] = {}
        agent = await database_sync_to_async(_agent_for)(self.scope.get("user"))
        if agent is None:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self.agent = agent
        self._remember_sign_in()
        self.team_ids = await database_sync_to_async(selectors.agent_team_ids)(agent_id=agent.pk)
        await self._join(desk_group(agent.shop_id))
        await self.accept()
        self._start_writer()
        await database_sync_to_async(services.agent_presence_change)(
            agent_id=agent.pk, shop_id=agent.shop_id, delta=1
        )
        online_changed(agent.shop_id)
        waiting = await database_sync_to_async(selectors.waiting_chats)(shop_id=agent.shop_id)
        await self.queue(self._waiting_frame(waiting))

    async def disconnect(self, code: int) -> None:
        await self._stop()
        agent = getattr(self, "agent", None)
        if agent is not None:
            self.agent = None
            await database_sync_to_async(services.agent_presence_change)(
                agent_id=agent.pk, shop_id=agent.shop_id, delta=-1
            )
            online_changed(agent.shop_id)

    def _offered(self, assignee_id: Any, team_id: Any) -> bool:
        """Whether a chat rings for this agent: theirs, or unassigned in one of their teams (or no team)."""
        assert self.agent is not None
        if assignee_id is not None:
            return assignee_id == self.agent.pk
        return team_id is None or team_id in self.team_ids

    def _waiting_frame(self, chats: list[dict[str, Any]]) -> dict[str, Any]:
        mine = [c for c in chats if self._offered(c["assignee_id"], c["team_id"])]
        return {"type": "waiting", "count": len(mine), "chats": mine}

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.agent is None or self._closing:
            return
        if self._frames.hit() > self._frames.limit:
            await self.queue({"type": "error", "code": "rate_limited"})
            return
        data = self._parse(text_data, bytes_data)
        if isinstance(data, str):
            await self.queue({"type": "error", "code": data})
            return
        kind = data["type"]
        try:
            if kind == "ping":
                if not await self._still_signed_in_or_close(self.agent.pk):  # the desk socket's check
                    return
                if time.monotonic() - self._seen_at > 20:
                    self._seen_at = time.monotonic()
                    await database_sync_to_async(services.agent_presence_change)(
                        agent_id=self.agent.pk, shop_id=self.agent.shop_id, delta=0
                    )
                await self.queue({"type": "pong"})
            elif kind == "typing":
                await self._typing(data)
            elif kind == "read":
                await self._read(data)
            elif kind == "watch":
                await self._watch(data)
            else:
                await self.queue({"type": "error", "code": "unknown_type"})
        except Exception:
            log.exception("desk chat frame %r failed", kind)
            await self.queue({"type": "error", "code": "server_error"})

    async def _group_of(self, conversation_id: int) -> tuple[str, int] | None:
        """(visitor group, id) of a chat conversation of the agent's shop; None for anything else."""
        if conversation_id not in self._conversations:
            self._conversations[conversation_id] = await database_sync_to_async(self._load_group)(
                conversation_id
            )
        return self._conversations[conversation_id]

    def _load_group(self, conversation_id: int) -> tuple[str, int] | None:
        assert self.agent is not None
        try:
            conversation = selectors.access_chat_conversation(
                agent=self.agent, conversation_id=conversation_id
            )
        except NotFound:
            return None
        key = (conversation.inbox.config or {}).get("public_key") if conversation.inbox else None
        if not key or conversation.inbox.kind != "livechat":  # type: ignore[union-attr]
            return None
        return conversation_group(str(key), conversation.number), conversation.pk

    async def _typing(self, data: dict[str, Any]) -> None:
        assert self.agent is not None
        conversation_id = _int(data.get("conversation_id"))
        on = data.get("on") is True
        now = time.monotonic()
        if on and now - self._typing_at.get(conversation_id, 0.0) < TYPING_EVERY:
            return
        self._typing_at[conversation_id] = now if on else 0.0
        target = await self._group_of(conversation_id)
        if target is None:
            return
        name = self.agent.display_name.split()[0] if self.agent.display_name.strip() else ""
        await self.channel_layer.group_send(
            target[0], {"type": "chat.visitor", "frame": {"type": "typing", "on": on, "name": name}}
        )

    async def _read(self, data: dict[str, Any]) -> None:
        assert self.agent is not None
        conversation_id, up_to = _int(data.get("conversation_id")), _int(data.get("up_to"))
        target = await self._group_of(conversation_id)
        if target is None or not up_to:
            return
        agent = self.agent

        def mark() -> int | None:
            conversation = selectors.access_chat_conversation(agent=agent, conversation_id=conversation_id)
            session = services.chat_mark_read_by_agent(agent=agent, conversation=conversation, up_to=up_to)
            return session.agent_read_up_to if session is not None else None

        read = await database_sync_to_async(mark)()
        if read:
            await self.channel_layer.group_send(
                target[0], {"type": "chat.visitor", "frame": {"type": "read", "up_to": read}}
            )

    async def _watch(self, data: dict[str, Any]) -> None:
        """The agent opened a chat: tell them at once whether the visitor is there and where."""
        assert self.agent is not None
        conversation_id = _int(data.get("conversation_id"))
        if await self._group_of(conversation_id) is None:
            return
        agent = self.agent

        def state() -> dict[str, Any] | None:
            session = selectors.session_of_conversation(
                shop_id=agent.shop_id, conversation_id=conversation_id
            )
            if session is None:
                return None
            return {
                "type": "visitor",
                "conversation_id": conversation_id,
                "online": selectors.session_is_online(session),
                "page_url": session.page_url,
                "page_title": session.page_title,
                "visitor_read_up_to": session.visitor_read_up_to,
            }

        frame = await database_sync_to_async(state)()
        if frame is not None:
            await self.queue(frame)

    async def chat_desk(self, event: dict[str, Any]) -> None:
        frame = event.get("frame")
        if not isinstance(frame, dict) or self.agent is None:
            return
        kind = frame.get("type")
        if kind == "ring" and not self._offered(frame.get("assignee_id"), frame.get("team_id")):
            return
        if kind == "waiting":
            await self.queue(self._waiting_frame(frame.get("chats") or []))
            return
        await self.queue(frame)
