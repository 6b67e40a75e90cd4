"""Fixed-window rate limits: on the in-process cache and on a real redis-server (one round trip)."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from opiekun.core import ratelimit
from opiekun.core.errors import RateLimited


@pytest.fixture
def redis_cache(redis_url, settings):  # type: ignore[no-untyped-def]
    # Configured as `--processes 2` configures it, so the lookup the product makes is the one tested.
    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    settings.CACHES = {**settings.CACHES, "default": redis}
    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    yield backend
    backend.clear()


def _commands(backend: RedisCache) -> dict[str, int]:
    stats = backend._cache.get_client().info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


@pytest.fixture
def local_cache():  # type: ignore[no-untyped-def]
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


@pytest.mark.parametrize("backend", ["local_cache", "redis_cache"])
def test_hits_past_the_limit_are_refused_with_the_seconds_to_wait(backend, request):  # type: ignore[no-untyped-def]
    request.getfixturevalue(backend)
    for _ in range(3):
        ratelimit.hit("visitor:a", limit=3, window=60)
    with pytest.raises(RateLimited) as refused:
        ratelimit.hit("visitor:a", limit=3, window=60)
    assert 1 <= refused.value.retry_after <= 60
    ratelimit.hit("visitor:b", limit=3, window=60)  # another key has its own count


@pytest.mark.parametrize("backend", ["local_cache", "redis_cache"])
def test_a_batch_counts_every_occurrence_in_order(backend, request):  # type: ignore[no-untyped-def]
    request.getfixturevalue(backend)
    ratelimit.hit("visitor:a", limit=2, window=60)
    outcomes = ratelimit.hit_many(["visitor:a", "visitor:b", "visitor:a", "visitor:b"], limit=2, window=60)
    assert [type(o).__name__ if o else None for o in outcomes] == [None, None, "RateLimited", None]
    assert ratelimit.hit_many([], limit=2, window=60) == []


def test_a_batch_on_redis_is_one_pipeline_of_set_nx_and_incr(redis_cache):  # type: ignore[no-untyped-def]
    before = _commands(redis_cache)
    ratelimit.hit_many(["visitor:a", "visitor:b", "visitor:a"], limit=5, window=60)
    after = _commands(redis_cache)
    spent = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    spent.pop("info", None)
    # Django's generic API would take add (SET NX), then EXISTS and INCRBY for a key already there.
    assert spent == {"set": 3, "incrby": 3}


def test_the_redis_counter_expires_with_its_window_and_reads_as_a_number(redis_cache):  # type: ignore[no-untyped-def]
    ratelimit.hit("visitor:a", limit=5, window=60)
    ratelimit.hit("visitor:a", limit=5, window=60)
    (key,) = [k for k in redis_cache._cache.get_client().keys("*") if b"visitor:a" in k]
    assert 60 < redis_cache._cache.get_client().ttl(key) <= 65
    assert redis_cache.get(key.decode().split(":", 2)[2]) == 2  # Django's own read of the counter
    ratelimit.reset("visitor:a", window=60)
    ratelimit.hit("visitor:a", limit=1, window=60)  # counted afresh after a reset
