"""Webhook endpoints (one URL and secret per connected platform account) and what arrived on them."""

from __future__ import annotations

import secrets as _secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opiekun.core.secretbox import SealedJSONField


def _token() -> str:
    return _secrets.token_urlsafe(24)


class Endpoint(models.Model):
    """Where one platform account posts its webhooks: `/hooks/<token>/`, checked with `secret`."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(_("source"), max_length=40)
    token = models.CharField(max_length=64, unique=True, default=_token, editable=False)
    secret = SealedJSONField()  # {"secret": "..."} — sealed at rest, never shown back
    label = models.CharField(_("label"), max_length=120, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Requests refused (bad signature, bad shape): the last one, so an admin sees a misconfigured sender.
    last_rejected_at = models.DateTimeField(null=True, blank=True)
    last_rejection = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return self.label or f"{self.source} #{self.pk}"

    def __repr__(self) -> str:  # never print the secret
        return f"<Endpoint {self.pk} {self.source} shop={self.shop_id}>"

    @property
    def url_path(self) -> str:
        return f"/hooks/{self.token}/"

    @property
    def signing_secret(self) -> str:
        return str((self.secret or {}).get("secret", ""))


class Delivery(models.Model):
    """One accepted request, stored before we answer 200; processed later, exactly once."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(max_length=200)
    topic = models.CharField(max_length=100, blank=True)
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "key"], name="delivery_once")]
        indexes = [
            models.Index(fields=["id"], condition=Q(processed_at__isnull=True), name="delivery_pending"),
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.topic or 'delivery'} {self.key}"

    def __repr__(self) -> str:
        return f"<Delivery {self.pk} endpoint={self.endpoint_id} key={self.key!r}>"
