"""Turning stored raw mail into the seam's InboundMessage — here, or in a helper process.

Parsing is pure CPU work and needs no database, so a long run of mail (an import, a mailbox's
backlog) parses the next batch in a helper process while this one stores the current batch: the two
cores work at once. `OPIEKUN_MAIL_PARSE_WORKERS=0` parses in-process only (the test suite does).
A mail that cannot be parsed comes back with the reason instead of a message; it is quarantined.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from .base import InboundMessage
from .drivers.email.driver import EmailDriver
from .drivers.email.parse import MailParseError

log = logging.getLogger(__name__)

_driver = EmailDriver()
_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Parsed:
    message: InboundMessage | None
    error: str = ""
    seconds: float = 0.0


def parse_one(raw: bytes) -> Parsed:
    """Parse one raw mail; never raises (a parser bug on one strange mail must not stall a mailbox)."""
    started = time.perf_counter()
    try:
        (message,) = _driver.parse_inbound(raw)
    except MailParseError as exc:
        return Parsed(None, f"The mail cannot be read: {exc}", time.perf_counter() - started)
    except Exception as exc:
        log.exception("parsing a raw mail failed")
        return Parsed(
            None, f"The mail cannot be read ({exc.__class__.__name__}).", time.perf_counter() - started
        )
    return Parsed(message, seconds=time.perf_counter() - started)


def parse_chunk(raws: list[bytes]) -> list[Parsed]:
    return [parse_one(raw) for raw in raws]


def parse_later(raws: list[bytes]) -> Future[list[Parsed]] | None:
    """Start parsing `raws` in the helper process; None when there is none (parse in-process then)."""
    pool = _helper_pool()
    if pool is None:
        return None
    try:
        return pool.submit(parse_chunk, raws)
    except RuntimeError:  # the pool shut down (interpreter exit)
        return None


def _helper_pool() -> ProcessPoolExecutor | None:
    global _pool
    workers = int(getattr(settings, "OPIEKUN_MAIL_PARSE_WORKERS", 1))
    if workers <= 0:
        return None
    with _lock:
        if _pool is None:
            # spawn, not fork: the helper must not inherit database connections or server sockets.
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
        return _pool
