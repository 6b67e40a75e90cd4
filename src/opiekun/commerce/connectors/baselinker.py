"""BaseLinker: the connector API (`POST https://api.baselinker.com/connector.php`, `X-BLToken`), polled.

BaseLinker offers no signed webhooks, so the catch-up is the main road: first every order page by page
(`getOrders` with `id_from`, 100 a page), then the event journal (`getJournalList` from the saved
`last_log_id`; it keeps three days) names the orders that changed, and each is read again with
`getOrders`. Order status ids are per account: `getOrderStatusList` gives their names, and a name
decides what the status means to Opiekun (sent/wysłane → shipped, ...).

The webhook endpoint is a *nudge*: an "automatic action" in BaseLinker can call
`/hooks/<token>/?secret=<secret>` with `order_id=[order_id]` when an order changes; that schedules the
catch-up at once instead of at the next periodic run. The secret in the URL is compared in constant time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from opiekun.webhooks import signatures
from opiekun.webhooks.registry import Accepted, Incoming, Rejected

from ..models import OrderStatus, PaymentState, ShipmentStatus
from ..records import (
    Customer,
    LineRecord,
    OrderRecord,
    PaymentRecord,
    ShipmentRecord,
    money,
    need,
    text,
    when,
)
from .base import ApiClient, ApiError, OrderSource, Page

if TYPE_CHECKING:
    from opiekun.webhooks.models import Delivery

    from ..models import Connector

NAME = "baselinker"
API_URL = "https://api.baselinker.com/connector.php"
PAGE = 100
# Journal entries that change what the desk shows: created, paid, deleted, invoice, package, data, status.
LOG_TYPES = [1, 3, 7, 9, 10, 11, 12, 13, 14, 16, 18]
STATUS_WORDS = [  # by the account's status name, Polish and English, first match wins
    (("anul", "cancel"), OrderStatus.CANCELLED),
    (("zwrot", "return", "refund"), OrderStatus.REFUNDED),
    (("dostarcz", "odebran", "delivered"), OrderStatus.DELIVERED),
    (("wysł", "wysl", "nadan", "sent", "shipped"), OrderStatus.SHIPPED),
    (("realiz", "kompl", "pakow", "process"), OrderStatus.PROCESSING),
    (("wstrzym", "hold"), OrderStatus.ON_HOLD),
]


PARCEL_STATUS: dict[str, str] = {
    OrderStatus.DELIVERED: ShipmentStatus.DELIVERED,
    OrderStatus.SHIPPED: ShipmentStatus.SHIPPED,
}


def verify(incoming: Incoming) -> Accepted:
    given = (parse_qs(urlsplit(incoming.url).query).get("secret") or [""])[0]
    if not given:
        raise Rejected(401, "missing secret in the URL")
    signatures.must_match(given, incoming.secret, what="secret")
    order_id = (incoming.form.get("order_id") or [""])[0]
    if not order_id:
        try:
            payload = json.loads(incoming.body or b"{}")
        except ValueError as exc:
            raise Rejected(400, f"malformed JSON: {exc}") from None
        order_id = str(payload.get("order_id", "")) if isinstance(payload, dict) else ""
    if not order_id.isdigit():
        raise Rejected(400, "order_id (a number) is required")
    # One nudge per order and body: a repeated call is stored once.
    return Accepted(key=f"nudge:{order_id}:{hashlib.sha256(incoming.body).hexdigest()[:16]}", topic="nudge")


def status_meaning(name: str) -> str:
    lowered = name.lower()
    for words, status in STATUS_WORDS:
        if any(w in lowered for w in words):
            return status
    return OrderStatus.PLACED


def normalise_order(payload: Any, statuses: dict[str, str] | None = None) -> OrderRecord:
    """One order of `getOrders` → OrderRecord (pure); `statuses` maps the account's status ids to names."""
    order = need(payload, "order_id", "date_add")
    products = [p for p in order.get("products") or [] if isinstance(p, dict)]
    lines = tuple(
        LineRecord(
            name=text(p.get("name")),
            quantity=Decimal(str(p.get("quantity") or 1)),
            unit_price=money(p.get("price_brutto")),
            total=money(p.get("price_brutto")) * Decimal(str(p.get("quantity") or 1)),
            sku=text(p.get("sku"), 100),
        )
        for p in products
    )
    delivery = money(order.get("delivery_price"))
    total = sum((line.total for line in lines), Decimal(0)) + delivery
    done = money(order.get("payment_done"))
    status_name = (statuses or {}).get(str(order.get("order_status_id", "")), "")
    status = status_meaning(status_name)
    paid = bool(total) and done >= total
    if status == OrderStatus.PLACED and paid:
        status = OrderStatus.PAID
    payment = (
        PaymentState.REFUNDED
        if status == OrderStatus.REFUNDED
        else (PaymentState.PAID if paid else PaymentState.UNPAID)
    )
    shipments: tuple[ShipmentRecord, ...] = ()
    if order.get("delivery_package_nr"):
        shipments = (
            ShipmentRecord(
                external_id=text(order["delivery_package_nr"], 100),
                # A parcel number exists from the label on; the status name says whether it left.
                status=PARCEL_STATUS.get(status, ShipmentStatus.PREPARING),
                carrier=text(order.get("delivery_package_module") or order.get("delivery_method"), 100),
                tracking_number=text(order["delivery_package_nr"], 100),
                shipped_at=when(order.get("date_in_status")),
            ),
        )
    number = text(order.get("shop_order_id") or order.get("external_order_id") or order["order_id"], 64)
    return OrderRecord(
        external_id=str(order["order_id"]),
        number=str(number) if number not in ("", "0") else str(order["order_id"]),
        status=status,
        payment_state=payment,
        placed_at=when(order["date_add"]) or when(order.get("date_confirmed")),  # type: ignore[arg-type]
        updated_at=None,  # the journal says *that* it changed; what getOrders answers is the current state
        platform_status=status_name,
        currency=text(order.get("currency"), 3),
        total=total,
        shipping_total=delivery,
        paid_at=when(order.get("date_in_status")) if paid else None,
        customer=Customer(
            email=text(order.get("email"), 320),
            phone=text(order.get("phone"), 40),
            name=text(order.get("delivery_fullname") or order.get("invoice_fullname"), 200),
        ),
        admin_url=text(order.get("order_page"), 500),
        lines=lines,
        shipments=shipments,
        payments=(PaymentRecord(amount=done, method=text(order.get("payment_method"), 100)),) if done else (),
    )


class BaseLinker:
    name = NAME
    credential_fields: tuple[str, ...] = ("api_token",)
    nudge = True  # a webhook asks for a catch-up instead of carrying the order

    def records(self, delivery: Delivery) -> list[OrderRecord]:
        return []

    def call(
        self, http: ApiClient, connector: Connector, method: str, parameters: dict[str, Any]
    ) -> dict[str, Any]:
        response = http.request(
            "POST",
            connector.base_url or API_URL,
            headers={"X-BLToken": connector.credentials.get("api_token", "")},
            data={"method": method, "parameters": json.dumps(parameters)},
        )
        data = response.json()
        if data.get("status") != "SUCCESS":
            raise ApiError(
                f"BaseLinker {method}: {data.get('error_code', '')} {data.get('error_message', '')}".strip()
            )
        return dict(data)

    def pages(self, connector: Connector, http: ApiClient) -> Iterator[Page]:
        if not connector.credentials.get("api_token"):
            return
        cursor = dict(connector.cursor)
        statuses = {
            str(s["id"]): str(s.get("name", ""))
            for s in self.call(http, connector, "getOrderStatusList", {}).get("statuses", [])
        }
        if not cursor.get("backfilled"):
            id_from = int(cursor.get("id_from", 0))
            while True:
                orders = self.call(
                    http, connector, "getOrders", {"id_from": id_from, "get_unconfirmed_orders": True}
                ).get("orders", [])
                records = [normalise_order(o, statuses) for o in orders]
                if orders:
                    id_from = max(int(o["order_id"]) for o in orders) + 1
                cursor.update(id_from=id_from)
                if len(orders) < PAGE:
                    cursor["backfilled"] = True
                yield Page(records, dict(cursor))
                if len(orders) < PAGE:
                    break
        while True:
            logs = self.call(
                http,
                connector,
                "getJournalList",
                {"last_log_id": int(cursor.get("last_log_id", 0)), "logs_types": LOG_TYPES},
            ).get("logs", [])
            if not logs:
                return
            changed = sorted({int(log["order_id"]) for log in logs if log.get("order_id")})
            records = []
            for order_id in changed:
                for o in self.call(http, connector, "getOrders", {"order_id": order_id}).get("orders", []):
                    records.append(normalise_order(o, statuses))
            cursor["last_log_id"] = max(int(log["log_id"]) for log in logs)
            yield Page(records, dict(cursor))


PLATFORM = BaseLinker()
SOURCE = OrderSource(PLATFORM, verify)
