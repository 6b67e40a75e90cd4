"""A lean HTTP/1.1 load generator for pre-built requests: each sent exactly once, every answer accounted for.

wrk cannot tell which request an answer belongs to, nor stop when a fixed list is sent; this can,
at a few thousand requests per second from one core (asyncio, raw keep-alive sockets, requests
built as bytes beforehand, answers parsed by Content-Length).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Answer:
    index: int
    status: int
    body: bytes
    latency_ms: float


@dataclass
class Fired:
    answers: list[Answer] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


def build(host: str, path: str, content_type: str, headers: dict[str, str], body: bytes) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
    ]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _fire(host: str, port: int, requests: list[bytes], connections: int, timeout: float) -> Fired:
    fired = Fired()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    writer.write(requests[i])
                    status, body = await asyncio.wait_for(_read_answer(reader), timeout)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    fired.failures.append((i, repr(exc)))
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                fired.answers.append(Answer(i, status, body, (time.perf_counter() - started) * 1000))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    fired.seconds = time.perf_counter() - started
    return fired


def fire(host: str, port: int, requests: list[bytes], connections: int = 64, timeout: float = 10.0) -> Fired:
    """Send every request once over `connections` keep-alive connections; answers and failures by index."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_fire(host, port, requests, connections, timeout))
