"""Sign-in lockout: after N failures for one username from one IP within the window, refuse for a while.

Counting uses opiekun.core.ratelimit (shared through the cache, so every process sees it). The same
answer is given whether the username exists or not, so the lockout never tells who has an account.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from opiekun.core import ratelimit
from opiekun.core.errors import RateLimited


def _key(username: str, ip: str | None) -> str:
    raw = f"{username.strip().lower()}|{ip or '-'}"
    return "login:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _limits() -> tuple[int, int]:
    limit, window = settings.OPIEKUN_LOGIN_LOCKOUT
    return int(limit), int(window)


def locked_for(username: str, ip: str | None) -> int:
    """Seconds this username+IP remains locked out (0 when it may try)."""
    until = cache.get(f"lockout:{_key(username, ip)}")
    return max(0, int(until - time.time())) if until else 0


def record_failure(username: str, ip: str | None) -> int:
    """Count one failed attempt; returns the lockout seconds if this failure locked the pair, else 0."""
    limit, window = _limits()
    key = _key(username, ip)
    try:
        # The limit-th failure itself locks: hit() raises once the count passes limit - 1.
        ratelimit.hit(key, limit=limit - 1, window=window)
    except RateLimited:
        cache.set(f"lockout:{key}", time.time() + window, timeout=window)
        return window
    return 0


def record_success(username: str, ip: str | None) -> None:
    _, window = _limits()
    ratelimit.reset(_key(username, ip), window=window)
