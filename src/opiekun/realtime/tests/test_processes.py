"""Live frames across real processes: work done by the task worker reaches a desk socket.

Embedded (no REDIS_URL): one `opiekun run` process; a delivery task run by its Huey worker thread
marks a reply sent, and the in-memory layer carries that to the socket on uvicorn's loop.
Distributed (REDIS_URL): `opiekun run --web-only` and `opiekun run --worker-only` as two processes
sharing a real redis-server on loopback; the frame made in the worker process reaches the socket
held by the web process. The client is the `websockets` library, logged in with a real session.

Each installation is a fresh OPIEKUN_DATA_DIR + `opiekun migrate` (on SQLite, or on a fresh database
of the PostgreSQL server in DATABASE_URL when the suite runs there).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

OPIEKUN = str(Path(sys.executable).with_name("opiekun"))

SETUP = """
import json, secrets
from django.test import Client
from opiekun.agents.services import agent_create
from opiekun.contacts import services as contacts
from opiekun.conversations.services import conversation_create
from opiekun.inboxes.models import Inbox
from opiekun.shops.models import Shop

tag = secrets.token_hex(4)
shop = Shop.objects.create(name="Sklep " + tag, slug="sklep-" + tag)
agent = agent_create(shop=shop, username="anna-" + tag, password="unused-" + tag, display_name="Anna",
                     validate=False)
inbox = Inbox.objects.create(shop=shop, kind="webform", name="Formularz")
contact, _ = contacts.contact_identify(shop=shop, name="Jan Kowalski",
                                       addresses=contacts.addresses_from(email="jan-" + tag + "@example.org"))
conversation = conversation_create(shop=shop, contact=contact, subject="Gdzie paczka?", inbox=inbox)
client = Client()
client.force_login(agent.user)
print(json.dumps({"session": client.cookies["sessionid"].value, "agent": agent.pk,
                  "conversation": conversation.pk, "number": conversation.number}))
"""

# A reply from the agent: queued here, sent by the delivery task in whichever process runs the worker.
REPLY = """
import json
from opiekun.agents.models import Agent
from opiekun.conversations.models import Conversation
from opiekun.conversations.services import message_send

message = message_send(conversation=Conversation.objects.get(pk={conversation}),
                       agent=Agent.objects.get(pk={agent}), text="Paczka wyszła dziś rano.")
print(json.dumps({{"message": message.pk}}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Installation:
    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env = env
        self.root = root
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def opiekun(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [OPIEKUN, *args], env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"opiekun {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def script(self, code: str, env: dict[str, str] | None = None) -> dict:
        return json.loads(self.opiekun("shell", "-c", code, env=env).strip().splitlines()[-1])

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log_path = self.root / f"{'-'.join(a.strip('-') for a in args) or 'run'}-{len(self.processes)}.log"
        log_file = open(log_path, "w")  # the process writes to it until stop_all()
        process = subprocess.Popen(
            [OPIEKUN, *args],
            env={**self.env, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.processes.append((process, log_path))
        return process

    def logs(self) -> str:
        tails = (f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for _, path in self.processes)
        return "\n".join(tails)

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def wait_http(url: str, installation: Installation, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, _ in installation.processes:
            if process.poll() is not None:
                raise AssertionError(f"a process exited with {process.returncode}:\n{installation.logs()}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 — loopback only
                return
        except urllib.error.HTTPError:
            return  # it answered (503 while the worker has not beaten yet)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url} within {timeout}s:\n{installation.logs()}")


@pytest.fixture(scope="module")
def database_env() -> Iterator[dict[str, str]]:
    """SQLite in the data folder; or, when the suite runs on PostgreSQL, a fresh database there."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        yield {}
        return
    import psycopg

    name = f"opiekun_rt_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = url.rsplit("/", 1)[0]
    try:
        yield {"DATABASE_URL": f"{base}/{name}"}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def installation(database_env: dict[str, str]) -> Iterator[Installation]:
    root = Path(tempfile.mkdtemp(prefix="opiekun-realtime-"))
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("OPIEKUN_", "DATABASE_URL", "REDIS_URL"))
        },
        **database_env,
        "DJANGO_SETTINGS_MODULE": "opiekun.config.settings.dev",
        "OPIEKUN_DATA_DIR": str(root / "data"),
        # Replies to web-form customers are e-mailed; keep them in memory of the sending process.
        "OPIEKUN_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    inst = Installation(env, root)
    inst.opiekun("migrate", "--noinput", "-v", "0")
    try:
        yield inst
    finally:
        inst.stop_all()
        shutil.rmtree(root, ignore_errors=True)


async def reply_seen_live(
    port: int, installation: Installation, env: dict[str, str] | None = None
) -> list[dict]:
    """Open a desk socket, have the agent reply from another process; the frames until "sent", and after."""
    setup = installation.script(SETUP, env=env)
    frames: list[dict] = []
    async with connect(
        f"ws://127.0.0.1:{port}/ws/desk/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={setup['session']}"},
    ) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "counts" and first["counts"]["unassigned"] == 1, first
        reply = await asyncio.to_thread(installation.script, REPLY.format(**setup), env)
        deadline = time.monotonic() + 30
        while True:
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                logs = installation.logs()
                raise AssertionError(f"no message_updated within 30s; got {frames}\n{logs}") from None
            frames.append(frame)
            if frame == {
                "type": "message_updated",
                "conversation_id": setup["conversation"],
                "number": setup["number"],
                "message_id": reply["message"],
            }:
                break
        # Whatever else is on its way (counts rounds wait a quarter of a second) arrives meanwhile.
        while True:
            try:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 1.5)))
            except TimeoutError:
                return frames


def test_embedded_worker_thread_work_reaches_the_socket(installation):
    port = free_port()
    installation.start("run", "--port", str(port))
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", installation)
        frames = asyncio.run(reply_seen_live(port, installation))
    finally:
        installation.stop_all()
    # The reply was stored by another process (its in-memory layer reaches nobody); only the delivery
    # done by the server's own worker thread could tell the socket.
    assert [f["type"] for f in frames] == ["message_updated"], frames


def test_worker_process_frames_reach_the_web_process_through_redis(installation, redis_url):
    env = {"REDIS_URL": redis_url}
    port = free_port()
    installation.start("run", "--web-only", "--port", str(port), env=env)
    installation.start("run", "--worker-only", env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", installation)
        frames = asyncio.run(reply_seen_live(port, installation, env))
    finally:
        installation.stop_all()
    kinds = [f["type"] for f in frames]
    # Through Redis, the frames of the process that stored the reply arrive too (message, conversation,
    # counts); message_updated can only come from the worker process, which ran the delivery task.
    assert "message" in kinds and "conversation" in kinds, frames
    counts = [f["counts"] for f in frames if f["type"] == "counts"]
    assert counts and counts[-1]["mine"] == 1 and counts[-1]["unassigned"] == 0, frames
