"""Shared bits of the benchmarks: Django set-up against a chosen data folder, timing, percentiles."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_AGENT = "bench"
BENCH_PASSWORD = "bench-pass-123"


def setup_django(data_dir: str | os.PathLike[str] | None = None) -> None:
    """Point Opiekun at `data_dir` (and DATABASE_URL if set) and start Django with production-like settings."""
    if data_dir is not None:
        os.environ["OPIEKUN_DATA_DIR"] = str(Path(data_dir).resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opiekun.config.settings.dev")
    os.environ.setdefault("OPIEKUN_LOG_LEVEL", "WARNING")
    src = str(ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    import django

    django.setup()


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        if not ordered:
            return 0.0
        index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
        return round(ordered[index], 3)

    return {
        "n": len(ordered),
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1], 3) if ordered else 0.0,
        "mean": round(statistics.fmean(ordered), 3) if ordered else 0.0,
    }


def machine_speed_ms() -> float:
    """A fixed piece of pure-Python work (dict and str churn), best of three, in milliseconds: printed
    with a run's figures, so that runs on a machine whose speed drifts (a shared VM's host) compare."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        table: dict[str, int] = {}
        for i in range(300_000):
            table[str(i)] = i * 2
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def measure(fn: Callable[[], object], samples: int, warmup: int = 5) -> dict[str, float]:
    """Run `fn` `warmup` times untimed, then `samples` times; p50/p95/p99 in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def emit(data: dict) -> None:  # type: ignore[type-arg]
    print(json.dumps(data, ensure_ascii=False, indent=2), flush=True)


def database_label() -> str:
    from django.db import connection

    return connection.vendor
