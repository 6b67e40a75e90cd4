"""Live chat under load: many visitor sockets on loopback, an agent's desk watching, agents answering.

Starts its own `opiekun run` (one process, in-memory channel layer) on a fresh data folder with the
demo data, opens `--visitors` widget sockets, and has them send `--rate` messages per second in
total for `--seconds`. Each message is timed from the visitor's send to

- its `ack` (stored: the case, the message, the search index, committed), and
- the agent's desk socket announcing it (`/ws/desk/`, the frame the desk refreshes on),

and every `--answer-every`-th message is answered by an agent (message_send through the delivery task
and the livechat driver), timed until the visitor's socket shows the reply. Lost = acknowledged but
never announced, or answered but never shown. Figures are printed as JSON.

    .venv/bin/python bench/chat_sockets.py --visitors 1000 --rate 200 --seconds 30
    .venv/bin/python bench/chat_sockets.py --idle 5000          # sockets held, memory of the server

Not measured here yet: two processes on the Redis layer (issue 4's second figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentiles

ROOT = Path(__file__).resolve().parent.parent
OPIEKUN = str(Path(sys.executable).with_name("opiekun"))
PASSWORD = "bench-pass-123"
SETTINGS = """from opiekun.config.settings.dev import *  # noqa
# One address opens every socket here: lift the per-visitor limits a real shop keeps.
OPIEKUN_CHAT_LIMITS = {"session": (100000, 600), "message": (100000, 60), "frames": (100000, 10)}
"""
ANSWER = """
import sys
from opiekun.agents.models import Agent
from opiekun.conversations.models import Message
from opiekun.conversations.services import message_send
agent = Agent.objects.get(user__username="anna")
for line in sys.stdin:
    message = Message.objects.select_related("conversation").get(pk=int(line))
    reply = message_send(conversation=message.conversation, agent=agent, text="Re: " + message.text[:40])
    print(message.pk, reply.pk, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class Server:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="opiekun-chatbench-"))
        (self.dir / "chatbench_settings.py").write_text(SETTINGS)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("OPIEKUN_", "DATABASE_URL", "REDIS_URL"))
            },
            "PYTHONPATH": f"{self.dir}:{ROOT / 'src'}",
            "DJANGO_SETTINGS_MODULE": "chatbench_settings",
            "OPIEKUN_DATA_DIR": str(self.dir / "data"),
            "OPIEKUN_PORT": str(self.port),
            "OPIEKUN_PUBLIC_URL": self.url,
            "OPIEKUN_SMTP_INTAKE_PORT": "0",
            "OPIEKUN_LOG_LEVEL": "WARNING",
            "OPIEKUN_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
        for args in (["migrate", "--noinput", "-v", "0"], ["demo", "--password", PASSWORD]):
            subprocess.run([OPIEKUN, *args], env=self.env, check=True, capture_output=True, timeout=600)
        self.log = open(self.dir / "server.log", "w")
        self.process = subprocess.Popen(
            [OPIEKUN, "run"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("opiekun run did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def widget_key(server: Server) -> str:
    page = httpx.get(server.url + "/chat-demo/", timeout=30).text  # makes the demo widget
    return re.search(r'data-key="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def desk_cookie(server: Server) -> str:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as client:
        client.get("/login/")
        token = client.cookies["csrftoken"]
        client.post("/login/", data={"username": "anna", "password": PASSWORD, "csrfmiddlewaretoken": token})
        return f"sessionid={client.cookies['sessionid']}; csrftoken={token}"


async def run(args: argparse.Namespace) -> dict:
    server = Server()
    try:
        key = widget_key(server)
        ws_url = server.url.replace("http", "ws") + f"/ws/chat/{key}/"
        origin = server.url
        sent_at: dict[str, float] = {}  # client id → send time
        acked: dict[str, int] = {}
        ack_ms: list[float] = []
        desk_ms: list[float] = []
        reply_ms: list[float] = []
        by_id: dict[int, str] = {}
        announced: set[int] = set()
        reply_wanted: dict[int, float] = {}  # reply message id → when the answer was asked for
        replies_seen: set[int] = set()
        errors: list[str] = []

        # The agent's desk, watching every new message of the shop.
        desk = await websockets.connect(
            server.url.replace("http", "ws") + "/ws/desk/",
            additional_headers={"Cookie": desk_cookie(server), "Origin": origin},
            max_size=2**20,
        )

        async def watch_desk() -> None:
            async for raw in desk:
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame.get("direction") == "in":
                    mid = int(frame["message_id"])
                    announced.add(mid)
                    cid = by_id.get(mid)
                    if cid is not None and cid in sent_at:
                        desk_ms.append((time.perf_counter() - sent_at[cid]) * 1000)

        desk_task = asyncio.create_task(watch_desk())

        # Agents answering: a separate process calling message_send, as the composer does.
        answerer = await asyncio.create_subprocess_exec(
            OPIEKUN,
            "shell",
            "-c",
            ANSWER,
            env=server.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        asked_at: dict[int, float] = {}

        async def read_answers() -> None:
            assert answerer.stdout is not None
            while line := await answerer.stdout.readline():
                parts = line.split()
                if len(parts) == 2 and parts[0].isdigit():
                    reply_wanted[int(parts[1])] = asked_at.get(int(parts[0]), time.perf_counter())

        answers_task = asyncio.create_task(read_answers())

        sockets = []
        started = time.perf_counter()
        for n in range(args.visitors):
            ws = await websockets.connect(ws_url, additional_headers={"Origin": origin}, max_size=2**20)
            await ws.send(
                json.dumps(
                    {"type": "hello", "lang": "pl", "page": {"url": origin + f"/p/{n}", "title": "bench"}}
                )
            )
            welcome = json.loads(await ws.recv())
            if welcome.get("type") != "welcome":
                errors.append(str(welcome))
            sockets.append(ws)
        connect_s = time.perf_counter() - started
        memory = rss_mb(server.process.pid)
        if args.idle:
            return {
                "visitors": args.visitors,
                "connect_seconds": round(connect_s, 2),
                "server_rss_mb": memory,
                "errors": len(errors),
            }

        async def listen(ws: websockets.ClientConnection) -> None:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    cid = frame["client_id"]
                    acked[cid] = frame["id"]
                    by_id[frame["id"]] = cid
                    ack_ms.append((time.perf_counter() - sent_at[cid]) * 1000)
                    if frame["id"] in announced and cid in sent_at:
                        pass  # announced before the ack reached us: counted by the desk watcher
                    if args.answer_every and len(acked) % args.answer_every == 0:
                        asked_at[frame["id"]] = time.perf_counter()
                        assert answerer.stdin is not None
                        answerer.stdin.write(f"{frame['id']}\n".encode())
                elif frame["type"] == "message" and frame["from"] == "agent":
                    mid = frame["id"]
                    if mid not in replies_seen:
                        replies_seen.add(mid)
                        if mid in reply_wanted:
                            reply_ms.append((time.perf_counter() - reply_wanted[mid]) * 1000)
                elif frame["type"] == "error":
                    errors.append(frame.get("code", "?"))

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        total = int(args.rate * args.seconds)
        interval = 1.0 / args.rate
        started = time.perf_counter()
        for n in range(total):
            ws = random.choice(sockets)
            cid = f"m{n}"
            sent_at[cid] = time.perf_counter()
            await ws.send(
                json.dumps(
                    {"type": "message", "client_id": cid, "text": f"Wiadomość {n}: czy jest rozmiar 39?"}
                )
            )
            delay = started + (n + 1) * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        send_s = time.perf_counter() - started
        await asyncio.sleep(args.settle)
        lost_desk = [mid for mid in by_id if mid not in announced]
        lost_replies = [mid for mid in reply_wanted if mid not in replies_seen]
        memory = max(memory, rss_mb(server.process.pid))
        for task in (*listeners, desk_task, answers_task):
            task.cancel()
        if answerer.stdin is not None:
            answerer.stdin.close()
        for ws in (*sockets, desk):
            await ws.close()
        return {
            "visitors": args.visitors,
            "messages_sent": total,
            "messages_per_second": round(total / send_s, 1),
            "acknowledged": len(acked),
            "unacknowledged": total - len(acked),
            "visitor_to_stored_ms": percentiles(ack_ms),
            "visitor_to_agent_desk_ms": percentiles(desk_ms),
            "lost_before_the_desk": len(lost_desk),
            "agent_answers": len(reply_wanted),
            "agent_reply_to_visitor_ms": percentiles(reply_ms),
            "answers_not_shown": len(lost_replies),
            "errors": len(errors),
            "connect_seconds": round(connect_s, 2),
            "server_rss_mb": memory,
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50, help="messages per second, all visitors together")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--answer-every", type=int, default=10, help="answer every n-th message (0: never)")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait for the last frames")
    parser.add_argument("--idle", type=int, default=0, help="only hold this many idle visitor sockets")
    args = parser.parse_args()
    if args.idle:
        args.visitors = args.idle
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
