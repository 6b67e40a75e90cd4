"""The generic JSON webhook: any shop can post its orders in Opiekun's own format (docs/commerce/generic.md).

Signed like Stripe's and GitHub's: `X-Opiekun-Timestamp: <unix seconds>` and
`X-Opiekun-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` under the endpoint's secret;
a timestamp more than TOLERANCE seconds away is refused, so a captured request cannot be replayed
later. The event `id` de-duplicates. The schema is strict: an unknown field is a 400 naming it, so a
typo in the sender's code never passes silently. The optional catch-up reads
`GET <base_url>?updated_after=<iso>&cursor=<c>` answering `{"orders": [...], "next_cursor": ...}`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
)
from .base import ApiClient, OrderSource, Page

if TYPE_CHECKING:
    from opiekun.webhooks.models import Delivery

    from ..models import Connector

NAME = "generic-commerce"
TOLERANCE = 300  # seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GCustomer(_Strict):
    email: str = ""
    phone: str = ""
    name: str = ""
    language: str = Field(default="", max_length=8)


class GLine(_Strict):
    name: str = Field(max_length=300)
    quantity: Decimal = Decimal(1)
    unit_price: Decimal = Decimal(0)
    total: Decimal | None = None
    sku: str = ""


class GShipment(_Strict):
    id: str
    status: Literal[
        "preparing", "shipped", "out_for_delivery", "ready_for_pickup", "delivered", "failed", "returned"
    ]
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    shipped_at: dt.datetime | None = None
    promised_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None


class GPayment(_Strict):
    amount: Decimal
    method: str = ""
    refund: bool = False
    paid_at: dt.datetime | None = None


class GInvoice(_Strict):
    number: str
    issued_at: dt.datetime | None = None
    pdf_url: str = ""


class GReturn(_Strict):
    id: str = ""
    status: str = ""
    reason: str = ""
    amount: Decimal = Decimal(0)
    created_at: dt.datetime | None = None


class GOrder(_Strict):
    id: str = Field(min_length=1, max_length=100)
    number: str = Field(min_length=1, max_length=64)
    status: Literal[
        "placed", "paid", "processing", "shipped", "delivered", "on_hold", "cancelled", "refunded", "failed"
    ]
    payment_status: Literal["unpaid", "paid", "partially_refunded", "refunded"] = "unpaid"
    currency: str = Field(default="", max_length=3)
    total: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    placed_at: dt.datetime
    updated_at: dt.datetime
    paid_at: dt.datetime | None = None
    url: str = ""
    customer: GCustomer = GCustomer()
    lines: list[GLine] = []
    shipments: list[GShipment] = []
    payments: list[GPayment] = []
    invoices: list[GInvoice] = []
    returns: list[GReturn] = []


class GEvent(_Strict):
    id: str = Field(min_length=1, max_length=150)
    type: Literal["order.created", "order.updated"]
    occurred_at: dt.datetime | None = None
    order: GOrder


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" + (
        f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    )


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers a sender adds (also what docs/commerce/generic.md shows, and what the tests use)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Opiekun-Timestamp": stamp, "X-Opiekun-Signature": f"sha256={digest}"}


def verify(incoming: Incoming) -> Accepted:
    stamp = incoming.headers.get("X-Opiekun-Timestamp", "")
    given = incoming.headers.get("X-Opiekun-Signature", "")
    if not given or not stamp:
        raise Rejected(401, "missing X-Opiekun-Signature or X-Opiekun-Timestamp")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE:
        raise Rejected(401, "timestamp missing or more than 5 minutes off")
    expected = (
        sign(incoming.secret, incoming.body, int(stamp))["X-Opiekun-Signature"] if incoming.secret else ""
    )
    signatures.must_match(given, expected)
    payload = signatures.json_body(incoming.body)
    try:
        event = GEvent.model_validate(payload)
    except ValidationError as exc:
        raise Rejected(400, _reason(exc)) from None
    return Accepted(key=event.id, topic=event.type)


def normalise_order(order: GOrder) -> OrderRecord:
    return OrderRecord(
        external_id=order.id,
        number=order.number,
        status=OrderStatus(order.status),
        payment_state=PaymentState(order.payment_status),
        placed_at=_aware(order.placed_at),  # type: ignore[arg-type]
        updated_at=_aware(order.updated_at),
        platform_status=order.status,
        currency=order.currency,
        total=order.total,
        shipping_total=order.shipping_total,
        paid_at=_aware(order.paid_at),
        customer=Customer(**order.customer.model_dump()),
        admin_url=order.url,
        lines=tuple(
            LineRecord(
                name=li.name,
                quantity=li.quantity,
                unit_price=li.unit_price,
                total=li.total if li.total is not None else li.unit_price * li.quantity,
                sku=li.sku,
            )
            for li in order.lines
        ),
        shipments=tuple(
            ShipmentRecord(
                external_id=s.id,
                status=ShipmentStatus(s.status),
                carrier=s.carrier,
                tracking_number=s.tracking_number,
                tracking_url=s.tracking_url,
                shipped_at=_aware(s.shipped_at),
                promised_at=_aware(s.promised_at),
                delivered_at=_aware(s.delivered_at),
            )
            for s in order.shipments
        ),
        payments=tuple(
            PaymentRecord(amount=p.amount, method=p.method, is_refund=p.refund, paid_at=_aware(p.paid_at))
            for p in order.payments
        ),
        invoices=tuple(
            InvoiceRecord(number=i.number, issued_at=_aware(i.issued_at), pdf_url=i.pdf_url)
            for i in order.invoices
        ),
        returns=tuple(
            ReturnRecord(
                external_id=r.id,
                status=r.status,
                reason=r.reason,
                amount=r.amount,
                created_at=_aware(r.created_at),
            )
            for r in order.returns
        ),
    )


class Generic:
    name = NAME
    credential_fields: tuple[str, ...] = ("api_token",)

    def records(self, delivery: Delivery) -> list[OrderRecord]:
        try:
            event = GEvent.model_validate_json(bytes(delivery.body))
        except ValidationError as exc:
            raise Malformed(_reason(exc)) from None
        return [normalise_order(event.order)]

    def pages(self, connector: Connector, http: ApiClient) -> Iterator[Page]:
        if not connector.base_url:
            return
        since = connector.cursor.get("updated_after", "")
        cursor = connector.cursor.get("cursor")
        newest = connector.cursor.get("newest", since)
        headers = {"Authorization": f"Bearer {connector.credentials.get('api_token', '')}"}
        while True:
            params: dict[str, Any] = {"updated_after": since}
            if cursor:
                params["cursor"] = cursor
            data = http.request("GET", connector.base_url, params=params, headers=headers).json()
            try:
                orders = [GOrder.model_validate(o) for o in data.get("orders", [])]
            except (ValidationError, AttributeError) as exc:
                raise Malformed(f"catch-up page: {exc}") from None
            for o in orders:
                newest = max(newest, _aware(o.updated_at).isoformat())  # type: ignore[union-attr]
            cursor = data.get("next_cursor")
            records = [normalise_order(o) for o in orders]
            if cursor:
                yield Page(records, {"updated_after": since, "cursor": cursor, "newest": newest})
            else:
                yield Page(records, {"updated_after": newest})
                return


PLATFORM = Generic()
SOURCE = OrderSource(PLATFORM, verify)
