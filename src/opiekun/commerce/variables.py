"""`{{ order.* }}` in macros: the case's order as the customer should read it, in their language.

Variables: number, status, total, tracking_number, tracking_link, carrier, expected_delivery,
invoice_number, invoice_link. The order is the one the case is linked to (its order reference), else
the customer's newest. Status words and dates follow the customer's language (the case's, else the
contact's, else the shop's default), whatever language the agent's desk is in.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone, translation
from django.utils.formats import date_format

from opiekun.conversations.models import Conversation

from .models import Order
from .selectors import orders_by_numbers


def _order_for(conversation: Conversation) -> Order | None:
    if conversation.order_ref:
        numbered = orders_by_numbers(shop_id=conversation.shop_id, numbers=[conversation.order_ref])
        found = [o for orders in numbered.values() for o in orders]
        found.sort(key=lambda o: o.contact_id != conversation.contact_id)
        return found[0] if found else None
    return (
        Order.objects.filter(shop_id=conversation.shop_id, contact_id=conversation.contact_id)
        .order_by("-placed_at")
        .first()
    )


def order_variables(conversation: Conversation) -> dict[str, Any]:
    """The `order` macro variables for `conversation` (reads its order, shipments and invoices)."""
    order = _order_for(conversation)
    if order is None:
        return {"number": conversation.order_ref}
    language = conversation.language or conversation.contact.language or conversation.shop.default_language
    shipment = order.shipments.order_by("-id").first()
    invoice = order.invoices.order_by("-id").first()
    with translation.override(language or None):
        expected = ""
        if shipment is not None and shipment.promised_at is not None:
            expected = date_format(timezone.localtime(shipment.promised_at), "j E Y")
        return {
            "number": order.number,
            "status": str(order.get_status_display()),
            "total": f"{order.total} {order.currency}".strip(),
            "placed": date_format(timezone.localtime(order.placed_at), "j E Y"),
            "carrier": shipment.carrier if shipment else "",
            "tracking_number": shipment.tracking_number if shipment else "",
            "tracking_link": shipment.tracking_url if shipment else "",
            "shipment_status": str(shipment.get_status_display()) if shipment else "",
            "expected_delivery": expected,
            "invoice_number": invoice.number if invoice else "",
            "invoice_link": invoice.pdf_url if invoice else "",
        }
