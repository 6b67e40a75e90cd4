"""The browser harness: a real `opiekun run` process, a real SMTP sink and Debian's Chromium.

Fixtures:
- `server` (session): Opiekun started as a subprocess on a free loopback port with its own empty
  OPIEKUN_DATA_DIR, migrated and seeded with `opiekun demo --password demo-pass-123`; its outgoing
  mail goes over SMTP to an in-process aiosmtpd sink (`server.mails`, `server.wait_for_mail`).
- `browser` (session): Chromium through Playwright, launched with the flags this machine needs.
- `new_page()`: a fresh browser context + page (separate cookies, like a second person).
- `login(page, username)`: signs a demo agent in.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop shares the test thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "demo-pass-123"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
OPIEKUN = str(Path(sys.executable).with_name("opiekun"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Sink:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        msg = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self.lock:
            self.mails.append(msg)  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    sink: _Sink
    process: subprocess.Popen
    log_path: Path
    intake_port: int = 0  # the server's SMTP intake (mail for the demo mailbox pomoc@sklep-demo.localhost)
    mails: list[EmailMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mails = self.sink.mails

    def wait_for_mail(self, predicate: Callable[[EmailMessage], bool], timeout: float = 10) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.sink.lock:
                for msg in self.sink.mails:
                    if predicate(msg):
                        return msg
            time.sleep(0.1)
        subjects = [m["Subject"] for m in self.sink.mails]
        raise AssertionError(f"no matching mail within {timeout}s; got: {subjects}")

    def opiekun(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [OPIEKUN, *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
            check=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_http(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"opiekun run exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 — loopback only
                if response.status < 500:
                    return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"opiekun did not answer at {url} within {timeout}s:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    from aiosmtpd.controller import Controller

    sink = _Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    data_dir = Path(tempfile.mkdtemp(prefix="opiekun-browser-"))
    port = free_port()
    intake_port = free_port()
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("OPIEKUN_", "DATABASE_URL", "REDIS_URL"))
        },
        "DJANGO_SETTINGS_MODULE": "opiekun.config.settings.dev",
        "OPIEKUN_DATA_DIR": str(data_dir),
        "OPIEKUN_HOST": "127.0.0.1",
        "OPIEKUN_PORT": str(port),
        "OPIEKUN_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OPIEKUN_SMTP_HOST": "127.0.0.1",
        "OPIEKUN_SMTP_PORT": str(smtp_port),
        "OPIEKUN_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPIEKUN_DEFAULT_FROM": "support@sklep-demo.localhost",
        "OPIEKUN_SMTP_INTAKE_PORT": str(intake_port),
    }
    for args in (["migrate", "--noinput", "-v", "0"], ["demo", "--password", DEMO_PASSWORD]):
        done = subprocess.run([OPIEKUN, *args], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            controller.stop()
            raise RuntimeError(f"opiekun {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    log_path = data_dir / "server.log"
    log_file = open(log_path, "w")
    process = subprocess.Popen(
        [OPIEKUN, "run"], env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/healthz", process, log_path)
        yield Server(
            url=url,
            data_dir=data_dir,
            env=env,
            sink=sink,
            process=process,
            log_path=log_path,
            intake_port=intake_port,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()
        controller.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def playwright_instance():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (/usr/bin/chromium); `make test` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):  # type: ignore[no-untyped-def]
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser):  # type: ignore[no-untyped-def]
    contexts = []

    def make(viewport: dict | None = None, locale: str = "en-US", **kwargs):  # type: ignore[no-untyped-def]
        context = browser.new_context(
            viewport=viewport or {"width": 1440, "height": 900}, locale=locale, **kwargs
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def login(server):  # type: ignore[no-untyped-def]
    def do(page, username: str = "anna", password: str = DEMO_PASSWORD):  # type: ignore[no-untyped-def]
        page.goto(server.url + "/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login/" not in u)
        return page

    return do


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a screenshot into docs/screenshots/ (committed; the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=False)
    return path
