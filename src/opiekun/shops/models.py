"""Shops (brands, the tenants) and the API tokens integrations use to act for one shop."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Shop(models.Model):
    class ClosedReply(models.TextChoices):
        REOPEN = "reopen", _("Reopen the case")
        FOLLOW_UP = "follow_up", _("Start a linked follow-up case")

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    default_language = models.CharField(max_length=8, default="pl")
    sender_email = models.EmailField(blank=True, help_text=_("Default From address of the shop's replies."))
    website = models.URLField(blank=True)
    brand_color = models.CharField(max_length=7, default="#2f6f4f")
    caretaker_on_first_reply = models.BooleanField(
        default=True, help_text=_("A new contact gets the first agent who replies as caretaker.")
    )
    sla_first_response_minutes = models.PositiveIntegerField(default=240)
    closed_reply = models.CharField(max_length=12, choices=ClosedReply.choices, default=ClosedReply.REOPEN)
    # Per-shop case numbers come from this counter, bumped with an atomic F() update (never max + 1).
    conversation_seq = models.PositiveBigIntegerField(default=0)
    # Moves on (atomic F() update, in the same transaction) with every change an inbox list or count
    # shows; every web process reads it with the agent's shop, so remembered lists keyed by it are
    # never served after a change, whichever process made it (conversations/listcache.py).
    list_version = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token for integrations; only its SHA-256 is stored, the key is shown once."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
