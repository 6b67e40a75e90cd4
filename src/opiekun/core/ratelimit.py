"""Fixed-window rate limits in the cache (shared through Redis when several processes run).

On Redis a window's counter is one key: created with its expiry if absent, then incremented, both in
one round trip — and `hit_many` counts a whole batch (the chat's intake: one hit per visitor message)
in one round trip too. Django's generic cache API would take three per hit (add, then exists + incr).
Other caches (the in-process one by default) go through that API.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from .errors import RateLimited


def hit(key: str, *, limit: int, window: int) -> None:
    """Count one hit for `key`; raise RateLimited (with Retry-After seconds) past `limit` per `window`."""
    refused = hit_many([key], limit=limit, window=window)[0]
    if refused is not None:
        raise refused


def hit_many(keys: list[str], *, limit: int, window: int) -> list[RateLimited | None]:
    """Count one hit for each of `keys` (a key may repeat: each occurrence counts), in order; for each,
    the RateLimited it earned past `limit` per `window`, or None."""
    now = int(time.time())
    bucket = now // window
    retry_after = max(1, (bucket + 1) * window - now)
    counts = _count([f"rl:{key}:{bucket}" for key in keys], timeout=window + 5)
    return [RateLimited(retry_after=retry_after) if count > limit else None for count in counts]


def _count(cache_keys: list[str], *, timeout: int) -> list[int]:
    # The backend itself: `django.core.cache.cache` is a proxy, never an instance of RedisCache.
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return _count_on_redis(cache, cache_keys, timeout=timeout)
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


def _count_on_redis(redis_cache: Any, cache_keys: list[str], *, timeout: int) -> list[int]:
    # Django's RedisCache keeps integers unpickled, so what INCR counts is what cache.get() reads.
    keys = [redis_cache.make_and_validate_key(k) for k in cache_keys]
    pipeline = redis_cache._cache.get_client(keys[0] if keys else None, write=True).pipeline(
        transaction=False
    )
    for key in keys:
        pipeline.set(key, 0, ex=timeout, nx=True)
        pipeline.incr(key)
    replies = pipeline.execute()
    return [int(count) for count in replies[1::2]]


def reset(key: str, *, window: int) -> None:
    caches["default"].delete(f"rl:{key}:{int(time.time()) // window}")
