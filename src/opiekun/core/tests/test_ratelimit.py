"""Fixed-window rate limits: on the in-process cache and on a real redis-server — exact (`hit`, one round
trip) and counted in memory, shared in the background (`hit_many`, SharedCounts)."""

from __future__ import annotations

import logging
import time

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
    ratelimit.hit_many(["visitor:a"], limit=2, window=60)
    outcomes = ratelimit.hit_many(["visitor:a", "visitor:b", "visitor:a", "visitor:b"], limit=2, window=60)
    assert [type(o).__name__ if o else None for o in outcomes] == [None, None, "RateLimited", None]
    assert ratelimit.hit_many([], limit=2, window=60) == []


def _spent(backend: RedisCache, before: dict[str, int]) -> dict[str, int]:
    after = _commands(backend)
    spent = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    spent.pop("info", None)
    return spent


def _stored(backend: RedisCache, key: str) -> int | None:
    return backend.get(f"rl:{key}:{int(time.time()) // 60}")


def test_a_hit_on_redis_is_one_round_trip_of_set_nx_and_incrby(redis_cache):  # type: ignore[no-untyped-def]
    before = _commands(redis_cache)
    ratelimit.hit("visitor:a", limit=5, window=60)
    ratelimit.hit("visitor:a", limit=5, window=60)
    # Django's generic API would take add (SET NX), then EXISTS and INCRBY for a key already there.
    assert _spent(redis_cache, before) == {"set": 2, "incrby": 2}


def test_a_batch_on_redis_is_counted_in_memory_and_pushed_in_one_pipeline(redis_cache):  # type: ignore[no-untyped-def]
    counts = ratelimit.SharedCounts(redis_cache, background=False)
    keys = [redis_cache.make_and_validate_key(k) for k in ("rl:a", "rl:b", "rl:a")]
    before = _commands(redis_cache)
    assert counts.count(keys, timeout=65) == [1, 1, 2]
    assert _spent(redis_cache, before) == {}  # the caller waited for no round trip
    assert counts.sync()
    assert _spent(redis_cache, before) == {"set": 2, "incrby": 2}
    assert counts.sync() and _spent(redis_cache, before) == {"set": 2, "incrby": 2}  # nothing new: no trip
    assert redis_cache.get("rl:a") == 2 and redis_cache.get("rl:b") == 1
    assert 60 < redis_cache._cache.get_client().ttl(keys[0]) <= 65


def test_processes_learn_each_others_counts_with_each_push(redis_cache):  # type: ignore[no-untyped-def]
    one = ratelimit.SharedCounts(redis_cache, background=False)
    two = ratelimit.SharedCounts(redis_cache, background=False)
    key = redis_cache.make_and_validate_key("rl:visitor")
    assert one.count([key] * 3, timeout=65) == [1, 2, 3]
    assert two.count([key] * 2, timeout=65) == [1, 2]  # neither has pushed: each knows its own
    one.sync()
    two.sync()  # two learns one's 3
    assert two.count([key], timeout=65) == [6]
    assert one.count([key], timeout=65) == [4]  # one learns with its next push, which this hit starts
    one.sync()  # one learns two's 2
    assert one.count([key], timeout=65) == [4 + 1 + 2]
    one.sync()
    two.sync()
    assert redis_cache.get("rl:visitor") == 8
    assert one.count([key], timeout=65) == [8] and two.count([key], timeout=65) == [9]


def test_with_redis_away_a_process_counts_alone_and_adds_its_hits_when_redis_is_back(  # type: ignore[no-untyped-def]
    redis_cache, caplog
):
    from django.core.cache.backends.redis import RedisCache as Backend

    away = Backend("redis://127.0.0.1:9/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    counts = ratelimit.SharedCounts(away, background=False)
    key = redis_cache.make_and_validate_key("rl:visitor")
    assert counts.count([key] * 4, timeout=65) == [1, 2, 3, 4]
    with caplog.at_level(logging.WARNING, logger="opiekun.core.ratelimit"):
        assert not counts.sync()
        assert not counts.sync()
    assert [r.message for r in caplog.records].count(
        "rate-limit counts could not reach Redis; counting in this process"
    ) == 1  # said once, not at every push
    assert counts.count([key], timeout=65) == [5]
    counts.cache = redis_cache  # Redis answers again
    assert counts.sync()
    assert redis_cache.get("rl:visitor") == 5  # nothing counted meanwhile was lost


def test_a_window_that_is_over_is_forgotten(redis_cache):  # type: ignore[no-untyped-def]
    counts = ratelimit.SharedCounts(redis_cache, background=False)
    assert counts.count(["rl:short"] * 2, timeout=0) == [1, 2]
    counts.expire()
    assert counts.count(["rl:short"], timeout=60) == [1]


def test_hit_many_pushes_its_counts_to_redis_in_the_background(redis_cache):  # type: ignore[no-untyped-def]
    outcomes = ratelimit.hit_many(["visitor:a"] * 3, limit=2, window=60)
    assert [type(o).__name__ if o else None for o in outcomes] == [None, None, "RateLimited"]
    deadline = time.monotonic() + 5
    while _stored(redis_cache, "visitor:a") != 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _stored(redis_cache, "visitor:a") == 3
    ratelimit.reset("visitor:a", window=60)  # forgotten here and in Redis
    assert ratelimit.hit_many(["visitor:a"], limit=2, window=60) == [None]


def test_the_redis_counter_expires_with_its_window_and_reads_as_a_number(redis_cache):  # type: ignore[no-untyped-def]
    ratelimit.hit("visitor:a", limit=5, window=60)
    ratelimit.hit("visitor:a", limit=5, window=60)
    (key,) = [k for k in redis_cache._cache.get_client().keys("*") if b"visitor:a" in k]
    assert 60 < redis_cache._cache.get_client().ttl(key) <= 65
    assert redis_cache.get(key.decode().split(":", 2)[2]) == 2  # Django's own read of the counter
    ratelimit.reset("visitor:a", window=60)
    ratelimit.hit("visitor:a", limit=1, window=60)  # counted afresh after a reset
