"""Live chat under load: many visitor sockets on loopback, an agent's desk watching, agents answering.

Starts its own Opiekun on a fresh data folder with the demo data — one `opiekun run` (in-memory channel
layer), or with `--processes 2` a redis-server on a free port and two `opiekun run` processes sharing
it (REDIS_URL: the Redis pub/sub layer, the task queue and the cache) and the data folder (SQLite in
WAL mode; DATABASE_URL is passed on when set). Visitors are spread over the processes; the agent's
desk (`/ws/desk/`) is on the first.

1. `--visitors` widget sockets connect and say hello.
2. Opening: every visitor sends a first message, which opens their chat (a case: contact, routing,
   the ring), at `--open-rate` per second. Timed apart: it is the pipeline's full pass.
3. The measured part: `--rate` messages per second in total for `--seconds`, from random visitors
   into their open chats. Each message is timed from the visitor's send to
   - its `ack` (stored: the message, the case's counters, the search index — committed), and
   - the agent's desk socket announcing it (the frame the desk refreshes on; whichever of the two
     arrives first, the time is kept),
   and every `--answer-every`-th message is answered by an agent (message_send in a separate
   process, through the delivery task and the livechat driver), timed until the visitor's socket
   shows the reply.

Lost = acknowledged but never announced to the desk, or answered but never shown to the visitor;
a desk socket that closed is reported (`desk_closed`), never silently counted as fine. Figures are
printed as JSON, with the machine's load average at the start and the end.

    .venv/bin/python bench/chat_sockets.py --visitors 1000 --rate 200 --seconds 20
    .venv/bin/python bench/chat_sockets.py --visitors 1000 --rate 200 --seconds 20 --processes 2
    .venv/bin/python bench/chat_sockets.py --idle 5000          # sockets held, memory of the server
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
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
from common import machine_speed_ms, percentiles

from opiekun.testing.redisserver import redis_server

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
from opiekun.conversations.selectors import access_conversation
from opiekun.conversations.services import message_send
# The agent and the case loaded as the desk's reply view loads them (ui.desk.views: guard, access_*).
agent = Agent.objects.select_related("shop", "user").get(user__username="anna")
for line in sys.stdin:
    message = Message.objects.get(pk=int(line))
    case = access_conversation(agent=agent, conversation_id=message.conversation_id)
    reply = message_send(conversation=case, agent=agent, text="Re: " + message.text[:40])
    print(message.pk, reply.pk, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"opiekun run at {url} exited with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"opiekun run at {url} did not start")


class Servers:
    """`processes` times `opiekun run` on one fresh installation (and a redis-server when more than one)."""

    def __init__(self, processes: int = 1) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="opiekun-chatbench-"))
        (self.dir / "chatbench_settings.py").write_text(SETTINGS)
        self.redis = contextlib.ExitStack()  # the redis-server of --processes 2
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[object] = []
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPIEKUN_", "DATABASE_URL", "REDIS_URL"))
        }
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        if processes > 1:
            env["REDIS_URL"] = self.redis.enter_context(redis_server())
        self.ports = [free_port() for _ in range(processes)]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.env = {
            **env,
            "PYTHONPATH": f"{self.dir}:{ROOT / 'src'}",
            "DJANGO_SETTINGS_MODULE": "chatbench_settings",
            "OPIEKUN_DATA_DIR": str(self.dir / "data"),
            "OPIEKUN_PORT": str(self.ports[0]),
            "OPIEKUN_PUBLIC_URL": self.urls[0],
            "OPIEKUN_SMTP_INTAKE_PORT": "0",
            "OPIEKUN_LOG_LEVEL": "WARNING",
            "OPIEKUN_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
        for args in (["migrate", "--noinput", "-v", "0"], ["demo", "--password", PASSWORD]):
            subprocess.run([OPIEKUN, *args], env=self.env, check=True, capture_output=True, timeout=600)
        for n, port in enumerate(self.ports):
            log = open(self.dir / f"server-{n}.log", "w")
            self.logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    [OPIEKUN, "run", "--port", str(port)],
                    env={**self.env, "OPIEKUN_PORT": str(port)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for url, process in zip(self.urls, self.processes, strict=True):
            wait_healthy(url, process)

    def rss_mb(self) -> list[float]:
        return [rss_mb(p.pid) for p in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.redis.close()
        for log in self.logs:
            log.close()  # type: ignore[attr-defined]
        if os.environ.get("CHATBENCH_KEEP"):
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def widget_key(url: str) -> str:
    page = httpx.get(url + "/chat-demo/", timeout=30).text
    return re.search(r'data-key="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def desk_cookie(url: str) -> str:
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        client.get("/login/")
        token = client.cookies["csrftoken"]
        client.post("/login/", data={"username": "anna", "password": PASSWORD, "csrfmiddlewaretoken": token})
        return f"sessionid={client.cookies['sessionid']}; csrftoken={token}"


async def paced(count: int, rate: float, send) -> float:  # type: ignore[no-untyped-def]
    """Call `send(n)` for n in range(count) at `rate` per second; returns the seconds it took."""
    interval = 1.0 / rate
    started = time.perf_counter()
    for n in range(count):
        await send(n)
        delay = started + (n + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    load_start = load()
    speed_start = machine_speed_ms()
    servers = Servers(args.processes)
    try:
        key = widget_key(servers.urls[0])
        origin = servers.urls[0]
        sent_at: dict[str, float] = {}  # client id → send time
        acked_at: dict[str, float] = {}
        id_of: dict[str, int] = {}  # client id → message id (from the ack)
        desk_at: dict[int, float] = {}  # message id → when the desk heard of it
        reply_wanted: dict[int, float] = {}  # reply message id → when the answer was asked for
        reply_seen_at: dict[int, float] = {}
        errors: list[str] = []
        measured: set[str] = set()
        asked_at: dict[int, float] = {}

        desk = await websockets.connect(
            servers.urls[0].replace("http", "ws") + "/ws/desk/",
            additional_headers={"Cookie": desk_cookie(servers.urls[0]), "Origin": origin},
            max_size=2**20,
        )

        async def watch_desk() -> None:
            async for raw in desk:
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame.get("direction") == "in":
                    desk_at.setdefault(int(frame["message_id"]), time.perf_counter())

        desk_task = asyncio.create_task(watch_desk())

        answerer = await asyncio.create_subprocess_exec(
            OPIEKUN,
            "shell",
            "-c",
            ANSWER,
            env=servers.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )

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
            url = servers.urls[n % len(servers.urls)].replace("http", "ws") + f"/ws/chat/{key}/"
            ws = await websockets.connect(url, additional_headers={"Origin": origin}, max_size=2**20)
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
        # This client holds a thousand sockets too: what it has built so far lives to the end, and a
        # full collection of it (its own pause, not the server's) would be timed as the server's delay.
        gc.collect()
        gc.freeze()
        client_pauses: list[float] = []
        gc_started = [0.0]

        def on_gc(phase: str, info: dict) -> None:  # type: ignore[type-arg]
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                client_pauses.append((time.perf_counter() - gc_started[0]) * 1000)

        gc.callbacks.append(on_gc)
        memory = servers.rss_mb()
        if args.idle:
            return {
                "visitors": args.visitors,
                "processes": args.processes,
                "connect_seconds": round(connect_s, 2),
                "server_rss_mb": memory,
                "errors": len(errors),
                "load_average_start": load_start,
                "machine_speed_ms": [speed_start, machine_speed_ms()],  # bench/common.py: lower is faster
                "load_average_end": load(),
            }

        async def listen(ws: websockets.ClientConnection) -> None:
            async for raw in ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                kind = frame["type"]
                if kind == "ack":
                    cid = frame["client_id"]
                    acked_at.setdefault(cid, now)
                    id_of[cid] = frame["id"]
                    if args.answer_every and cid in measured and len(acked_at) % args.answer_every == 0:
                        asked_at[frame["id"]] = now
                        assert answerer.stdin is not None
                        answerer.stdin.write(f"{frame['id']}\n".encode())
                elif kind == "message" and frame["from"] == "agent":
                    reply_seen_at.setdefault(frame["id"], now)
                elif kind == "error":
                    errors.append(frame.get("code", "?"))

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]

        async def send(ws: websockets.ClientConnection, cid: str, text: str) -> None:
            sent_at[cid] = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "client_id": cid, "text": text}))

        # Opening: a first message from every visitor opens their chat.
        open_s = await paced(
            len(sockets), args.open_rate, lambda n: send(sockets[n], f"open{n}", "Dzień dobry, mam pytanie")
        )
        deadline = time.perf_counter() + 30
        while (
            len([c for c in acked_at if c.startswith("open")]) < len(sockets)
            and time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.2)
        opened = [c for c in sent_at if c.startswith("open")]

        # The measured part: chats that are open exchange messages.
        total = int(args.rate * args.seconds)

        async def chat(n: int) -> None:
            cid = f"m{n}"
            measured.add(cid)
            await send(random.choice(sockets), cid, f"Wiadomość {n}: czy jest rozmiar 39?")

        send_s = await paced(total, args.rate, chat)
        await asyncio.sleep(args.settle)
        memory = [max(a, b) for a, b in zip(memory, servers.rss_mb(), strict=True)]
        desk_closed = desk.close_code

        def figures(cids: list[str]) -> dict:  # type: ignore[type-arg]
            acked = [c for c in cids if c in acked_at]
            stored_ms = [(acked_at[c] - sent_at[c]) * 1000 for c in acked]
            at_desk = [c for c in acked if id_of[c] in desk_at]
            desk_ms = [(desk_at[id_of[c]] - sent_at[c]) * 1000 for c in at_desk]
            return {
                "sent": len(cids),
                "acknowledged": len(acked),
                "unacknowledged": len(cids) - len(acked),
                "visitor_to_stored_ms": percentiles(stored_ms),
                "visitor_to_agent_desk_ms": percentiles(desk_ms),
                "lost_before_the_desk": len(acked) - len(at_desk),
            }

        if args.trace:  # each measured message: seconds into the run, ms to the ack, ms to the desk
            with open(args.trace, "w") as trace:
                for n in range(total):
                    cid = f"m{n}"
                    if cid in acked_at:
                        heard = desk_at.get(id_of[cid])
                        trace.write(
                            f"{sent_at[cid] - started:.3f} {(acked_at[cid] - sent_at[cid]) * 1000:.1f}"
                            f" {(heard - sent_at[cid]) * 1000 if heard else -1:.1f}\n"
                        )
        replies_ms = [(reply_seen_at[r] - t) * 1000 for r, t in reply_wanted.items() if r in reply_seen_at]
        result = {
            "visitors": args.visitors,
            "processes": args.processes,
            "channel_layer": "redis pub/sub" if args.processes > 1 else "in-memory",
            "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
            "opening": {**figures(opened), "chats_opened_per_second": round(len(opened) / open_s, 1)},
            "messages_sent": total,
            "messages_per_second": round(total / send_s, 1),
            **figures([f"m{n}" for n in range(total)]),
            "agent_answers": len(reply_wanted),
            "agent_reply_to_visitor_ms": percentiles(replies_ms),
            "answers_not_shown": len(reply_wanted) - len(replies_ms),
            "desk_closed": desk_closed,
            "errors": len(errors),
            "bench_client_gc_pause_ms_max": round(max(client_pauses, default=0.0), 1),
            "connect_seconds": round(connect_s, 2),
            "server_rss_mb": memory,
            "load_average_start": load_start,
            "machine_speed_ms": [speed_start, machine_speed_ms()],  # bench/common.py: lower is faster
            "load_average_end": load(),
        }
        for task in (*listeners, desk_task, answers_task):
            task.cancel()
        if answerer.stdin is not None:
            answerer.stdin.close()
        for ws in (*sockets, desk):
            await ws.close()
        return result
    finally:
        servers.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50, help="messages per second, all visitors together")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--open-rate", type=float, default=100, help="chats opened per second beforehand")
    parser.add_argument("--answer-every", type=int, default=10, help="answer every n-th message (0: never)")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait for the last frames")
    parser.add_argument("--idle", type=int, default=0, help="only hold this many idle visitor sockets")
    parser.add_argument("--processes", type=int, default=1, help="2: two processes on the Redis layer")
    parser.add_argument("--trace", default="", help="write each message's timings to this file")
    parser.add_argument("--redis", action="store_const", const=2, dest="processes", help="--processes 2")
    args = parser.parse_args()
    if args.idle:
        args.visitors = args.idle
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
