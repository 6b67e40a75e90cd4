"""Webhook intake on the WSGI serving path: signed deliveries accepted per second, replays, latency, loss.

Starts `granian --interface wsgi` on a fresh installation (SQLite in a temporary data folder, or
the empty PostgreSQL database in DATABASE_URL), creates one endpoint of `--source` through the
payload module `bench/payloads/<module>.py`, pre-signs `--requests` deliveries with the source's
real scheme — `--replays` of them (10 % by default) resend an earlier delivery byte for byte —
and fires them from `--connections` keep-alive connections (64 by default, bench/httpfire.py), each
request once. Then it checks, in the database, that every distinct delivery answered 200 is stored exactly
once and that every replay was answered `duplicate` (when the source answers JSON), and processes
what was stored with the source's own `process` (timed: deliveries/s into domain records).

    .venv/bin/python bench/webhook_intake.py --payloads woocommerce
    DATABASE_URL=postgresql://… .venv/bin/python bench/webhook_intake.py --payloads twilio_voice

A payload module defines `SOURCE` (the source's name), `prepare(shop) -> Endpoint` (creates whatever
the source needs — a connector, an inbox — and returns its endpoint) and `make(i, secret, url) ->
(content_type, headers, body)`, unique for every `i`. Optionally `check(shop, sent_unique) -> dict`:
the source's own figures after processing (orders stored, calls, …).
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, percentiles, setup_django
from httpfire import build, fire
from inbox_http import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
OPIEKUN = str(Path(sys.executable).with_name("opiekun"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(base: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=5).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not come up")


def build_sequence(count: int, replay_share: float, seed: int = 7) -> list[int]:
    """Indices to send: new ones in order, with `replay_share` of the slots resending an earlier index."""
    rng = random.Random(seed)
    sequence: list[int] = []
    fresh = 0
    for _ in range(count):
        if fresh and rng.random() < replay_share:
            sequence.append(rng.randrange(fresh))
        else:
            sequence.append(fresh)
            fresh += 1
    return sequence


def main(argv: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--payloads", required=True, help="module in bench/payloads (woocommerce, twilio_voice…)"
    )
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--replays", type=float, default=0.10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=6, help="granian blocking threads per worker")
    parser.add_argument("--data-dir", help="installation to use (default: a fresh temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument(
        "--settings",
        default="opiekun.config.settings.dev",
        help="Django settings module (an experiment's own module on PYTHONPATH)",
    )
    args = parser.parse_args(argv)
    payloads = importlib.import_module(args.payloads if "." in args.payloads else f"payloads.{args.payloads}")
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="opiekun-hooks-")
    env = {**os.environ, "OPIEKUN_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": args.settings}
    subprocess.run([OPIEKUN, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    setup_django(data_dir)

    from opiekun.shops.models import Shop
    from opiekun.webhooks.models import Delivery
    from opiekun.webhooks.processing import process_pending

    shop, _ = Shop.objects.get_or_create(slug="bench-hooks", defaults={"name": "Bench hooks"})
    endpoint = payloads.prepare(shop)
    Delivery.objects.filter(endpoint=endpoint).delete()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sequence = build_sequence(args.requests, args.replays)
    unique = max(sequence) + 1
    made = [payloads.make(i, endpoint.signing_secret, base + endpoint.url_path) for i in range(unique)]
    host = f"127.0.0.1:{port}"
    wire = [build(host, endpoint.url_path, *made[i]) for i in sequence]
    warm = [build(host, "/healthz", "text/plain", {}, b"")]

    proc = start_server(data_dir, port, args.workers, args.threads, args.settings)
    try:
        wait_up(base)
        fire("127.0.0.1", port, warm * args.connections, args.connections)  # connections and workers warm
        fired = fire("127.0.0.1", port, wire, args.connections)
    finally:
        stop_server(proc)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""

    ok = [a for a in fired.answers if a.status == 200]
    answered_unique = {sequence[a.index] for a in ok}
    duplicates_answered = sum(
        1 for a in ok if b'"duplicate": true' in a.body or b'"duplicate":true' in a.body
    )
    sent_unique = set(sequence)
    stored = Delivery.objects.filter(endpoint=endpoint).count()
    keys_stored = stored  # one row per distinct key: the unique constraint makes "stored twice" impossible

    started = time.perf_counter()
    processed = 0
    while True:
        batch = process_pending(limit=5000)
        if not batch:
            break
        processed += batch
    process_seconds = time.perf_counter() - started
    twice = Delivery.objects.filter(endpoint=endpoint, attempts__gt=1).count()
    errors = Delivery.objects.filter(endpoint=endpoint).exclude(error="").count()
    pending = Delivery.objects.filter(endpoint=endpoint, processed_at__isnull=True).count()
    source_figures = payloads.check(shop, len(sent_unique)) if hasattr(payloads, "check") else {}

    latencies = percentiles([a.latency_ms for a in fired.answers])
    out = {
        "benchmark": "webhook_intake",
        "source": payloads.SOURCE,
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "server": f"granian --interface wsgi --workers {args.workers} --blocking-threads {args.threads}",
        "load_generator": f"bench/httpfire.py, {args.connections} keep-alive connections (same machine), each request once",
        "requests_sent": len(sequence),
        "replays_sent": len(sequence) - len(sent_unique),
        "accepted_per_s": round(len(ok) / fired.seconds, 1),
        "duration_s": round(fired.seconds, 2),
        "latency_ms": latencies,
        "answered_200": len(ok),
        "answered_duplicate": duplicates_answered,
        "replays_not_answered_duplicate": (len(sequence) - len(sent_unique)) - duplicates_answered,
        "answered_other": len(fired.answers) - len(ok),
        "failed_requests": len(fired.failures),
        "stored": keys_stored,
        # each distinct delivery makes one row (unique key): fewer rows than distinct answered deliveries = lost
        "lost": max(0, len(answered_unique) - keys_stored),
        "stored_without_an_answer": max(0, keys_stored - len(answered_unique)),
        "processing": {
            "deliveries": processed,
            "per_s": round(processed / process_seconds, 1) if process_seconds else None,
            "seconds": round(process_seconds, 2),
            "processed_more_than_once": twice,
            "with_errors": errors,
            "still_pending": pending,
            **source_figures,
        },
        "targets": ">= 1,000 accepted/s, p99 < 100 ms, 0 lost, 0 processed twice; processing >= 500/s",
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    out["meets_target"] = bool(
        out["accepted_per_s"] >= 1000
        and out["latency_ms"]["p99"] < 100
        and out["lost"] == 0
        and out["failed_requests"] == 0
        and out["answered_other"] == 0
        and twice == 0
        and pending == 0
        and (out["processing"]["per_s"] or 0) >= 500
    )
    if "Traceback" in err:
        out["server_errors"] = err[-2000:]
    emit(out)
    if not args.data_dir and not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
