"""An Inbox is one configured instance of a channel kind (the shop's contact form, its support mailbox…)."""

from __future__ import annotations

from django.db import models


class Inbox(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="inboxes")
    kind = models.CharField(max_length=12)
    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        "agents.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inboxes",
        help_text="The queue new conversations fall into when no caretaker takes them.",
    )
    # Per-kind settings, validated by the driver's Config; secrets live apart and never in logs/API.
    config = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="inbox_unique_name_per_shop")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def __repr__(self) -> str:  # never print secrets
        return f"<Inbox {self.pk} {self.kind} {self.name!r}>"
