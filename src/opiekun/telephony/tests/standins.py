"""Loopback stand-ins of the providers' APIs (Twilio, Zadarma, SMSAPI.pl), answering in their real
shapes: JSON bodies as their docs show them, 429 with Retry-After, 5xx during an outage."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

AUDIO = b"ID3\x03\x00\x00\x00\x00\x00\x0fTIT2\x00\x00\x00\x05\x00\x00\x00call" + b"\xff\xfb\x90\x00" * 64


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class StandIn:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    # Answers to give before behaving normally: (status, headers, body) each, e.g. an outage.
    queued: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    counter: int = 0

    def fail_next(
        self, count: int, status: int = 503, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        self.queued += [(status, headers or {}, body)] * count


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def _answer(
            self, status: int, body: bytes, ctype: str = "application/json", headers: dict | None = None
        ):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = parse_qs(raw.decode(), keep_blank_values=True) if raw else {}
            state.seen.append(Seen(self.command, parts.path, parse_qs(parts.query), form, dict(self.headers)))
            if state.queued:
                status, headers, body = state.queued.pop(0)
                return self._answer(
                    status, body or json.dumps({"message": "Service Unavailable"}).encode(), headers=headers
                )
            state.counter += 1
            n = state.counter
            path = parts.path
            if path.endswith("/Calls.json"):
                return self._answer(201, json.dumps({"sid": f"CA{n:032x}", "status": "queued"}).encode())
            if path.endswith("/Messages.json"):
                to = (form.get("To") or [""])[0]
                if not to.startswith("+"):
                    return self._answer(
                        400,
                        json.dumps(
                            {
                                "code": 21211,
                                "message": f"The 'To' number {to} is not a valid phone number.",
                                "more_info": "https://www.twilio.com/docs/errors/21211",
                                "status": 400,
                            }
                        ).encode(),
                    )
                return self._answer(
                    201, json.dumps({"sid": f"SM{n:032x}", "status": "queued", "to": to}).encode()
                )
            if path.endswith(".mp3"):
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Basic ") or ":" not in base64.b64decode(auth[6:]).decode():
                    return self._answer(401, b'{"code": 20003, "message": "Authenticate"}')
                return self._answer(200, AUDIO, "audio/mpeg")
            if path == "/sms.do":
                if self.headers.get("Authorization", "") != "Bearer smsapi-token":
                    return self._answer(200, b'{"error":101,"message":"Authorization failed"}')
                to = (form.get("to") or [""])[0]
                return self._answer(
                    200,
                    json.dumps(
                        {
                            "count": 1,
                            "list": [
                                {
                                    "id": f"{n:024d}",
                                    "points": 0.16,
                                    "number": to,
                                    "date_sent": 1772438400,
                                    "submitted_number": to,
                                    "status": "QUEUE",
                                    "error": None,
                                    "idx": (form.get("idx") or [None])[0],
                                }
                            ],
                        }
                    ).encode(),
                )
            if path == "/v1/request/callback/":
                if not self.headers.get("Authorization", "").count(":"):
                    return self._answer(401, b'{"status":"error","message":"Not authorized"}')
                q = parse_qs(parts.query)
                return self._answer(
                    200,
                    json.dumps(
                        {"status": "success", "from": q["from"][0], "to": q["to"][0], "time": 1772438400}
                    ).encode(),
                )
            if path == "/v1/pbx/record/request/":
                return self._answer(
                    200,
                    json.dumps(
                        {
                            "status": "success",
                            "links": [f"{state.url}/records/{n}.mp3"],
                            "lifetime_till": "2026-03-05 10:00:00",
                        }
                    ).encode(),
                )
            if path.startswith("/records/"):
                return self._answer(200, AUDIO, "audio/mpeg")
            return self._answer(404, b'{"message": "not found"}')

        do_GET = _handle
        do_POST = _handle

    return Handler


def serve() -> Iterator[StandIn]:
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
