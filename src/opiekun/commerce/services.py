"""Writes of the commerce mirror: connectors (with their webhook endpoint), links to conversations, delays."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from opiekun.agents.models import Agent
from opiekun.conversations.models import Conversation
from opiekun.conversations.services import conversation_link_order
from opiekun.core import clock
from opiekun.core.bulk import bulk_insert, bulk_set
from opiekun.core.errors import ValidationFailed
from opiekun.shops.models import Shop
from opiekun.webhooks.services import endpoint_create, endpoint_set_active, endpoint_set_secret

from .connectors.base import platforms
from .ingest import timeline_event
from .links import forget_shop
from .models import Connector, Order, Shipment
from .selectors import forget_connectors


@transaction.atomic
def connector_create(
    *,
    shop: Shop,
    platform: str,
    label: str = "",
    base_url: str = "",
    credentials: dict[str, Any] | None = None,
    webhook_secret: str = "",
) -> Connector:
    """A connector and its webhook endpoint (touches Connector, webhooks.Endpoint). Credentials are sealed.

    `webhook_secret`: the platform's signing secret (Shopify's app secret, WooCommerce's webhook secret);
    empty → a random one is generated for the admin to paste into the platform."""
    if platform not in platforms:
        raise ValidationFailed("Unknown shop platform.", field="platform")
    spec = platforms.get(platform)
    given = {k: str(v).strip() for k, v in (credentials or {}).items() if k in spec.credential_fields and v}
    endpoint = endpoint_create(shop=shop, source=platform, secret=webhook_secret.strip(), label=label)
    forget_shop(
        shop.pk
    )  # the 360 panel shows from now on (in this process at once, elsewhere within a minute)
    return Connector.objects.create(
        shop=shop,
        platform=platform,
        label=label.strip()[:120],
        base_url=base_url.strip(),
        credentials=given,
        endpoint=endpoint,
    )


@transaction.atomic
def connector_update(
    *,
    connector: Connector,
    credentials: dict[str, Any] | None = None,
    webhook_secret: str = "",
    is_active: bool | None = None,
) -> Connector:
    """Replace the given credentials (blank ones keep the stored value), the webhook secret, on/off."""
    spec = platforms.get(connector.platform)
    merged = dict(connector.credentials)
    merged.update(
        {k: str(v).strip() for k, v in (credentials or {}).items() if k in spec.credential_fields and v}
    )
    connector.credentials = merged
    fields = ["credentials"]
    if is_active is not None:
        connector.is_active = is_active
        fields.append("is_active")
        if connector.endpoint:
            endpoint_set_active(endpoint=connector.endpoint, active=is_active)
    connector.save(update_fields=fields)
    forget_connectors()
    if webhook_secret.strip() and connector.endpoint:
        endpoint_set_secret(endpoint=connector.endpoint, secret=webhook_secret.strip())
    return connector


def order_link_conversation(*, order: Order, conversation: Conversation, actor: Agent | None) -> Conversation:
    """Link the case to the order (its number becomes the case's order reference; a timeline event)."""
    if order.shop_id != conversation.shop_id:
        raise ValidationFailed("That order belongs to another shop.")
    return conversation_link_order(conversation=conversation, order_ref=order.number, actor=actor)


def shipments_flag_delays(*, limit: int = 500) -> int:
    """Shipments past their promised date and not delivered get one `order.delayed` event each."""
    now = clock.now()
    late = list(
        Shipment.objects.filter(promised_at__lt=now, delivered_at__isnull=True, delay_noted_at__isnull=True)
        .exclude(status="delivered")
        .select_related("order")[:limit]
    )
    if not late:
        return 0
    with transaction.atomic():
        events = []
        for shipment in late:
            shipment.delay_noted_at = now
            if shipment.order.contact_id:
                events.append(
                    timeline_event(
                        shipment.order,
                        "order.delayed",
                        now,
                        shipment,
                        promised=shipment.promised_at.isoformat() if shipment.promised_at else "",
                    )
                )
        bulk_set(late, ["delay_noted_at"])
        bulk_insert(events)
    return len(late)
