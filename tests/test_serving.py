"""`opiekun run` as a real process: HTTP, the worker's threads, /healthz and a clean Ctrl-C.

Each server gets a free loopback port and its own migrated data folder; its outgoing mail goes over
SMTP to an aiosmtpd sink in this process, so work done by the embedded worker is observable from here.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

OPIEKUN = str(Path(sys.executable).with_name("opiekun"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self) -> None:
        self.mails: list = []  # type: ignore[type-arg]
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.lock:
            self.mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    yield sink, port
    controller.stop()


def environment(data_dir: Path, port: int, smtp_port: int, **extra: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPIEKUN_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "opiekun.config.settings.dev",
        "OPIEKUN_DATA_DIR": str(data_dir),
        "OPIEKUN_PORT": str(port),
        "OPIEKUN_SMTP_HOST": "127.0.0.1",
        "OPIEKUN_SMTP_PORT": str(smtp_port),
        # Each server its own SMTP intake port: two at once (a browser test's, a scaled pair) must not fight
        # over the default 2525.
        "OPIEKUN_SMTP_INTAKE_PORT": str(free_port()),
        "OPIEKUN_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        **extra,
    }


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]

    def get(self, path: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 — loopback
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def opiekun(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPIEKUN, *args],
            env=self.env,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10) -> tuple[int, str, float]:
        started = time.monotonic()
        self.process.send_signal(sig)
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output, time.monotonic() - started


def start(data_dir: Path, env: dict[str, str]) -> Server:
    process = subprocess.Popen(
        [OPIEKUN, "run"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{env['OPIEKUN_PORT']}", data_dir, env, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"opiekun run exited with {process.returncode}:\n{process.stdout.read()}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", int(env["OPIEKUN_PORT"])), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("opiekun run did not listen within 60 s")


def wait_for(predicate, timeout: float = 15, every: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """One migrated installation with a shop, an agent, a contact and a web-form case to reply to."""
    data = tmp_path_factory.mktemp("serving")
    env = environment(data, 0, 0)
    subprocess.run([OPIEKUN, "migrate", "--noinput", "-v", "0"], env=env, cwd=data, check=True, timeout=300)
    subprocess.run([OPIEKUN, "shell", "-c", SETUP], env=env, cwd=data, check=True, timeout=120)
    return data


SETUP = """
from opiekun.agents.services import agent_create
from opiekun.contacts.services import addresses_from, contact_identify
from opiekun.conversations.services import conversation_create, message_record_inbound
from opiekun.inboxes.models import Inbox
from opiekun.shops.models import Shop
shop = Shop.objects.create(slug="serve", name="Serve Shop", sender_email="help@serve.example")
agent_create(shop=shop, username="anna", password="zielona-herbata-7", display_name="Anna Nowak")
inbox = Inbox.objects.create(shop=shop, kind="webform", name="Form")
contact, _ = contact_identify(shop=shop, addresses=addresses_from(email="jan@example.org"), name="Jan")
case = conversation_create(shop=shop, contact=contact, subject="Paczka", inbox=inbox)
message_record_inbound(conversation=case, channel="webform", inbox=inbox, text="Gdzie paczka?",
                       author_contact=contact)
"""

REPLY = """
from opiekun.agents.models import Agent
from opiekun.conversations.models import Conversation
from opiekun.conversations.services import message_send
case = Conversation.objects.get(number=1)
print(message_send(conversation=case, agent=Agent.objects.get(user__username="anna"), text="{text}").pk)
"""


@pytest.fixture
def server(install, smtp) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    running = start(install, environment(install, free_port(), smtp[1]))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.communicate()


def test_run_answers_healthz_and_the_worker_beats(server):
    status, body = wait_for(lambda: (r := server.get("/healthz")) and r[1]["worker"]["status"] == "ok" and r)
    assert status == 200 and body["status"] == "ok"
    assert body["database"] == {"status": "ok", "vendor": "sqlite", "ms": body["database"]["ms"]}
    assert body["channel_layer"] == {"status": "ok", "backend": "InMemoryChannelLayer"}
    assert body["worker"]["last_beat_seconds_ago"] < 15


def test_a_task_enqueued_from_outside_is_run_by_the_worker_threads(server):
    """The beat is a task: forget it from another process, queue one, and watch the worker write it."""
    wait_for(lambda: server.get("/healthz")[1]["worker"]["status"] == "ok")
    server.opiekun("shell", "-c", "from opiekun.core.heartbeat import forget; forget()")
    assert server.get("/healthz")[1]["worker"]["status"] == "starting"  # nobody vouches for the worker now
    server.opiekun("shell", "-c", "from opiekun.core.tasks import worker_heartbeat; worker_heartbeat()")
    status, _ = wait_for(lambda: (r := server.get("/healthz")) and r[1]["worker"]["status"] == "ok" and r)
    assert status == 200


def test_a_reply_queued_elsewhere_is_delivered_by_the_embedded_worker(server, smtp):
    sink, _ = smtp
    done = server.opiekun("shell", "-c", REPLY.format(text="Paczka jest w drodze."))
    message_id = int(done.stdout.strip().splitlines()[-1])

    mail = wait_for(
        lambda: next(
            (m for m in list(sink.mails) if "Paczka jest w drodze." in m.get_body(("plain",)).get_content()),
            None,
        )
    )
    assert mail["Subject"] == "[#1] Paczka" and mail["To"].addresses[0].addr_spec == "jan@example.org"
    with sqlite3.connect(server.data_dir / "opiekun.sqlite3") as db:
        status = wait_for(
            lambda: (
                db.execute(
                    "select delivery_status from conversations_message where id = ?", (message_id,)
                ).fetchone()[0]
                == "sent"
            )
        )
    assert status


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_web_and_worker_cleanly(server, sig):
    wait_for(lambda: server.get("/healthz")[1]["worker"]["status"] == "ok")
    code, output, took = server.stop(sig)
    assert code == 0, output
    assert took < 10
    assert "Traceback" not in output and "Error" not in output
    assert "Opiekun stopped." in output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(server.env["OPIEKUN_PORT"])), timeout=1).close()


def test_healthz_is_503_when_the_database_is_unreachable(install, smtp):
    closed = free_port()  # nothing listens there
    env = environment(
        install, free_port(), smtp[1], DATABASE_URL=f"postgresql://opiekun@127.0.0.1:{closed}/x"
    )
    broken = start(install, env)
    try:
        status, body = broken.get("/healthz")
    finally:
        code, output, _ = broken.stop()
    assert "Traceback" not in output
    assert status == 503 and body["status"] == "error"
    assert body["database"]["status"] == "error" and body["database"]["vendor"] == "postgresql"
    assert str(closed) not in json.dumps(body)  # the error names a class, never the connection string
    assert body["channel_layer"]["status"] == "ok"
    assert code == 0


def test_web_only_and_worker_only_need_redis(install):
    env = environment(install, free_port(), 0)
    for flag in ("--web-only", "--worker-only"):
        done = subprocess.run(
            [OPIEKUN, "run", flag], env=env, cwd=install, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1 and "REDIS_URL" in done.stderr


LOGIN = """
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username="anna"))
print(client.cookies["sessionid"].value)
"""


def _desk_socket(server: Server):  # type: ignore[no-untyped-def]
    from websockets.sync.client import connect

    session = server.opiekun("shell", "-c", LOGIN).stdout.strip().splitlines()[-1]
    socket_url = server.url.replace("http://", "ws://") + "/ws/desk/"
    return connect(
        socket_url,
        additional_headers={"Cookie": f"sessionid={session}", "Origin": server.url},
        open_timeout=10,
    )


def _frames_until(ws, predicate, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        if predicate(frame):
            return frame
    raise AssertionError(f"no matching frame within {timeout} s")


def test_work_done_by_the_embedded_worker_shows_up_live_in_the_desk(server, smtp):
    """One process: the worker thread's delivery update reaches the agent's websocket (in-memory layer)."""
    with _desk_socket(server) as ws:
        _frames_until(ws, lambda f: f["type"] == "counts")
        done = server.opiekun("shell", "-c", REPLY.format(text="Na żywo."))
        message_id = int(done.stdout.strip().splitlines()[-1])
        # Only the server process can have sent this: the reply was queued by another process, and the
        # delivery (status "sent") was done by the worker thread inside `opiekun run`.
        frame = _frames_until(ws, lambda f: f["type"] == "message_updated" and f["message_id"] == message_id)
    assert frame["number"] == 1


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_scaled_topology_web_and_worker_processes_share_redis(install, smtp, redis_url):
    sink, smtp_port = smtp
    web_env = environment(install, free_port(), smtp_port, REDIS_URL=redis_url)
    worker_env = {**web_env, "OPIEKUN_PORT": str(free_port())}
    web = subprocess.Popen(
        [OPIEKUN, "run", "--web-only"],
        env=web_env,
        cwd=install,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = subprocess.Popen(
        [OPIEKUN, "run", "--worker-only"],
        env=worker_env,
        cwd=install,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{web_env['OPIEKUN_PORT']}", install, web_env, web)
    try:
        wait_for(lambda: _listening(int(web_env["OPIEKUN_PORT"])), timeout=60)
        status, body = wait_for(
            lambda: (r := server.get("/healthz")) and r[1]["worker"]["status"] == "ok" and r, timeout=30
        )
        assert status == 200 and body["channel_layer"]["backend"] == "RedisPubSubChannelLayer"
        # A reply queued by a third process goes through Redis to the worker process, which sends it.
        server.opiekun("shell", "-c", REPLY.format(text="Przez Redis."))
        wait_for(
            lambda: any("Przez Redis." in m.get_body(("plain",)).get_content() for m in list(sink.mails))
        )
    finally:
        results = []
        for process in (web, worker):
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=30)  # generous: the suite may share 2 busy cores
            results.append((process.returncode, output))
    for code, output in results:
        assert code == 0 and "Traceback" not in output, output


def test_the_server_takes_its_loaded_application_out_of_the_collectors_view():
    import gc

    from opiekun.core.management.commands.run import settle_the_heap

    thresholds = gc.get_threshold()
    try:
        settle_the_heap()
        assert gc.get_threshold()[2] == 100  # full collections ten times rarer than Python's default
        # The application and everything imported so far: never walked by a full collection again.
        assert gc.get_freeze_count() > 50_000
        from opiekun.config.asgi import application

        assert not gc.is_tracked(application) or application not in gc.get_objects(generation=2)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
