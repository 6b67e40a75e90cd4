"""Fixed-window rate limits in the cache (shared through Redis when several processes run)."""

from __future__ import annotations

import time

from django.core.cache import cache

from .errors import RateLimited


def hit(key: str, *, limit: int, window: int) -> None:
    """Count one hit for `key`; raise RateLimited (with Retry-After seconds) past `limit` per `window`."""
    now = int(time.time())
    bucket = now // window
    cache_key = f"rl:{key}:{bucket}"
    if cache.add(cache_key, 1, timeout=window + 5):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:
            cache.set(cache_key, 1, timeout=window + 5)
            count = 1
    if count > limit:
        raise RateLimited(retry_after=max(1, (bucket + 1) * window - now))


def reset(key: str, *, window: int) -> None:
    cache.delete(f"rl:{key}:{int(time.time()) // window}")
