"""Fixed-window rate limits in the cache (shared through Redis when several processes run).

On Redis a window's counter is one key, created with its expiry if absent and incremented in the same
round trip (Django's generic cache API would take three: add, then exists + incr). `hit` asks Redis
every time: what it guards (a sign-in, a web form, an API key) is rare and must be exact.

`hit_many` is for a hot path — the chat's committer counts every visitor line — and does not wait for
Redis at all: the process counts its own hits of the current windows in memory, exactly, and a
background thread adds them to the shared counters at most every SYNC_EVERY seconds, learning from the
answer what the other processes counted meanwhile. A key is refused once this process's count plus the
others' (as last learned) pass the limit, so a flood spread over several processes gets past it only by
what those processes let through within one sync. The round trip cost the committer ~a fifth of its
busy time under bench/chat_sockets.py --processes 2, every one a hand-over of the interpreter while
its event loop was busy. Redis away: each process goes on counting on its own (and logs it) and adds
what it counted once Redis answers again.

Other caches (the in-process one by default) go through Django's API, exactly, for both.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver

from .errors import RateLimited

log = logging.getLogger(__name__)

SYNC_EVERY = 0.1  # seconds between a process's pushes of its counts to Redis (while it counts)
AWAY = "rate-limit counts could not reach Redis; counting in this process"


def hit(key: str, *, limit: int, window: int) -> None:
    """Count one hit for `key`; raise RateLimited (with Retry-After seconds) past `limit` per `window`."""
    now = int(time.time())
    bucket = now // window
    (count,) = _count([f"rl:{key}:{bucket}"], timeout=window + 5, shared=False)
    if count > limit:
        raise RateLimited(retry_after=max(1, (bucket + 1) * window - now))


def hit_many(keys: list[str], *, limit: int, window: int) -> list[RateLimited | None]:
    """Count one hit for each of `keys` (a key may repeat: each occurrence counts), in order; for each,
    the RateLimited it earned past `limit` per `window`, or None. Never waits for Redis (see above)."""
    now = int(time.time())
    bucket = now // window
    retry_after = max(1, (bucket + 1) * window - now)
    counts = _count([f"rl:{key}:{bucket}" for key in keys], timeout=window + 5, shared=True)
    return [RateLimited(retry_after=retry_after) if count > limit else None for count in counts]


def _count(cache_keys: list[str], *, timeout: int, shared: bool) -> list[int]:
    # The backend itself: `django.core.cache.cache` is a proxy, never an instance of RedisCache.
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        keys = [cache.make_and_validate_key(k) for k in cache_keys]
        if shared:
            return shared_counts(cache).count(keys, timeout=timeout)
        return _add_on_redis(cache, [(key, 1, timeout) for key in keys])
    counts = []
    for cache_key in cache_keys:
        if cache.add(cache_key, 1, timeout=timeout):
            counts.append(1)
            continue
        try:
            counts.append(cache.incr(cache_key))
        except ValueError:  # expired between the two calls
            cache.set(cache_key, 1, timeout=timeout)
            counts.append(1)
    return counts


def _add_on_redis(redis_cache: Any, additions: list[tuple[str, int, int]]) -> list[int]:
    """Add to counters — (made key, amount, expiry in seconds if new) — in one round trip; their totals."""
    if not additions:
        return []
    # Django's RedisCache keeps integers unpickled, so what INCRBY counts is what cache.get() reads.
    pipeline = redis_cache._cache.get_client(additions[0][0], write=True).pipeline(transaction=False)
    for key, amount, timeout in additions:
        pipeline.set(key, 0, ex=timeout, nx=True)
        pipeline.incrby(key, amount)
    replies = pipeline.execute()
    return [int(count) for count in replies[1::2]]


class SharedCounts:
    """This process's hits of the current windows on one Redis cache, and what the others counted.

    `count` answers from memory; a daemon thread pushes what was counted since its last push (one
    pipelined round trip) and notes each key's total minus this process's part as the others' count."""

    def __init__(self, redis_cache: Any, *, every: float = SYNC_EVERY, background: bool = True) -> None:
        self.cache, self.every, self.background = redis_cache, every, background
        self._lock = threading.Lock()
        self._mine: dict[str, int] = {}  # made key → hits counted here in its window
        self._unsent: dict[str, int] = {}  # made key → of those, not added to Redis yet
        self._others: dict[str, int] = {}  # made key → hits of other processes, as last learned
        self._expires: dict[str, tuple[float, int]] = {}  # made key → (monotonic end, Redis expiry)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._failing = False

    def count(self, keys: list[str], *, timeout: int) -> list[int]:
        """Count one hit per key (in order); each one's count in its window, all processes together."""
        counts = []
        end = time.monotonic() + timeout
        with self._lock:
            for key in keys:
                mine = self._mine[key] = self._mine.get(key, 0) + 1
                self._unsent[key] = self._unsent.get(key, 0) + 1
                self._expires.setdefault(key, (end, timeout))
                counts.append(mine + self._others.get(key, 0))
        if keys and self.background:
            self._start()
            self._wake.set()
        return counts

    def forget(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def sync(self) -> bool:
        """Push what was counted since the last push and learn the others' counts; False if Redis failed."""
        with self._lock:
            additions = [(key, n, self._expires[key][1]) for key, n in self._unsent.items()]
            self._unsent = {}
        if not additions:
            return True
        try:
            totals = _add_on_redis(self.cache, additions)
        except Exception:
            with self._lock:  # added with the next push
                for key, n, _timeout in additions:
                    if key in self._expires:
                        self._unsent[key] = self._unsent.get(key, 0) + n
            if not self._failing:
                log.warning(AWAY, exc_info=True)
            self._failing = True
            return False
        if self._failing:
            log.warning("rate-limit counts reach Redis again")
        self._failing = False
        with self._lock:
            for (key, _n, _timeout), total in zip(additions, totals, strict=True):
                if key in self._mine:
                    added = self._mine[key] - self._unsent.get(key, 0)  # this process's part of `total`
                    self._others[key] = max(0, total - added)
        return True

    def expire(self) -> None:
        """Forget the windows that are over."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (end, _timeout) in self._expires.items() if end <= now]:
                self._drop(key)

    def _drop(self, key: str) -> None:
        for known in (self._mine, self._unsent, self._others, self._expires):
            known.pop(key, None)

    def _start(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()  # a forked child has the counts but not the thread
                self._thread = threading.Thread(target=self._run, name="opiekun-ratelimit-sync", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            started = time.monotonic()
            self.sync()
            self.expire()
            time.sleep(max(0.0, self.every - (time.monotonic() - started)))


_shared: dict[str, SharedCounts] = {}
_shared_lock = threading.Lock()


def shared_counts(redis_cache: Any) -> SharedCounts:
    """The process's SharedCounts for a Redis cache (one per set of servers: backends are per thread)."""
    servers = repr(redis_cache._servers)
    found = _shared.get(servers)
    if found is None:
        with _shared_lock:
            found = _shared.setdefault(servers, SharedCounts(redis_cache))
    return found


@receiver(setting_changed)
def _caches_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":  # tests: a Redis configured afresh starts without this process's counts
        _shared.clear()


def reset(key: str, *, window: int) -> None:
    cache = caches["default"]
    cache_key = f"rl:{key}:{int(time.time()) // window}"
    if isinstance(cache, RedisCache):
        shared_counts(cache).forget(cache.make_and_validate_key(cache_key))
    cache.delete(cache_key)
