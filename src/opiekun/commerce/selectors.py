"""Reads of the commerce mirror: a customer's orders for the 360 panel, connectors and their health."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Prefetch, QuerySet

from opiekun.conversations.models import Conversation
from opiekun.core.bulk import marks
from opiekun.core.errors import NotFound
from opiekun.webhooks.models import Endpoint
from opiekun.webhooks.selectors import Health, endpoint_health

from .models import Connector, Order, Shipment

REMEMBER_CONNECTOR = 5.0  # seconds: processing batches of one endpoint come many times a second
_by_endpoint: dict[int, tuple[float, Connector | None]] = {}


def connector_for_endpoint(endpoint: Endpoint) -> Connector | None:
    """The connector receiving on `endpoint` (same shop by construction: it was created with it); one
    query per endpoint per REMEMBER_CONNECTOR seconds. Only its id and shop are used by processing."""
    now = time.monotonic()
    hit = _by_endpoint.get(endpoint.pk)
    if hit is not None and now - hit[0] < REMEMBER_CONNECTOR:
        return hit[1]
    connector = (
        Connector.objects.filter(endpoint=endpoint, shop_id=endpoint.shop_id, is_active=True)
        .select_related("shop")
        .first()
    )
    if len(_by_endpoint) > 1000:
        _by_endpoint.clear()
    _by_endpoint[endpoint.pk] = (now, connector)
    return connector


def forget_connectors() -> None:
    _by_endpoint.clear()


def connectors_of_shop(*, shop_id: int) -> list[Connector]:
    return list(Connector.objects.filter(shop_id=shop_id).select_related("endpoint").order_by("id"))


def access_connector(*, shop_id: int, connector_id: int) -> Connector:
    connector = Connector.objects.filter(shop_id=shop_id, pk=connector_id).select_related("endpoint").first()
    if connector is None:
        raise NotFound("No such connector.")
    return connector


def _orders(shop_id: int) -> QuerySet[Order]:
    return Order.objects.filter(shop_id=shop_id).prefetch_related(
        "lines",
        Prefetch("shipments", queryset=Shipment.objects.order_by("id")),
        "payments",
        "invoices",
        "returns",
    )


def contact_orders(*, shop_id: int, contact_id: int, limit: int = 10) -> list[Order]:
    """The customer's newest orders with lines, shipments, payments, invoices and returns (6 queries)."""
    return list(_orders(shop_id).filter(contact_id=contact_id).order_by("-placed_at", "-id")[:limit])


def access_order(*, shop_id: int, order_id: int) -> Order:
    order = _orders(shop_id).filter(pk=order_id).first()
    if order is None:
        raise NotFound("No such order.")
    return order


def orders_by_numbers(*, shop_id: int, numbers: list[str]) -> dict[str, list[Order]]:
    """Orders of the shop numbered one of `numbers`, by their number without a leading '#' (newest
    first): one query for the numbers many messages mention. It runs after every batch of chat lines
    that mention a number, mostly finding none: the look-up is SQL written out, the ORM loads hits."""
    wanted = {n.strip().lstrip("#") for n in numbers if n.strip().lstrip("#")}
    if not wanted:
        return {}
    spelled = [*wanted, *("#" + n for n in wanted)]
    table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE shop_id = %s AND number IN ({marks(len(spelled))})",
            [shop_id, *spelled],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
    found: dict[str, list[Order]] = {}
    if ids:
        for order in Order.objects.filter(shop_id=shop_id, pk__in=ids).order_by("-placed_at"):
            found.setdefault(order.number.lstrip("#"), []).append(order)
    return found


_CANDIDATE = re.compile(r"(?<![\w/@.-])#?([A-Za-z]{0,6}[-/]?\d[\d-]{2,19})(?![\w@])")


# Phone numbers and dates written in groups ("501 222 333", "+48 22-100-20-30", "2026-11-05"): not orders.
_GROUPED_DIGITS = re.compile(r"(?<![\w-])\+?\d{2,4}(?:[ .-]\d{2,4}){2,4}(?![\w-])")


def order_number_candidates(text: str) -> list[str]:
    """Words that look like order numbers ('SD-10452', '#1001', '100234') in a message, in order."""
    seen: list[str] = []
    for match in _CANDIDATE.finditer(_GROUPED_DIGITS.sub(" ", text or "")):
        token = match.group(1).rstrip("-")
        if token not in seen:
            seen.append(token)
    return seen[:20]


@dataclass(frozen=True)
class ConnectorHealth:
    connector: Connector
    webhook: Health | None
    last_sync_at: datetime | None
    last_error: str
    orders: int


def connector_health(connector: Connector) -> ConnectorHealth:
    """Last webhook, pending/failed deliveries, last catch-up and its error, orders mirrored."""
    return ConnectorHealth(
        connector=connector,
        webhook=endpoint_health(connector.endpoint) if connector.endpoint else None,
        last_sync_at=connector.last_sync_at,
        last_error=connector.last_error,
        orders=Order.objects.filter(connector=connector).count(),
    )


def order_conversations(
    *, shop_id: int, contact_id: int, numbers: list[str]
) -> dict[str, list[Conversation]]:
    """The customer's cases linked to each of these order numbers (by the case's order reference)."""
    wanted = {n.lstrip("#") for n in numbers if n}
    if not wanted:
        return {}
    refs = wanted | {"#" + n for n in wanted}
    found: dict[str, list[Conversation]] = {}
    for c in Conversation.objects.filter(
        shop_id=shop_id, contact_id=contact_id, order_ref__in=refs, merged_into__isnull=True
    ).order_by("-last_message_at")[:50]:
        found.setdefault(c.order_ref.lstrip("#"), []).append(c)
    return found
