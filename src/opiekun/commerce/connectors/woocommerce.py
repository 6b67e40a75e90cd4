"""WooCommerce: order webhooks (base64 HMAC-SHA256 of the raw body) and the REST API v3 catch-up.

Webhooks carry the order as `GET /wp-json/wc/v3/orders/<id>` returns it, with `X-WC-Webhook-Topic`
(order.created / order.updated / ...) and `X-WC-Webhook-Signature`. WooCommerce's delivery id is new
on every attempt, even for the same event, so deliveries are told apart by content: the topic and the
order exactly as sent. When a webhook is created WooCommerce posts an unsigned `webhook_id=<n>` ping;
it is answered 200 and not stored. Tracking numbers come from the Shipment Tracking extension's
`_wc_shipment_tracking_items` meta, invoice numbers from the PDF Invoices plugin's `_wcpdf_*` meta.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from opiekun.webhooks import signatures
from opiekun.webhooks.registry import Accepted, Incoming, Rejected

from ..models import OrderStatus, PaymentState, ShipmentStatus
from ..records import (
    Customer,
    InvoiceRecord,
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
from .base import ApiClient, OrderSource, Page, canonical_key

if TYPE_CHECKING:
    from opiekun.webhooks.models import Delivery

    from ..models import Connector

NAME = "woocommerce"
TOPICS = {"order.created", "order.updated", "order.deleted", "order.restored"}
PING = re.compile(rb"^webhook_id=\d+$")
PER_PAGE = 100

STATUSES = {
    "pending": OrderStatus.PLACED,
    "checkout-draft": OrderStatus.PLACED,
    "processing": OrderStatus.PROCESSING,
    "on-hold": OrderStatus.ON_HOLD,
    "completed": OrderStatus.SHIPPED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
    "trash": OrderStatus.CANCELLED,
}
CARRIER_LINKS = {  # the Shipment Tracking extension's providers most used by Polish shops
    "inpost": "https://inpost.pl/sledzenie-przesylek?number={}",
    "dpd": "https://tracktrace.dpd.com.pl/parcelDetails?typ=1&p1={}",
    "dhl": "https://www.dhl.com/pl-pl/home/tracking.html?tracking-id={}",
    "poczta polska": "https://emonitoring.poczta-polska.pl/?numer={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "gls": "https://gls-group.com/PL/pl/sledzenie-paczek?match={}",
}


def verify(incoming: Incoming) -> Accepted:
    signature = incoming.headers.get("X-WC-Webhook-Signature", "")
    if not signature and PING.match(incoming.body.strip()):
        return Accepted(key="ping", store=False)  # sent once when the webhook is created, never signed
    signatures.must_match(
        signatures.required_header(incoming, "X-WC-Webhook-Signature"),
        signatures.hmac_of(incoming.secret, incoming.body),
    )
    topic = incoming.headers.get("X-WC-Webhook-Topic", "")
    payload = signatures.json_body(incoming.body)
    if topic not in TOPICS:
        raise Rejected(400, f"unsupported topic {topic!r} (send order.* webhooks)")
    if not isinstance(payload, dict) or "id" not in payload:
        raise Rejected(400, "an order object with an id was expected")
    if topic != "order.deleted":
        try:  # the shape, cheaply (the intake's hot path): what normalising needs first
            need(payload, "id", "status", "date_created_gmt")
            money(payload.get("total"))
            if when(payload["date_created_gmt"]) is None:
                raise Malformed("date_created_gmt is empty")
        except Malformed as exc:
            raise Rejected(400, f"unexpected order shape: {exc}") from None
    return Accepted(key=canonical_key(topic, payload), topic=topic, keep_headers=("X-WC-Webhook-Topic",))


def _meta(payload: dict[str, Any]) -> dict[str, Any]:
    return {str(m.get("key")): m.get("value") for m in payload.get("meta_data") or [] if isinstance(m, dict)}


def _shipments(meta: dict[str, Any], completed_at: dt.datetime | None) -> tuple[ShipmentRecord, ...]:
    items = meta.get("_wc_shipment_tracking_items") or []
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        carrier = text(item.get("custom_tracking_provider") or item.get("tracking_provider"), 100)
        number = text(item.get("tracking_number"), 100)
        link = text(item.get("custom_tracking_link"), 500)
        template = CARRIER_LINKS.get(carrier.lower())
        if not link and template and number:
            link = template.format(number)
        found.append(
            ShipmentRecord(
                external_id=text(item.get("tracking_id") or number, 100),
                status=ShipmentStatus.SHIPPED,
                carrier=carrier,
                tracking_number=number,
                tracking_url=link,
                shipped_at=when(item.get("date_shipped")) or completed_at,
            )
        )
    return tuple(found)


def normalise_order(payload: Any) -> OrderRecord:
    """A WooCommerce REST v3 order (webhook body or API page item) → OrderRecord (pure)."""
    order = need(payload, "id", "status", "date_created_gmt")
    billing = order.get("billing") or {}
    meta = _meta(order)
    total = money(order.get("total"))
    refunds = [r for r in order.get("refunds") or [] if isinstance(r, dict)]
    refunded = sum((abs(money(r.get("total"))) for r in refunds), Decimal(0))
    paid_at = when(order.get("date_paid_gmt"))
    status = STATUSES.get(str(order["status"]), OrderStatus.PLACED)
    if refunded and refunded >= total:
        payment = PaymentState.REFUNDED
    elif refunded:
        payment = PaymentState.PARTIALLY_REFUNDED
    elif paid_at or (
        status in (OrderStatus.PROCESSING, OrderStatus.SHIPPED) and order.get("payment_method") != "cod"
    ):
        # "processing" means paid, except cash on delivery: that is paid to the courier, later
        payment = PaymentState.PAID
    else:
        payment = PaymentState.UNPAID
    if (
        status == OrderStatus.PROCESSING
        and payment == PaymentState.UNPAID
        and order.get("payment_method") != "cod"
    ):
        status = OrderStatus.PLACED
    modified = when(order.get("date_modified_gmt"))
    payments = []
    if paid_at or payment != PaymentState.UNPAID:
        payments.append(
            PaymentRecord(amount=total, method=text(order.get("payment_method_title"), 100), paid_at=paid_at)
        )
    payments += [
        PaymentRecord(amount=abs(money(r.get("total"))), method=text(r.get("reason"), 100), is_refund=True)
        for r in refunds
    ]
    invoices: tuple[InvoiceRecord, ...] = ()
    if meta.get("_wcpdf_invoice_number"):
        invoices = (
            InvoiceRecord(
                number=text(meta["_wcpdf_invoice_number"], 100),
                issued_at=when(meta.get("_wcpdf_invoice_date")),
            ),
        )
    placed = when(order["date_created_gmt"])
    if placed is None:
        raise Malformed("date_created_gmt is empty")
    return OrderRecord(
        external_id=str(order["id"]),
        number=text(order.get("number") or order["id"], 64),
        status=status,
        payment_state=payment,
        placed_at=placed,
        updated_at=modified,
        platform_status=text(order["status"], 60),
        currency=text(order.get("currency"), 3),
        total=total,
        shipping_total=money(order.get("shipping_total")),
        paid_at=paid_at,
        customer=Customer(
            email=text(billing.get("email"), 320),
            phone=text(billing.get("phone"), 40),
            name=" ".join(p for p in (text(billing.get("first_name")), text(billing.get("last_name"))) if p),
        ),
        lines=tuple(
            LineRecord(
                name=text(li.get("name")),
                quantity=Decimal(str(li.get("quantity") or 1)),
                unit_price=money(li.get("price")),
                total=money(li.get("total")),
                sku=text(li.get("sku"), 100),
            )
            for li in order.get("line_items") or []
            if isinstance(li, dict)
        ),
        shipments=_shipments(meta, when(order.get("date_completed_gmt"))),
        payments=tuple(payments),
        invoices=invoices,
        returns=tuple(
            ReturnRecord(
                external_id=str(r.get("id", "")),
                status="refunded",
                reason=text(r.get("reason")),
                amount=abs(money(r.get("total"))),
            )
            for r in refunds
        ),
    )


class WooCommerce:
    name = NAME
    credential_fields: tuple[str, ...] = ("consumer_key", "consumer_secret")

    def records(self, delivery: Delivery) -> list[OrderRecord]:
        if delivery.topic == "order.deleted":
            return []  # a deleted order stays mirrored as it was: the customer's history keeps it
        return [normalise_order(parse_json_or_malformed(bytes(delivery.body)))]

    def pages(self, connector: Connector, http: ApiClient) -> Iterator[Page]:
        """`GET /wp-json/wc/v3/orders?modified_after=…&orderby=modified&order=asc`, paged by *key*:
        each next page asks again from just before the newest modification seen, not for page n+1 —
        an order changed meanwhile moves to the end of the list, and numbered pages would shift under
        us and skip an order for good. Orders of that last second are read twice (harmless: upserts);
        more than a page of orders in one second falls back to numbered pages for that second. The
        saved cursor is the newest modification seen, less that second."""
        if not connector.base_url:
            return  # no address, nothing to page (webhooks still arrive)
        creds = connector.credentials
        since = connector.cursor.get("modified_after", "1970-01-01T00:00:00")
        page = 1
        url = connector.base_url.rstrip("/") + "/wp-json/wc/v3/orders"
        while True:
            response = http.request(
                "GET",
                url,
                params={
                    "modified_after": since,
                    "dates_are_gmt": "true",
                    "orderby": "modified",
                    "order": "asc",
                    "per_page": PER_PAGE,
                    "page": page,
                },
                auth=(creds.get("consumer_key", ""), creds.get("consumer_secret", "")),
            )
            items = response.json()
            if not isinstance(items, list):
                raise Malformed("the orders endpoint did not answer a list")
            records = [normalise_order(item) for item in items]
            newest = max((str(i.get("date_modified_gmt") or "") for i in items), default="")
            resume = _second_before(newest) if newest else since
            next_since = max(since, resume)
            yield Page(records, {"modified_after": next_since})
            if len(items) < PER_PAGE:
                return
            if next_since > since:
                since, page = next_since, 1
            else:  # a whole page within one second: number the pages of that second
                page += 1


def _second_before(stamp: str) -> str:
    """'2026-11-24T15:30:12' → '2026-11-24T15:30:11' (WooCommerce's modified_after is strict)."""
    parsed = dt.datetime.fromisoformat(stamp.replace("Z", ""))
    return (parsed - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")


def parse_json_or_malformed(body: bytes) -> Any:
    try:
        return signatures.json_body(body)
    except Rejected as exc:
        raise Malformed(exc.reason) from None


PLATFORM = WooCommerce()
SOURCE = OrderSource(PLATFORM, verify)
