"""Writing normalised orders: a whole batch in a handful of statements, idempotent, newest wins.

`orders_upsert` is what both the webhook processing and the catch-up call. Per batch it reads the
orders it already has (one query) and their shipments (one), matches customers to contacts (a few,
through `contacts_identify_many`), inserts new orders and updates changed ones in one statement
each, replaces lines/payments/invoices/returns, merges shipments (keeping their status history) and
appends timeline events for what *changed* — so a replayed or re-fetched order writes no second
"paid" or "shipped". An update older than what is stored (the platform's modified stamp) is ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from opiekun.contacts import normalise
from opiekun.contacts.models import Contact, Identity
from opiekun.contacts.normalise import Address
from opiekun.contacts.services import Identify, contacts_identify_many
from opiekun.conversations.models import Event
from opiekun.conversations.timeline import event_build
from opiekun.core import clock
from opiekun.core.bulk import bulk_insert, bulk_set
from opiekun.core.events import publish

from .events import OrdersChanged
from .models import (
    Connector,
    Invoice,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentState,
    Return,
    Shipment,
    ShipmentStatus,
)
from .records import OrderRecord, ShipmentRecord

ORDER_FIELDS = [
    "number",
    "contact",
    "status",
    "platform_status",
    "payment_state",
    "currency",
    "total",
    "shipping_total",
    "customer_name",
    "customer_email",
    "customer_phone",
    "admin_url",
    "placed_at",
    "paid_at",
    "source_updated_at",
    "synced_at",
]
SHIPMENT_FIELDS = [
    "carrier",
    "tracking_number",
    "tracking_url",
    "status",
    "history",
    "shipped_at",
    "promised_at",
    "delivered_at",
    "delay_noted_at",
]
_PAID = {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED}
_REFUNDED = {PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED}
_ON_THE_WAY = {ShipmentStatus.SHIPPED, ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.READY_FOR_PICKUP}


@dataclass
class Upserted:
    created: int = 0
    updated: int = 0
    stale: int = 0  # older than what is stored: ignored
    events: int = 0
    orders: list[Order] = field(default_factory=list)


def _newer(a: OrderRecord, b: OrderRecord) -> bool:
    if a.updated_at is None or b.updated_at is None:
        return True  # no stamps: the later one in the batch is the current state
    return a.updated_at >= b.updated_at


def _stale(record: OrderRecord, order: Order | None) -> bool:
    return (
        order is not None
        and order.source_updated_at is not None
        and record.updated_at is not None
        and record.updated_at < order.source_updated_at
    )


def _addresses(record: OrderRecord) -> list[Address]:
    found = []
    if record.customer.email:
        try:
            found.append(Address(Identity.Kind.EMAIL, normalise.email(record.customer.email)))
        except ValueError:
            pass
    if record.customer.phone:
        try:
            found.append(Address(Identity.Kind.PHONE, normalise.phone(record.customer.phone)))
        except ValueError:
            pass
    return found


def orders_upsert(*, connector: Connector, records: Iterable[OrderRecord]) -> Upserted:
    """Create or update the connector's orders from `records` (touches orders and their parts, contacts,
    identities and timeline events; publishes OrdersChanged)."""
    latest: dict[str, OrderRecord] = {}
    for record in records:
        current = latest.get(record.external_id)
        if current is None or _newer(record, current):
            latest[record.external_id] = record
    result = Upserted()
    if not latest:
        return result
    now = clock.now()
    with transaction.atomic():
        existing = {
            o.external_id: o for o in Order.objects.filter(connector=connector, external_id__in=list(latest))
        }
        todo = []
        for record in latest.values():
            if _stale(record, existing.get(record.external_id)):
                result.stale += 1
            else:
                todo.append(record)
        if not todo:
            return result
        contacts = _contacts(connector, todo, existing)
        old_shipments: dict[tuple[int, str], Shipment] = {}
        known_ids = [existing[r.external_id].pk for r in todo if r.external_id in existing]
        if known_ids:
            for s in Shipment.objects.filter(order_id__in=known_ids):
                old_shipments[(s.order_id, s.external_id)] = s
        new_orders: list[Order] = []
        changed: list[Order] = []
        befores: list[tuple[Order, OrderRecord, _Before | None]] = []
        for record in todo:
            order = existing.get(record.external_id)
            before = _Before(order.status, order.payment_state) if order is not None else None
            if order is None:
                order = Order(shop_id=connector.shop_id, connector=connector, external_id=record.external_id)
                new_orders.append(order)
            else:
                changed.append(order)
            _fill(order, record, contacts.get(record.external_id), now)
            befores.append((order, record, before))
        bulk_insert(new_orders)
        bulk_set(changed, ORDER_FIELDS)
        _replace_parts(changed, todo_by_id={o.pk: r for o, r, _ in befores})
        events: list[Event] = []
        new_shipments: list[Shipment] = []
        updated_shipments: list[Shipment] = []
        for order, record, before in befores:
            events += _order_events(order, record, before, now)
            merged: dict[str, Shipment] = {}  # a parcel listed twice in one payload is one parcel
            for srec in record.shipments:
                old = merged.get(srec.external_id)
                if old is None and before is not None:
                    old = old_shipments.get((order.pk, srec.external_id))
                shipment, notes = _merge_shipment(order, old, srec, now)
                if srec.external_id not in merged:
                    (updated_shipments if old is not None else new_shipments).append(shipment)
                merged[srec.external_id] = shipment
                events += [timeline_event(order, kind, at, shipment) for kind, at in notes]
        bulk_insert(new_shipments)
        bulk_set(updated_shipments, SHIPMENT_FIELDS)
        bulk_insert([e for e in events if e.contact_id])  # no contact, no timeline to write on
        result.created, result.updated, result.events = len(new_orders), len(changed), len(events)
        result.orders = [o for o, _, _ in befores]
        contact_ids = sorted({o.contact_id for o in result.orders if o.contact_id})
        publish(OrdersChanged(shop_id=connector.shop_id, connector_id=connector.pk, contact_ids=contact_ids))
    return result


def shipments_upsert(*, connector: Connector, updates: Iterable[tuple[str, ShipmentRecord]]) -> list[str]:
    """Merge shipment updates that arrive on their own (Shopify's fulfillments/* webhooks) into the
    connector's orders, with their timeline events; returns the order ids not mirrored yet (the
    catch-up brings those orders with their shipments)."""
    updates = list(updates)
    if not updates:
        return []
    now = clock.now()
    with transaction.atomic():
        orders = {
            o.external_id: o
            for o in Order.objects.filter(connector=connector, external_id__in={i for i, _ in updates})
        }
        old = {
            (s.order_id, s.external_id): s for s in Shipment.objects.filter(order__in=list(orders.values()))
        }
        new_shipments: list[Shipment] = []
        changed: dict[tuple[int, str], Shipment] = {}
        events: list[Event] = []
        for order_id, record in updates:
            order = orders.get(order_id)
            if order is None:
                continue
            key = (order.pk, record.external_id)
            current = changed.get(key) or old.get(key)
            shipment, notes = _merge_shipment(order, current, record, now)
            if current is None:
                new_shipments.append(shipment)
                old[key] = shipment
            elif shipment.pk:
                changed[key] = shipment
            events += [timeline_event(order, kind, at, shipment) for kind, at in notes]
        bulk_insert(new_shipments)
        bulk_set(list(changed.values()), SHIPMENT_FIELDS)
        delivered = []
        for order in orders.values():
            mine = [s for (oid, _), s in old.items() if oid == order.pk]  # every parcel, as merged above
            all_there = mine and all(s.status == ShipmentStatus.DELIVERED for s in mine)
            if all_there and order.status != OrderStatus.DELIVERED:
                order.status = OrderStatus.DELIVERED
                delivered.append(order)
        bulk_set(delivered, ["status"])
        bulk_insert([e for e in events if e.contact_id])
        contact_ids = sorted({o.contact_id for o in orders.values() if o.contact_id})
        publish(OrdersChanged(shop_id=connector.shop_id, connector_id=connector.pk, contact_ids=contact_ids))
    return sorted({i for i, _ in updates} - set(orders))


@dataclass(frozen=True)
class _Before:
    status: str
    payment_state: str


def _contacts(
    connector: Connector, records: list[OrderRecord], existing: dict[str, Order]
) -> dict[str, int | None]:
    """The contact of each record: the one already linked, else found or created by e-mail/phone."""
    found: dict[str, int | None] = {}
    asks: list[tuple[str, Identify]] = []
    for record in records:
        order = existing.get(record.external_id)
        if order is not None and order.contact_id:
            found[record.external_id] = order.contact_id
            continue
        addresses = _addresses(record)
        if addresses:
            asks.append(
                (
                    record.external_id,
                    Identify(
                        addresses=addresses, name=record.customer.name, language=record.customer.language
                    ),
                )
            )
        else:
            found[record.external_id] = None
    if asks:
        shop = connector.shop
        matched: list[Contact] = contacts_identify_many(shop=shop, requests=[ask for _, ask in asks])
        for (external_id, _ask), contact in zip(asks, matched, strict=True):
            found[external_id] = contact.pk
    return found


def _fill(order: Order, record: OrderRecord, contact_id: int | None, now: dt.datetime) -> None:
    order.number = record.number[:64]
    order.contact_id = contact_id
    order.status = record.status
    order.platform_status = record.platform_status[:60]
    order.payment_state = record.payment_state
    order.currency = record.currency[:3].upper()
    order.total = record.total
    order.shipping_total = record.shipping_total
    order.customer_name = record.customer.name[:200]
    order.customer_email = record.customer.email[:320]
    order.customer_phone = record.customer.phone[:40]
    order.admin_url = record.admin_url[:500]
    order.placed_at = record.placed_at
    order.paid_at = record.paid_at
    order.source_updated_at = record.updated_at
    order.synced_at = now


def _replace_parts(changed: list[Order], *, todo_by_id: dict[int, OrderRecord]) -> None:
    """Lines, payments, invoices and returns are the platform's current list: replace them whole."""
    ids = [o.pk for o in changed]
    if ids:
        for model in (OrderLine, Payment, Invoice, Return):
            model.objects.filter(order_id__in=ids).delete()  # type: ignore[attr-defined]
    lines, payments, invoices, returns = [], [], [], []
    for order_id, r in todo_by_id.items():
        lines += [
            OrderLine(
                order_id=order_id,
                sku=line.sku[:100],
                name=line.name[:300],
                quantity=line.quantity,
                unit_price=line.unit_price,
                total=line.total,
                position=i,
            )
            for i, line in enumerate(r.lines)
        ]
        payments += [
            Payment(
                order_id=order_id,
                method=p.method[:100],
                amount=p.amount,
                is_refund=p.is_refund,
                paid_at=p.paid_at,
            )
            for p in r.payments
        ]
        invoices += [
            Invoice(order_id=order_id, number=i.number[:100], issued_at=i.issued_at, pdf_url=i.pdf_url[:500])
            for i in r.invoices
        ]
        returns += [
            Return(
                order_id=order_id,
                external_id=x.external_id[:100],
                status=x.status[:60],
                reason=x.reason[:300],
                amount=x.amount,
                created_at=x.created_at,
            )
            for x in r.returns
        ]
    for rows in (lines, payments, invoices, returns):
        bulk_insert(rows)  # type: ignore[type-var]


def _merge_shipment(
    order: Order, old: Shipment | None, record: ShipmentRecord, now: dt.datetime
) -> tuple[Shipment, list[tuple[str, dt.datetime]]]:
    """The shipment as stored after `record`, and the timeline events its change calls for."""
    shipment = old or Shipment(shop_id=order.shop_id, order=order, external_id=record.external_id[:100])
    before = old.status if old is not None else None
    shipment.carrier = record.carrier[:100] or shipment.carrier
    shipment.tracking_number = record.tracking_number[:100] or shipment.tracking_number
    shipment.tracking_url = record.tracking_url[:500] or shipment.tracking_url
    shipment.status = record.status
    shipment.shipped_at = record.shipped_at or shipment.shipped_at
    shipment.promised_at = record.promised_at or shipment.promised_at
    shipment.delivered_at = record.delivered_at or shipment.delivered_at
    at = record.status_at or (record.delivered_at if record.status == ShipmentStatus.DELIVERED else None)
    at = at or record.shipped_at or now
    history = list(shipment.history or [])
    if before != record.status:
        history.append({"status": record.status, "at": at.isoformat()})
    shipment.history = history
    notes: list[tuple[str, dt.datetime]] = []
    if before != record.status:
        if record.status in _ON_THE_WAY and before in (None, ShipmentStatus.PREPARING):
            notes.append(("order.shipped", record.shipped_at or at))
        if record.status == ShipmentStatus.DELIVERED:
            if before in (None, ShipmentStatus.PREPARING):
                notes.append(("order.shipped", record.shipped_at or at))
            notes.append(("order.delivered", record.delivered_at or at))
        if (
            record.status in (ShipmentStatus.FAILED, ShipmentStatus.RETURNED)
            and shipment.delay_noted_at is None
        ):
            shipment.delay_noted_at = now
            notes.append(("order.delayed", at))
    if (
        shipment.delay_noted_at is None
        and shipment.delivered_at is None
        and shipment.promised_at is not None
        and shipment.promised_at < now
        and record.status != ShipmentStatus.DELIVERED
    ):
        shipment.delay_noted_at = now
        notes.append(("order.delayed", now))
    return shipment, notes


def _order_events(order: Order, record: OrderRecord, before: _Before | None, now: dt.datetime) -> list[Event]:
    events = []
    if before is None:
        events.append(timeline_event(order, "order.placed", record.placed_at))
    was_paid = before is not None and before.payment_state in _PAID
    if record.payment_state in _PAID and not was_paid:
        events.append(timeline_event(order, "order.paid", record.paid_at or now))
    was_refunded = before is not None and before.payment_state in _REFUNDED
    if record.payment_state in _REFUNDED and not was_refunded:
        refunds = [p for p in record.payments if p.is_refund]
        at = max((p.paid_at for p in refunds if p.paid_at), default=None) or record.updated_at or now
        events.append(timeline_event(order, "order.refunded", at, amount=str(sum(p.amount for p in refunds))))
    if record.status == OrderStatus.CANCELLED and (before is None or before.status != OrderStatus.CANCELLED):
        events.append(timeline_event(order, "order.cancelled", record.updated_at or now))
    finished = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
    if (
        not record.shipments
        and record.status in finished
        and (before is None or before.status not in finished)
    ):
        events.append(timeline_event(order, "order.shipped", record.updated_at or now))
    if (
        not record.shipments
        and record.status == OrderStatus.DELIVERED
        and (before is None or before.status != OrderStatus.DELIVERED)
    ):
        events.append(timeline_event(order, "order.delivered", record.updated_at or now))
    return events


def timeline_event(
    order: Order, kind: str, at: dt.datetime | None, shipment: Shipment | None = None, **extra: Any
) -> Event:
    """An unsaved `order.*` timeline event on the order's customer, dated when it happened (never later
    than now); the shipment's carrier and tracking number ride along."""
    data: dict[str, Any] = {
        "order": order.number,
        "order_id": order.pk,
        "total": str(order.total),
        "currency": order.currency,
        **extra,
    }
    if shipment is not None:
        data.update(
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
        )
    event = event_build(shop_id=order.shop_id, kind=kind, contact=order.contact_id, data=data)
    event.created_at = min(
        at or event.created_at, event.created_at
    )  # the platform's moment, never the future
    return event
