"""The shop platforms' orders mirrored next to the conversations: what the agent needs to see, no more.

A Connector is one connected platform account (a WooCommerce store, a Shopify shop, a BaseLinker
account, a shop posting our generic JSON). Its webhooks arrive through `opiekun.webhooks` and its
catch-up pages the platform's API from `cursor`. Orders are upserted by the platform's id, never
duplicated; lines, payments, invoices and returns are replaced with each newer version of the order,
shipments keep their status history.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opiekun.core.secretbox import SealedJSONField


class Platform(models.TextChoices):
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    SHOPIFY = "shopify", "Shopify"
    BASELINKER = "baselinker", "BaseLinker"
    GENERIC = "generic-commerce", _("Other shop (generic JSON webhook)")


class Connector(models.Model):
    """One platform account of a shop: its credentials (sealed), its webhook endpoint and sync cursor."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    platform = models.CharField(_("platform"), max_length=40, choices=Platform.choices)
    label = models.CharField(_("label"), max_length=120, blank=True)
    base_url = models.URLField(_("shop address"), max_length=300, blank=True)
    credentials = SealedJSONField()  # API keys / tokens, sealed at rest, never shown back
    endpoint = models.OneToOneField(
        "webhooks.Endpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)
    cursor = models.JSONField(default=dict, blank=True)  # where the catch-up resumes (platform-specific)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_count = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label or f"{self.get_platform_display()} #{self.pk}"

    def __repr__(self) -> str:  # credentials never printed
        return f"<Connector {self.pk} {self.platform} shop={self.shop_id}>"


class OrderStatus(models.TextChoices):
    """Opiekun's own words for where an order is; each platform's statuses map onto these."""

    PLACED = "placed", _("Placed")
    PAID = "paid", _("Paid")
    PROCESSING = "processing", _("Being prepared")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    ON_HOLD = "on_hold", _("On hold")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")
    FAILED = "failed", _("Payment failed")


class PaymentState(models.TextChoices):
    UNPAID = "unpaid", _("Not paid")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partly refunded")
    REFUNDED = "refunded", _("Refunded")


class Order(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=100)  # the platform's id (unique per connector)
    number = models.CharField(_("order number"), max_length=64)  # what the customer sees and quotes
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    platform_status = models.CharField(max_length=60, blank=True)
    payment_state = models.CharField(max_length=20, choices=PaymentState.choices, default=PaymentState.UNPAID)
    currency = models.CharField(max_length=3, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    customer_name = models.CharField(max_length=200, blank=True)
    customer_email = models.CharField(max_length=320, blank=True)
    customer_phone = models.CharField(max_length=40, blank=True)
    admin_url = models.URLField(max_length=500, blank=True)
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # The platform's own "modified" stamp: an older update arriving late never overwrites a newer one.
    source_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "external_id"], name="order_once_per_connector")
        ]
        indexes = [
            models.Index(fields=["shop", "number"], name="order_shop_number"),
            models.Index(fields=["contact", "-placed_at"], name="order_contact_recent"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "position"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"


class ShipmentStatus(models.TextChoices):
    PREPARING = "preparing", _("Being prepared")
    SHIPPED = "shipped", _("On its way")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Delivery problem")
    RETURNED = "returned", _("Returned to sender")


class Shipment(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    external_id = models.CharField(max_length=100)
    carrier = models.CharField(_("carrier"), max_length=100, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=100, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.SHIPPED)
    history = models.JSONField(default=list, blank=True)  # [{"status": ..., "at": iso}], oldest first
    shipped_at = models.DateTimeField(null=True, blank=True)
    promised_at = models.DateTimeField(null=True, blank=True)  # the delivery date the customer was given
    delivered_at = models.DateTimeField(null=True, blank=True)
    delay_noted_at = models.DateTimeField(null=True, blank=True)  # "order.delayed" written once

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "external_id"], name="shipment_once")]
        indexes = [
            models.Index(
                fields=["promised_at"],
                condition=Q(delivered_at__isnull=True, delay_noted_at__isnull=True),
                name="shipment_awaiting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip()


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(max_length=100, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    is_refund = models.BooleanField(default=False)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{'-' if self.is_refund else ''}{self.amount}"


class Invoice(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="invoices")
    number = models.CharField(max_length=100)
    issued_at = models.DateTimeField(null=True, blank=True)
    pdf_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.number


class Return(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    external_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=60, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.external_id or f"return #{self.pk}"
