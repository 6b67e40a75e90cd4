"""WooCommerce order webhooks for bench/webhook_intake.py: the REST v3 order of the recorded fixture,
unique per `i` (id, number, customer e-mail and phone, modification time), signed as WooCommerce signs
(base64 HMAC-SHA256 of the raw body in X-WC-Webhook-Signature); each customer places ~3 orders."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

SOURCE = "woocommerce"
FIXTURE = Path(__file__).resolve().parents[2] / "src/opiekun/commerce/fixtures/woocommerce/order.json"
_BASE = json.loads(FIXTURE.read_text())
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def prepare(shop: Any) -> Any:
    """A WooCommerce connector of the bench shop (made once) and its webhook endpoint."""
    from opiekun.commerce.models import Connector
    from opiekun.commerce.services import connector_create

    connector = Connector.objects.filter(shop=shop, platform=SOURCE).select_related("endpoint").first()
    if connector is None:
        connector = connector_create(
            shop=shop, platform=SOURCE, label="bench", base_url="https://bench.example"
        )
    return connector.endpoint


def order(i: int) -> dict[str, Any]:
    o = copy.deepcopy(_BASE)
    stamp = (T0 + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S")
    o.update(id=100_000 + i, number=str(100_000 + i), date_created_gmt=stamp, date_modified_gmt=stamp)
    o["date_paid_gmt"] = stamp
    o["billing"].update(email=f"klient{i // 3}@bench.example", phone=f"+4850{i // 3 % 10_000_000:07d}")
    return o


def make(i: int, secret: str, url: str) -> tuple[str, dict[str, str], bytes]:
    body = json.dumps(order(i), separators=(",", ":")).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-WC-Webhook-Source": "https://bench.example/",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "created",
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": f"d{i}",
    }
    return "application/json", headers, body


def check(shop: Any, sent_unique: int) -> dict[str, Any]:
    """Orders and timeline events written by processing (each order once, placed + paid events)."""
    from opiekun.commerce.models import Order
    from opiekun.conversations.models import Event

    orders = Order.objects.filter(shop=shop).count()
    return {
        "orders_stored": orders,
        "orders_expected": sent_unique,
        "placed_events": Event.objects.filter(shop=shop, kind="order.placed").count(),
        "paid_events": Event.objects.filter(shop=shop, kind="order.paid").count(),
    }
