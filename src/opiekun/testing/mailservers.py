"""Real mail servers on loopback for tests: Dovecot, an aiosmtpd sink, self-signed TLS, a cuttable proxy.

Use the fixtures by importing them into a test module (or list this module in `pytest_plugins` of a
root conftest):

    from opiekun.testing.mailservers import dovecot, smtp_sink, tls_cert  # noqa: F401

Every server gets its own temporary directory and a free port and is stopped at the end of the
session; nothing depends on a server left running by an earlier run. Any Dovecot user name logs in
with the password `secret`, so each test takes its own user (`dovecot.new_user()`) and never sees
another test's mail.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from imapclient import IMAPClient

DOVECOT_PASSWORD = "secret"  # noqa: S105 - the static passdb of the throw-away test server


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it; a tiny race is acceptable in tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class SelfSignedCert:
    """A certificate valid for `localhost` and `127.0.0.1`; `cert` doubles as the CA file clients trust."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_self_signed_cert(directory: Path, name: str = "server") -> SelfSignedCert:
    """Write `<name>.pem` and `<name>-key.pem` into `directory` with openssl (one day, RSA 2048)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (scripts/install-system-deps.sh installs it)")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN=localhost/O=Opiekun tests {name}",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return SelfSignedCert(cert=cert, key=key)


# ---------------------------------------------------------------------------------------- Dovecot


@dataclass
class DovecotServer:
    """A running throw-away Dovecot: plain IMAP (STARTTLS offered) on `port`, implicit TLS on `tls_port`."""

    root: Path
    host: str
    port: int
    tls_port: int
    cert: SelfSignedCert
    password: str = DOVECOT_PASSWORD
    _users: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_user(self, prefix: str = "user") -> str:
        """A user name nobody has used in this session (its mailbox starts empty)."""
        return f"{prefix}{next(self._users)}-{os.getpid()}"

    @contextlib.contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, user: str, raw: bytes, folder: str = "INBOX", flags: tuple[str, ...] = ()) -> int:
        """IMAP APPEND `raw` into `folder` of `user` (the folder is created if missing); returns its UID."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=flags)
            # Dovecot answers with UIDPLUS: [APPENDUID <uidvalidity> <uid>] Append completed.
            text = response.decode() if isinstance(response, bytes) else str(response)
            if "APPENDUID" in text:
                return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
            client.select_folder(folder, readonly=True)
            return int(max(client.search(["ALL"])))

    def fetch_all(self, user: str, folder: str = "INBOX") -> list[FetchedFromServer]:
        """Every message in `folder` (read-only: flags are not touched), oldest UID first."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return []
            data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
            return [
                FetchedFromServer(
                    uid=uid,
                    raw=data[uid][b"BODY[]"],
                    flags=tuple(f.decode() if isinstance(f, bytes) else str(f) for f in data[uid][b"FLAGS"]),
                )
                for uid in sorted(data)
            ]

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as client:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass(frozen=True)
class FetchedFromServer:
    uid: int
    raw: bytes
    flags: tuple[str, ...]

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags

    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


_DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
default_login_user = dovenull
default_internal_user = root
default_internal_group = root
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
"""


def _wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def run_dovecot() -> Iterator[DovecotServer]:
    """Start a Dovecot in a temporary directory on two free ports; stop it (doveadm) and clean up after."""
    dovecot_bin, doveadm_bin = shutil.which("dovecot"), shutil.which("doveadm")
    if dovecot_bin is None or doveadm_bin is None:
        pytest.skip(
            "Dovecot is not installed (apt-get install dovecot-imapd; scripts/install-system-deps.sh)"
        )
    root = Path(tempfile.mkdtemp(prefix="opiekun-dovecot-"))
    try:
        for sub in ("mail", "run", "state"):
            (root / sub).mkdir()
        # The mail user (nobody) must be able to reach its maildir under the temp dir.
        root.chmod(0o755)
        shutil.chown(root / "mail", "nobody", "nogroup")
        cert = make_self_signed_cert(root, "dovecot")
        port, tls_port = free_port(), free_port()
        conf = root / "dovecot.conf"
        conf.write_text(
            _DOVECOT_CONF.format(
                root=root,
                cert=cert.cert,
                key=cert.key,
                port=port,
                tls_port=tls_port,
                password=DOVECOT_PASSWORD,
            )
        )
        # The daemon keeps the descriptors it inherits: give it a file, never a pipe we would wait on.
        with open(root / "startup.log", "wb") as startup_log:
            started = subprocess.run(  # noqa: S603 - fixed argument list
                [dovecot_bin, "-c", str(conf)],
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=startup_log,
                stderr=startup_log,
                timeout=20,
            )
        if started.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {(root / 'startup.log').read_text(errors='replace')}")
        try:
            _wait_for_port("127.0.0.1", port)
            _wait_for_port("127.0.0.1", tls_port)
            yield DovecotServer(root=root, host="127.0.0.1", port=port, tls_port=tls_port, cert=cert)
        finally:
            subprocess.run(  # noqa: S603 - fixed argument list
                [doveadm_bin, "-c", str(conf), "stop"],
                check=False,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=20,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A real Dovecot for the whole session (skipped with a clear message when it is not installed)."""
    with run_dovecot() as server:
        yield server


# ------------------------------------------------------------------------------------ SMTP sink


@dataclass
class SmtpSink:
    """An in-process aiosmtpd server on loopback that keeps what it receives.

    `replies` lets a test make the sink answer like a real MTA would: map a recipient address to an
    SMTP reply ("450 4.2.1 Mailbox busy", "550 5.1.1 User unknown") given at RCPT time.
    """

    host: str
    port: int
    controller: Controller
    messages: list[ReceivedMail] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)
    data_reply: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._lock)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.replies.clear()
            self.data_reply = ""

    def wait_for(self, predicate: Callable[[ReceivedMail], bool], timeout: float = 5.0) -> ReceivedMail:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for mail in self.messages:
                    if predicate(mail):
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching mail arrived within {timeout}s ({len(self.messages)} seen)"
                    )
                self._arrived.wait(left)

    def _received(self, mail: ReceivedMail) -> None:
        with self._arrived:
            self.messages.append(mail)
            self._arrived.notify_all()


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class _SinkHandler:
    def __init__(self) -> None:
        self.sink: SmtpSink | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        assert self.sink is not None
        reply = self.sink.replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert self.sink is not None
        if self.sink.data_reply:
            return self.sink.data_reply
        raw = envelope.original_content or b""
        self.sink._received(
            ReceivedMail(
                mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos), raw=bytes(raw)
            )
        )
        return "250 2.0.0 OK queued"


@contextlib.contextmanager
def run_smtp_sink(**smtp_kwargs: Any) -> Iterator[SmtpSink]:
    """Start an aiosmtpd sink on a free loopback port; extra kwargs go to aiosmtpd's SMTP (TLS, auth)."""
    handler = _SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_kwargs)
    controller.start()
    try:
        sink = SmtpSink(host="127.0.0.1", port=port, controller=controller)
        handler.sink = sink
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def _smtp_sink_session() -> Iterator[SmtpSink]:
    with run_smtp_sink() as sink:
        yield sink


@pytest.fixture
def smtp_sink(_smtp_sink_session: SmtpSink) -> SmtpSink:
    """A plain-SMTP sink on loopback (shared by the session, emptied for each test)."""
    _smtp_sink_session.clear()
    return _smtp_sink_session


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCert:
    """A self-signed certificate for localhost/127.0.0.1 (its own file is the CA to trust)."""
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"), "server")


@pytest.fixture(scope="session")
def other_tls_cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCert:
    """A second, unrelated self-signed certificate: trusting it must NOT make `tls_cert` acceptable."""
    return make_self_signed_cert(tmp_path_factory.mktemp("tls-other"), "other")


# --------------------------------------------------------------------------- SMTP relay into Dovecot


class _RelayToImapHandler:
    """Receives over SMTP and APPENDs the bytes into each recipient's Dovecot INBOX (user = local part)."""

    def __init__(self, server: DovecotServer) -> None:
        self.server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        import asyncio

        raw = bytes(envelope.original_content or b"")
        for rcpt in envelope.rcpt_tos:
            user = rcpt.split("@", 1)[0]
            await asyncio.to_thread(self.server.append, user, raw)
        return "250 2.0.0 Delivered"


@contextlib.contextmanager
def run_smtp_to_imap_relay(server: DovecotServer) -> Iterator[tuple[str, int]]:
    """An SMTP server on loopback delivering into Dovecot: mail to `<user>@any` lands in `<user>`'s INBOX."""
    port = free_port()
    controller = Controller(_RelayToImapHandler(server), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield ("127.0.0.1", port)
    finally:
        controller.stop()


# ------------------------------------------------------------------------------ a cuttable TCP proxy


class TcpProxy:
    """A loopback TCP proxy in front of a server, so a test can drop connections like a flaky network.

    `cut()` closes every open connection at once. `cut_after(n)` closes a connection once it has
    carried `n` bytes from the server to the client (i.e. in the middle of a response).
    """

    def __init__(self, target_host: str, target_port: int, source_ip: str | None = None) -> None:
        self.target = (target_host, target_port)
        # Connect upstream from another loopback address (e.g. 127.0.0.2): Dovecot delays logins from
        # an IP after a failed one, so a wrong-password test must not share the tests' usual IP.
        self.source = (source_ip, 0) if source_ip else None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.host = "127.0.0.1"
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut_after: int | None = None
        self.cuts = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._close_pair(pair)
            self.cuts += 1

    def cut_after(self, server_bytes: int | None) -> None:
        """Drop the next connection(s) after `server_bytes` bytes from the server (None: stop cutting)."""
        self._cut_after = server_bytes

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    @staticmethod
    def _close_pair(pair: tuple[socket.socket, socket.socket]) -> None:
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5, source_address=self.source)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(client, upstream, pair, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair, True), daemon=True).start()

    def _pump(
        self,
        src: socket.socket,
        dst: socket.socket,
        pair: tuple[socket.socket, socket.socket],
        downstream: bool,
    ) -> None:
        carried = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                limit = self._cut_after if downstream else None
                if limit is not None and carried + len(data) >= limit:
                    dst.sendall(data[: max(0, limit - carried)])
                    self.cuts += 1
                    break
                carried += len(data)
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        self._close_pair(pair)


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[..., TcpProxy]]:
    """Factory: `tcp_proxy(host, port, source_ip=None)` starts a cuttable proxy; closed after the test."""
    proxies: list[TcpProxy] = []

    def make(host: str, port: int, source_ip: str | None = None) -> TcpProxy:
        proxy = TcpProxy(host, port, source_ip)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def sample_mail(
    n: int, *, subject: str = "", body: str = "", sender: str = "klient@example.com", size: int = 0
) -> bytes:
    """A small, valid RFC 5322 message (CRLF line ends) numbered `n`; `size` pads the body to roughly that."""
    text = body or f"Dzień dobry, to jest wiadomość numer {n}."
    if size:
        text += "\r\n" + "\r\n".join("x" * 76 for _ in range(size // 78 + 1))
    headers = (
        f"From: Klient {n} <{sender}>\r\n"
        "To: sklep@example.com\r\n"
        f"Subject: {subject or f'Message {n}'}\r\n"
        f"Message-ID: <test-{n}-{time.monotonic_ns()}@example.com>\r\n"
        "Date: Mon, 02 Jun 2025 10:00:00 +0200\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
    )
    return (headers + "\r\n" + text + "\r\n").encode("utf-8")
