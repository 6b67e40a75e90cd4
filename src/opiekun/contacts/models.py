"""Contacts (customers), their identities on each channel, and their caretakers."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Contact(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=8, blank=True)
    notes = models.TextField(blank=True)
    caretaker = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="cared_contacts"
    )
    backup_caretaker = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="backup_contacts"
    )
    # After a merge the absorbed contact stays (for audit) pointing at the survivor.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "name"])]

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


class Identity(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        CHAT = "chat", _("Chat session")
        MESSENGER = "messenger", _("Messenger id")

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.CharField(max_length=320, help_text=_("Normalised: lower-case e-mail, E.164 phone."))
    is_primary = models.BooleanField(default=False)
    flagged = models.CharField(
        max_length=200, blank=True, help_text=_("Why this address is suspect (bounces).")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["shop", "kind", "value"], name="identity_unique_per_shop_kind")
        ]
        indexes = [models.Index(fields=["contact", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
