"""The simulated phone day end to end: 200 inbound calls (40 unanswered, repeats, out of order, 10% sent
twice) posted as Twilio signs them to a real `opiekun`-served WSGI intake, then processed into calls and
callbacks. Prints JSON: how long intake and processing took and whether the callbacks came out exactly right.

    .venv/bin/python bench/phone_day.py            # SQLite in a fresh temporary data folder
    DATABASE_URL=postgresql://… .venv/bin/python bench/phone_day.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, percentiles, setup_django
from httpfire import build, fire
from inbox_http import start_server, stop_server
from webhook_intake import OPIEKUN, free_port, wait_up

TOKEN = "bench-twilio-auth-token"


def main(argv: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--settings", default="opiekun.config.settings.dev")
    args = parser.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="opiekun-phone-day-")
    env = {**os.environ, "OPIEKUN_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": args.settings}
    subprocess.run([OPIEKUN, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    setup_django(data_dir)

    from opiekun.shops.models import Shop
    from opiekun.telephony import services, simulation
    from opiekun.telephony.models import Call, Callback
    from opiekun.webhooks.models import Delivery
    from opiekun.webhooks.processing import process_pending

    shop = Shop.objects.create(slug="bench-phone", name="Bench phone")
    line = services.line_create(
        shop=shop,
        provider="twilio",
        number=simulation.SHOP_NUMBER,
        credentials={"account_sid": simulation.ACCOUNT, "auth_token": TOKEN},
        api_base="http://127.0.0.1:9",  # voicemail recordings are refused, never fetched from outside
    )
    port = free_port()
    host, base = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    requests = simulation.day_requests(
        base + line.endpoint.url_path, TOKEN, recording_base="http://127.0.0.1:9"
    )
    wire = [
        build(
            host,
            line.endpoint.url_path,
            h["Content-Type"],
            {k: v for k, v in h.items() if k != "Content-Type"},
            body,
        )
        for h, body in requests
    ]
    proc = start_server(data_dir, port, 2, 4, args.settings)
    started = time.perf_counter()
    try:
        wait_up(base)
        up = time.perf_counter()
        fired = fire("127.0.0.1", port, wire, args.connections)
    finally:
        stop_server(proc)
    processing_started = time.perf_counter()
    processed = 0
    while batch := process_pending(limit=5000):
        processed += batch
    done = time.perf_counter()

    plan = simulation.day_plan()
    missed: dict[str, list] = {}
    for call in plan:
        if call.outcome != "answered":
            missed.setdefault(call.number, []).append(call.at)
    callbacks = {c.number: c for c in Callback.objects.filter(shop=shop)}
    right = set(callbacks) == set(missed) and all(
        callbacks[n].missed_calls == len(ats) and callbacks[n].first_call_at == min(ats)
        for n, ats in missed.items()
    )
    out = {
        "benchmark": "phone_day",
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "requests": len(wire),
        "answered_200": sum(1 for a in fired.answers if a.status == 200),
        "failed_requests": len(fired.failures),
        "intake_s": round(fired.seconds, 2),
        "intake_latency_ms": percentiles([a.latency_ms for a in fired.answers]),
        "deliveries_stored": Delivery.objects.filter(endpoint=line.endpoint).count(),
        "processing_s": round(done - processing_started, 2),
        "processed": processed,
        "end_to_end_s": round((done - up), 2),
        "server_start_s": round(up - started, 2),
        "calls": Call.objects.filter(shop=shop).count(),
        "callbacks": len(callbacks),
        "callbacks_open": sum(1 for c in callbacks.values() if c.status == "open"),
        "callbacks_exactly_right": right,
        "under_a_minute": (done - up) < 60,
    }
    shutil.rmtree(data_dir, ignore_errors=True)
    emit(out)
    return out


if __name__ == "__main__":
    main()
