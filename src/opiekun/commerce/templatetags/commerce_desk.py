"""The customer 360 panel (`{% customer_orders contact conversation %}` in the desk's side panel and on
the contact page): recent orders with lines, payment, shipments, invoices, returns and the cases about
each order. Reads through the commerce selectors (a fixed handful of queries)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from opiekun.core import clock

from ..links import shop_has_connector
from ..models import PaymentState, ShipmentStatus
from ..selectors import contact_orders, order_conversations

register = template.Library()


@register.inclusion_tag("commerce/_panel.html", takes_context=True)
def customer_orders(
    context: template.Context, contact: Any, conversation: Any = None, limit: int = 5
) -> dict[str, Any]:
    if contact is None or not shop_has_connector(contact.shop_id):
        return {"hidden": True}  # a shop without a shop connection sees no empty Orders card
    orders = contact_orders(shop_id=contact.shop_id, contact_id=contact.pk, limit=limit)
    linked_ref = (
        (getattr(conversation, "order_ref", "") or "").lstrip("#") if conversation is not None else ""
    )
    cases = order_conversations(
        shop_id=contact.shop_id, contact_id=contact.pk, numbers=[o.number for o in orders]
    )
    now = clock.now()
    rows = []
    for order in orders:
        shipments = list(order.shipments.all())
        rows.append(
            {
                "order": order,
                "linked": bool(linked_ref) and order.number.lstrip("#") == linked_ref,
                "lines": list(order.lines.all()),
                "shipments": [
                    {
                        "s": s,
                        "late": s.delivered_at is None
                        and s.status != ShipmentStatus.DELIVERED
                        and s.promised_at is not None
                        and s.promised_at < now,
                        "promised": timezone.localtime(s.promised_at) if s.promised_at else None,
                    }
                    for s in shipments
                ],
                "invoices": list(order.invoices.all()),
                "returns": list(order.returns.all()),
                "refunds": [p for p in order.payments.all() if p.is_refund],
                "paid": order.payment_state != PaymentState.UNPAID,
                "cases": [
                    c
                    for c in cases.get(order.number.lstrip("#"), [])
                    if conversation is None or c.pk != conversation.pk
                ],
            }
        )
    if rows and not any(r["linked"] for r in rows):
        rows[0]["open"] = True
    for r in rows:
        r.setdefault("open", r["linked"])
    return {
        "orders": rows,
        "conversation": conversation,
        "contact": contact,
        "csrf_token": context.get("csrf_token"),
        "list_qs": context.get("list_qs", ""),
    }
