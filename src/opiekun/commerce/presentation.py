"""How the commerce mirror reads in the desk: timeline sentences for order events, health lines.

The desk's timeline asks `event_text` for every `order.*` event, so these words live in this app's
catalogue (Polish and Russian beside the code that writes the events).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

EVENT_ICONS = {
    "order.placed": "i-box",
    "order.paid": "i-check",
    "order.shipped": "i-send",
    "order.delivered": "i-check",
    "order.delayed": "i-alert",
    "order.refunded": "i-arrow-right",
    "order.cancelled": "i-x",
}


def _tracking(d: dict[str, Any]) -> str:
    parts = [p for p in (d.get("carrier"), d.get("tracking_number")) if p]
    return " ".join(parts)


def event_text(kind: str, d: dict[str, Any]) -> str | None:
    """One sentence for an order event on the timeline; None for kinds this app does not write."""
    order = d.get("order", "")
    match kind:
        case "order.placed":
            total = f"{d.get('total', '')} {d.get('currency', '')}".strip()
            return _("Order %(order)s placed · %(total)s") % {"order": order, "total": total}
        case "order.paid":
            return _("Order %(order)s paid") % {"order": order}
        case "order.shipped":
            tracking = _tracking(d)
            text = _("Order %(order)s shipped") % {"order": order}
            return f"{text} · {tracking}" if tracking else text
        case "order.delivered":
            return _("Order %(order)s delivered") % {"order": order}
        case "order.delayed":
            return _("Order %(order)s is late: not delivered by the promised date") % {"order": order}
        case "order.refunded":
            amount = f"{d.get('amount', '')} {d.get('currency', '')}".strip()
            return _("Order %(order)s refunded · %(amount)s") % {"order": order, "amount": amount}
        case "order.cancelled":
            return _("Order %(order)s cancelled") % {"order": order}
    return None


def event_icon(kind: str) -> str:
    return EVENT_ICONS.get(kind, "i-box")


def linked_notice(number: str) -> str:
    return _("Case linked to order %(order)s.") % {"order": number}


def sync_queued_notice() -> str:
    return _("Catch-up started; the orders appear as they are fetched.")


def connector_created_notice() -> str:
    return _("Connector created. Set up the webhook in the shop with the address and secret below.")
