"""Commerce: backfill of orders from a loopback WooCommerce stand-in, and webhook processing speed.

1. Backfill: a fresh installation connects a WooCommerce store served by the loopback stand-in
   (src/opiekun/commerce/tests/standins.py: the REST v3 orders endpoint with modified_after, pages of
   100, X-WP-TotalPages), with a 429 (Retry-After) and a 503 planted every `--fail-every` pages, and
   runs the real catch-up (`commerce.sync.connector_sync`): orders/s, retries, and a check that every
   order is stored once with its contact and its placed/paid events.
2. Processing: `--deliveries` signed WooCommerce webhooks (bench/payloads/woocommerce.py) are stored as
   the intake stores them, then processed by the worker loop (`webhooks.processing.process_pending`,
   which calls the WooCommerce source's `process` in batches): deliveries/s into orders + timeline events.

    .venv/bin/python bench/commerce_backfill.py                       # 100,000 orders, 20,000 deliveries
    .venv/bin/python bench/commerce_backfill.py --orders 2000 --deliveries 1000   # a quick check
    DATABASE_URL=postgresql://… .venv/bin/python bench/commerce_backfill.py

Targets (issue 5): backfill of 100,000 orders in < 5 minutes; processing >= 500 deliveries/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, setup_django
from payloads import woocommerce as woo_payloads

OPIEKUN = str(Path(sys.executable).with_name("opiekun"))


class LazyOrders(Sequence[dict[str, Any]]):
    """WooCommerce orders made on demand (sorted by date_modified_gmt), so 100,000 cost no memory."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [woo_payloads.order(j) for j in range(*i.indices(self.count))]
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        return woo_payloads.order(i)


class PlannedFailures:
    """Every `every` pages the stand-in answers 429 (Retry-After: 1) and then 503 once."""

    def __init__(self, api: Any, every: int) -> None:
        self.api, self.every, self.pages = api, every, 0
        self.original = api.answer

    def __call__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        self.pages += 1
        if self.every and self.pages % self.every == 0:
            self.api.fail(429, Retry_After="1")
            self.api.fail(503)
        return self.original(method, path, headers, body)


def backfill(shop: Any, count: int, fail_every: int) -> dict[str, Any]:
    from opiekun.commerce.connectors.base import ApiClient
    from opiekun.commerce.models import Order
    from opiekun.commerce.services import connector_create
    from opiekun.commerce.sync import connector_sync
    from opiekun.commerce.tests.standins import WooCommerceStandIn
    from opiekun.contacts.models import Contact
    from opiekun.conversations.models import Event

    with WooCommerceStandIn(LazyOrders(count)) as api:
        api.answer = PlannedFailures(api, fail_every)  # type: ignore[method-assign]
        connector = connector_create(
            shop=shop,
            platform="woocommerce",
            label="backfill",
            base_url=api.url,
            credentials={"consumer_key": "ck_test", "consumer_secret": "cs_test"},
        )
        http = ApiClient(base_delay=0.2)  # real sleeps: Retry-After is honoured, backoff starts small
        started = time.perf_counter()
        result = connector_sync(connector=connector, http=http)
        seconds = time.perf_counter() - started
    stored = Order.objects.filter(connector=connector).count()
    return {
        "orders": count,
        "seconds": round(seconds, 2),
        "orders_per_s": round(stored / seconds, 1) if seconds else None,
        "pages": result.pages,
        "retries": result.retries,
        "waited_s": round(http.waited, 2),
        "error": result.error,
        "stored": stored,
        "lost": count - stored,
        "contacts": Contact.objects.filter(shop=shop).count(),
        "placed_events": Event.objects.filter(shop=shop, kind="order.placed").count(),
        "target": "100,000 orders in < 300 s",
        "meets_target": bool(
            result.error == "" and stored == count and seconds * 100_000 / max(count, 1) < 300
        ),
    }


def processing(shop: Any, count: int) -> dict[str, Any]:
    from opiekun.commerce.models import Connector, Order
    from opiekun.conversations.models import Event
    from opiekun.webhooks import intake
    from opiekun.webhooks.models import Delivery
    from opiekun.webhooks.processing import process_pending
    from opiekun.webhooks.registry import Incoming, sources

    endpoint = woo_payloads.prepare(shop)
    source = sources.get("woocommerce")
    secret = endpoint.signing_secret
    from django.http.request import HttpHeaders

    arrivals = []
    for i in range(count):
        _ct, headers, body = woo_payloads.make(1_000_000 + i, secret, endpoint.url_path)
        meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        accepted = source.verify(
            Incoming(url="", method="POST", headers=HttpHeaders(meta), body=body, secret=secret)
        )
        arrivals.append(intake.Arrival(endpoint.pk, accepted.key, accepted.topic, body, {}))
    for start in range(0, len(arrivals), 500):
        intake.insert_deliveries(arrivals[start : start + 500])
    connector = Connector.objects.get(endpoint=endpoint)
    events_before = Event.objects.filter(shop=shop).count()
    started = time.perf_counter()
    processed = 0
    while True:
        done = process_pending(limit=5000)
        if not done:
            break
        processed += done
    seconds = time.perf_counter() - started
    return {
        "deliveries": processed,
        "seconds": round(seconds, 2),
        "per_s": round(processed / seconds, 1) if seconds else None,
        "orders_stored": Order.objects.filter(connector=connector).count(),
        "timeline_events": Event.objects.filter(shop=shop).count() - events_before,
        "processed_more_than_once": Delivery.objects.filter(endpoint=endpoint, attempts__gt=1).count(),
        "with_errors": Delivery.objects.filter(endpoint=endpoint).exclude(error="").count(),
        "target": ">= 500 deliveries/s",
        "meets_target": bool(seconds and processed / seconds >= 500 and processed == count),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument(
        "--fail-every", type=int, default=200, help="plant a 429 and a 503 every N pages (0: never)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="opiekun-commerce-")
    env = {**os.environ, "OPIEKUN_DATA_DIR": data_dir}
    env.setdefault("DJANGO_SETTINGS_MODULE", "opiekun.config.settings.dev")
    subprocess.run([OPIEKUN, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    setup_django(data_dir)
    from opiekun.shops.models import Shop

    out: dict[str, Any] = {
        "benchmark": "commerce_backfill",
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
    }
    if args.orders:
        shop = Shop.objects.create(slug="bench-backfill", name="Bench backfill")
        out["backfill"] = backfill(shop, args.orders, args.fail_every)
    if args.deliveries:
        shop = Shop.objects.create(slug="bench-process", name="Bench processing")
        out["processing"] = processing(shop, args.deliveries)
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    emit(out)
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
