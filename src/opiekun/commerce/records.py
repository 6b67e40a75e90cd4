"""What a connector's normaliser turns a platform payload into: plain data, no database.

Every platform's order (a WooCommerce webhook, a Shopify GraphQL node, a BaseLinker journal entry)
becomes one `OrderRecord`; `ingest.orders_upsert` writes them. Normalisers are pure functions and
raise `Malformed` (with the reason) for a payload they cannot read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any


class Malformed(ValueError):
    """A payload that is valid JSON but not the shape the platform documents."""


@dataclass(frozen=True)
class Customer:
    email: str = ""
    phone: str = ""
    name: str = ""
    language: str = ""


@dataclass(frozen=True)
class LineRecord:
    name: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal
    sku: str = ""


@dataclass(frozen=True)
class ShipmentRecord:
    external_id: str
    status: str  # a ShipmentStatus value
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    shipped_at: dt.datetime | None = None
    promised_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    status_at: dt.datetime | None = None  # when the platform says the status last changed


@dataclass(frozen=True)
class PaymentRecord:
    amount: Decimal
    method: str = ""
    is_refund: bool = False
    paid_at: dt.datetime | None = None


@dataclass(frozen=True)
class InvoiceRecord:
    number: str
    issued_at: dt.datetime | None = None
    pdf_url: str = ""


@dataclass(frozen=True)
class ReturnRecord:
    external_id: str = ""
    status: str = ""
    reason: str = ""
    amount: Decimal = Decimal(0)
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class OrderRecord:
    external_id: str
    number: str
    status: str  # an OrderStatus value
    payment_state: str  # a PaymentState value
    placed_at: dt.datetime
    updated_at: dt.datetime | None  # None: the platform has no "modified" stamp (the record is current)
    platform_status: str = ""
    currency: str = ""
    total: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    paid_at: dt.datetime | None = None
    customer: Customer = Customer()
    admin_url: str = ""
    lines: tuple[LineRecord, ...] = ()
    shipments: tuple[ShipmentRecord, ...] = ()
    payments: tuple[PaymentRecord, ...] = ()
    invoices: tuple[InvoiceRecord, ...] = ()
    returns: tuple[ReturnRecord, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


# --- small readers shared by the normalisers ------------------------------------------------------


def money(value: Any) -> Decimal:
    """'123.45' / 123.45 / None → Decimal, 2 places; Malformed for text that is not a number."""
    if value in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise Malformed(f"not an amount: {value!r}") from None


def when(value: Any, *, assume_utc: bool = True) -> dt.datetime | None:
    """An ISO 8601 text or a Unix time → an aware datetime (naive texts are UTC, as the platforms' *_gmt)."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    if not isinstance(value, str):
        raise Malformed(f"not a date: {value!r}")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Malformed(f"not a date: {value!r}") from None
    if parsed.tzinfo is None and assume_utc:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def text(value: Any, limit: int = 300) -> str:
    return ("" if value is None else str(value)).strip()[:limit]


def need(payload: Any, *keys: str) -> dict[str, Any]:
    """`payload` as a dict holding every key in `keys`; Malformed naming what is missing."""
    if not isinstance(payload, dict):
        raise Malformed("expected a JSON object")
    missing = [k for k in keys if k not in payload]
    if missing:
        raise Malformed("missing field(s): " + ", ".join(missing))
    return payload
