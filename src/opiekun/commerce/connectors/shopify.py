"""Shopify: order webhooks (`X-Shopify-Hmac-Sha256`, base64) and the Admin GraphQL API catch-up.

Shopify retries a webhook with the same `X-Shopify-Event-Id`, so that id de-duplicates. Webhook bodies
are the REST order resource (`orders/create`, `orders/updated`, `orders/paid`, `orders/fulfilled`,
`orders/cancelled`, ...); the catch-up reads the GraphQL `orders` connection sorted by UPDATED_AT with
`pageInfo.endCursor`, and respects the cost-based throttle: it waits for the bucket to refill
(`extensions.cost.throttleStatus`) rather than being refused, and waits again when answered THROTTLED.
Both shapes normalise to the same OrderRecord (the GraphQL gid's number is the REST id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from opiekun.webhooks import signatures
from opiekun.webhooks.registry import Accepted, Incoming, Rejected

from ..models import OrderStatus, PaymentState, ShipmentStatus
from ..records import (
    Customer,
    LineRecord,
    Malformed,
    OrderRecord,
    PaymentRecord,
    ReturnRecord,
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

NAME = "shopify"
API_VERSION = "2024-10"
SHIPMENT_TOPICS = {"fulfillments/create", "fulfillments/update"}
TOPICS = {
    *SHIPMENT_TOPICS,
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/cancelled",
}
PER_PAGE = 100

FINANCIAL = {
    "pending": PaymentState.UNPAID,
    "authorized": PaymentState.UNPAID,
    "partially_paid": PaymentState.UNPAID,
    "paid": PaymentState.PAID,
    "partially_refunded": PaymentState.PARTIALLY_REFUNDED,
    "refunded": PaymentState.REFUNDED,
    "voided": PaymentState.UNPAID,
    "expired": PaymentState.UNPAID,
}
SHIPMENT = {
    "label_printed": ShipmentStatus.PREPARING,
    "label_purchased": ShipmentStatus.PREPARING,
    "confirmed": ShipmentStatus.SHIPPED,
    "fulfilled": ShipmentStatus.SHIPPED,
    "marked_as_fulfilled": ShipmentStatus.SHIPPED,
    "submitted": ShipmentStatus.SHIPPED,
    "in_transit": ShipmentStatus.SHIPPED,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "ready_for_pickup": ShipmentStatus.READY_FOR_PICKUP,
    "attempted_delivery": ShipmentStatus.FAILED,
    "not_delivered": ShipmentStatus.FAILED,
    "failure": ShipmentStatus.FAILED,
    "delivered": ShipmentStatus.DELIVERED,
    "picked_up": ShipmentStatus.DELIVERED,
}


def verify(incoming: Incoming) -> Accepted:
    signatures.must_match(
        signatures.required_header(incoming, "X-Shopify-Hmac-Sha256"),
        signatures.hmac_of(incoming.secret, incoming.body),
    )
    topic = incoming.headers.get("X-Shopify-Topic", "")
    event_id = incoming.headers.get("X-Shopify-Event-Id") or incoming.headers.get("X-Shopify-Webhook-Id", "")
    if not event_id:
        raise Rejected(400, "missing X-Shopify-Event-Id")
    payload = signatures.json_body(incoming.body)
    if topic not in TOPICS:
        raise Rejected(400, f"unsupported topic {topic!r} (subscribe to orders/* topics)")
    try:
        if topic in SHIPMENT_TOPICS:
            normalise_fulfillment(payload)
        else:
            normalise_order(payload)
    except Malformed as exc:
        raise Rejected(400, f"unexpected shape: {exc}") from None
    return Accepted(key=event_id, topic=topic, keep_headers=("X-Shopify-Topic", "X-Shopify-Shop-Domain"))


def _fulfillment(f: dict[str, Any]) -> ShipmentRecord:
    status = SHIPMENT.get(str(f.get("shipment_status") or "fulfilled"), ShipmentStatus.SHIPPED)
    return ShipmentRecord(
        external_id=str(f.get("id", "")),
        status=status,
        carrier=text(f.get("tracking_company"), 100),
        tracking_number=text(f.get("tracking_number"), 100),
        tracking_url=text(f.get("tracking_url"), 500),
        shipped_at=when(f.get("created_at")),
        delivered_at=when(f.get("updated_at")) if status == ShipmentStatus.DELIVERED else None,
        status_at=when(f.get("updated_at")),
    )


def normalise_fulfillment(payload: Any) -> tuple[str, ShipmentRecord] | None:
    """A `fulfillments/*` webhook body → (the order's id, its shipment); None for a cancelled one."""
    f = need(payload, "id", "order_id")
    if f.get("status") in ("cancelled", "error", "failure"):
        return None
    return str(f["order_id"]), _fulfillment(f)


def _order_status(
    financial: PaymentState, fulfilled: str, cancelled: bool, shipments: list[ShipmentRecord]
) -> str:
    if cancelled:
        return OrderStatus.REFUNDED if financial == PaymentState.REFUNDED else OrderStatus.CANCELLED
    if financial == PaymentState.REFUNDED:
        return OrderStatus.REFUNDED
    if shipments and all(s.status == ShipmentStatus.DELIVERED for s in shipments):
        return OrderStatus.DELIVERED
    if fulfilled in ("fulfilled", "partial", "partially_fulfilled") or shipments:
        return OrderStatus.SHIPPED
    return OrderStatus.PAID if financial == PaymentState.PAID else OrderStatus.PLACED


def normalise_order(payload: Any) -> OrderRecord:
    """A Shopify REST order (a webhook body) → OrderRecord (pure)."""
    order = need(payload, "id", "created_at")
    customer = order.get("customer") or {}
    financial = FINANCIAL.get(str(order.get("financial_status") or "pending"), PaymentState.UNPAID)
    shipments = [
        _fulfillment(f)
        for f in order.get("fulfillments") or []
        if isinstance(f, dict) and f.get("status") not in ("cancelled", "error", "failure")
    ]
    refunds = []
    for r in order.get("refunds") or []:
        if not isinstance(r, dict):
            continue
        amount = sum(
            (money(t.get("amount")) for t in r.get("transactions") or [] if t.get("kind") == "refund"),
            Decimal(0),
        )
        refunds.append((str(r.get("id", "")), amount, when(r.get("created_at")), text(r.get("note"))))
    total = money(order.get("total_price"))
    paid_at = when(order.get("processed_at")) if financial != PaymentState.UNPAID else None
    payments = [
        PaymentRecord(
            amount=total, method=", ".join(order.get("payment_gateway_names") or []), paid_at=paid_at
        )
    ]
    if financial == PaymentState.UNPAID:
        payments = []
    payments += [
        PaymentRecord(amount=a, is_refund=True, paid_at=at, method=note) for _, a, at, note in refunds
    ]
    shipping = ((order.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount")
    name = " ".join(p for p in (text(customer.get("first_name")), text(customer.get("last_name"))) if p)
    return OrderRecord(
        external_id=str(order["id"]),
        number=text(order.get("name") or order.get("order_number") or order["id"], 64),
        status=_order_status(
            financial, str(order.get("fulfillment_status") or ""), bool(order.get("cancelled_at")), shipments
        ),
        payment_state=financial,
        placed_at=_required(order["created_at"]),
        updated_at=when(order.get("updated_at")),
        platform_status=" / ".join(
            text(v) for v in (order.get("financial_status"), order.get("fulfillment_status")) if v
        ),
        currency=text(order.get("currency"), 3),
        total=total,
        shipping_total=money(shipping),
        paid_at=paid_at,
        customer=Customer(
            email=text(order.get("email") or customer.get("email"), 320),
            phone=text(order.get("phone") or customer.get("phone"), 40),
            name=name,
            language=text(order.get("customer_locale"), 8).split("-")[0],
        ),
        admin_url=text(order.get("order_status_url"), 500),
        lines=tuple(
            LineRecord(
                name=text(li.get("name") or li.get("title")),
                quantity=Decimal(str(li.get("quantity") or 1)),
                unit_price=money(li.get("price")),
                total=money(li.get("price")) * Decimal(str(li.get("quantity") or 1)),
                sku=text(li.get("sku"), 100),
            )
            for li in order.get("line_items") or []
            if isinstance(li, dict)
        ),
        shipments=tuple(shipments),
        payments=tuple(payments),
        returns=tuple(
            ReturnRecord(external_id=i, status="refunded", reason=note, amount=a, created_at=at)
            for i, a, at, note in refunds
        ),
    )


def _required(value: Any) -> dt.datetime:
    parsed = when(value)
    if parsed is None:
        raise Malformed("created_at is empty")
    return parsed


def _gid_number(gid: Any) -> str:
    return str(gid).rsplit("/", 1)[-1]


def _amount(money_set: Any) -> Any:
    return ((money_set or {}).get("shopMoney") or {}).get("amount")


def normalise_node(node: Any) -> OrderRecord:
    """An order node of the Admin GraphQL API (the catch-up) → OrderRecord (pure)."""
    order = need(node, "id", "createdAt")
    customer = order.get("customer") or {}
    financial = FINANCIAL.get(
        str(order.get("displayFinancialStatus") or "PENDING").lower(), PaymentState.UNPAID
    )
    shipments = []
    for f in order.get("fulfillments") or []:
        if str(f.get("status", "")).upper() in ("CANCELLED", "ERROR", "FAILURE"):
            continue
        tracking = (f.get("trackingInfo") or [{}])[0] if f.get("trackingInfo") else {}
        status = SHIPMENT.get(str(f.get("displayStatus") or "FULFILLED").lower(), ShipmentStatus.SHIPPED)
        shipments.append(
            ShipmentRecord(
                external_id=_gid_number(f.get("id")),
                status=status,
                carrier=text(tracking.get("company"), 100),
                tracking_number=text(tracking.get("number"), 100),
                tracking_url=text(tracking.get("url"), 500),
                shipped_at=when(f.get("createdAt")),
                promised_at=when(f.get("estimatedDeliveryAt")),
                delivered_at=when(f.get("deliveredAt")),
                status_at=when(f.get("updatedAt")),
            )
        )
    total = money(_amount(order.get("totalPriceSet")))
    paid_at = when(order.get("processedAt")) if financial != PaymentState.UNPAID else None
    payments = [PaymentRecord(amount=total, paid_at=paid_at)] if financial != PaymentState.UNPAID else []
    refunds = [
        (
            _gid_number(r.get("id")),
            money(_amount(r.get("totalRefundedSet"))),
            when(r.get("createdAt")),
            text(r.get("note")),
        )
        for r in order.get("refunds") or []
    ]
    payments += [PaymentRecord(amount=a, is_refund=True, paid_at=at) for _, a, at, _n in refunds]
    lines = ((order.get("lineItems") or {}).get("nodes")) or []
    fulfilled = str(order.get("displayFulfillmentStatus") or "").lower()
    return OrderRecord(
        external_id=_gid_number(order["id"]),
        number=text(order.get("name") or _gid_number(order["id"]), 64),
        status=_order_status(financial, fulfilled, bool(order.get("cancelledAt")), shipments),
        payment_state=financial,
        placed_at=_required(order["createdAt"]),
        updated_at=when(order.get("updatedAt")),
        platform_status=" / ".join(
            text(v).lower()
            for v in (order.get("displayFinancialStatus"), order.get("displayFulfillmentStatus"))
            if v
        ),
        currency=text(order.get("currencyCode"), 3),
        total=total,
        shipping_total=money(_amount(order.get("totalShippingPriceSet"))),
        paid_at=paid_at,
        customer=Customer(
            email=text(order.get("email") or customer.get("email"), 320),
            phone=text(order.get("phone") or customer.get("phone"), 40),
            name=" ".join(p for p in (text(customer.get("firstName")), text(customer.get("lastName"))) if p),
            language=text(customer.get("locale"), 8).split("-")[0],
        ),
        admin_url=text(order.get("statusPageUrl"), 500),
        lines=tuple(
            LineRecord(
                name=text(li.get("name")),
                quantity=Decimal(str(li.get("quantity") or 1)),
                unit_price=money(_amount(li.get("originalUnitPriceSet"))),
                total=money(_amount(li.get("originalUnitPriceSet"))) * Decimal(str(li.get("quantity") or 1)),
                sku=text(li.get("sku"), 100),
            )
            for li in lines
        ),
        shipments=tuple(shipments),
        payments=tuple(payments),
        returns=tuple(
            ReturnRecord(external_id=i, status="refunded", reason=n, amount=a, created_at=at)
            for i, a, at, n in refunds
        ),
    )


ORDERS_QUERY = """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name email phone createdAt updatedAt processedAt cancelledAt statusPageUrl
      displayFinancialStatus displayFulfillmentStatus currencyCode
      totalPriceSet { shopMoney { amount currencyCode } }
      totalShippingPriceSet { shopMoney { amount } }
      customer { firstName lastName email phone locale }
      lineItems(first: 50) { nodes { name sku quantity originalUnitPriceSet { shopMoney { amount } } } }
      fulfillments(first: 10) {
        id status displayStatus createdAt updatedAt deliveredAt estimatedDeliveryAt
        trackingInfo(first: 1) { company number url }
      }
      refunds(first: 10) { id createdAt note totalRefundedSet { shopMoney { amount } } }
    }
  }
}
"""


class Shopify:
    name = NAME
    credential_fields: tuple[str, ...] = ("access_token",)

    def records(self, delivery: Delivery) -> list[OrderRecord]:
        if delivery.topic in SHIPMENT_TOPICS:
            return []
        return [normalise_order(_json(delivery))]

    def shipments(self, delivery: Delivery) -> list[tuple[str, ShipmentRecord]]:
        """A fulfillment's own webhook (its tracking or delivery status changed)."""
        if delivery.topic not in SHIPMENT_TOPICS:
            return []
        found = normalise_fulfillment(_json(delivery))
        return [found] if found else []

    def pages(self, connector: Connector, http: ApiClient) -> Iterator[Page]:
        """The `orders` connection updated since the cursor's stamp, resuming at its `after` cursor."""
        if not connector.base_url:
            return
        url = f"{connector.base_url.rstrip('/')}/admin/api/{API_VERSION}/graphql.json"
        headers = {"X-Shopify-Access-Token": connector.credentials.get("access_token", "")}
        since = connector.cursor.get("updated_at", "")
        after = connector.cursor.get("after")
        newest = connector.cursor.get("newest", since)
        query = f"updated_at:>='{since}'" if since else None
        while True:
            data = self._query(http, url, headers, {"first": PER_PAGE, "after": after, "query": query})
            connection = ((data.get("data") or {}).get("orders")) or {}
            nodes = connection.get("nodes") or []
            records = [normalise_node(n) for n in nodes]
            for n in nodes:
                newest = max(newest, str(n.get("updatedAt") or ""))
            info = connection.get("pageInfo") or {}
            if info.get("hasNextPage") and info.get("endCursor"):
                after = info["endCursor"]
                yield Page(records, {"updated_at": since, "after": after, "newest": newest})
            else:
                yield Page(records, {"updated_at": newest or since})
                return

    @staticmethod
    def _query(
        http: ApiClient, url: str, headers: dict[str, str], variables: dict[str, Any]
    ) -> dict[str, Any]:
        for _attempt in range(http.attempts):
            response = http.request(
                "POST", url, json={"query": ORDERS_QUERY, "variables": variables}, headers=headers
            )
            data = response.json()
            cost = (data.get("extensions") or {}).get("cost") or {}
            throttle = cost.get("throttleStatus") or {}
            errors = data.get("errors") or []
            throttled = any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors)
            restore = float(throttle.get("restoreRate") or 50) or 50.0
            if throttled:
                needed = float(cost.get("requestedQueryCost") or 100) - float(
                    throttle.get("currentlyAvailable") or 0
                )
                http.wait(max(1.0, needed / restore), "Shopify GraphQL THROTTLED")
                continue
            if errors:
                raise ApiError("Shopify GraphQL: " + "; ".join(str(e.get("message")) for e in errors)[:300])
            available = float(throttle.get("currentlyAvailable") or 1e9)
            requested = float(cost.get("requestedQueryCost") or 0)
            if available < requested:  # the next page would be refused: let the bucket refill first
                http.wait((requested - available) / restore, "Shopify cost bucket low")
            return dict(data)
        raise ApiError("Shopify GraphQL stayed throttled")


def _json(delivery: Delivery) -> Any:
    try:
        return signatures.json_body(bytes(delivery.body))
    except Rejected as exc:
        raise Malformed(exc.reason) from None


PLATFORM = Shopify()
SOURCE = OrderSource(PLATFORM, verify)
