"""Agents (a Django user with a profile in one shop), teams, absences and the audit log of their actions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Agent(models.Model):
    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        LEAD = "lead", _("Team lead")
        ADMIN = "admin", _("Administrator")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="agents")
    display_name = models.CharField(max_length=120)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    languages = models.JSONField(default=list, blank=True, help_text=_('Language codes, e.g. ["pl", "en"].'))
    signature = models.TextField(blank=True)
    sender_email = models.EmailField(blank=True, help_text=_("Replies go out from this address when set."))
    capacity = models.PositiveIntegerField(
        default=0, help_text=_("Most open conversations routed to this agent at once; 0 means no limit.")
    )
    ui_language = models.CharField(max_length=8, blank=True)
    # Telephony: the PBX extension that rings this agent, and the number customers may call back on
    # (E.164). Calls answered on either are credited to the agent; click-to-call rings it first.
    phone_extension = models.CharField(_("phone extension"), max_length=40, blank=True)
    direct_number = models.CharField(_("direct phone number"), max_length=20, blank=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Team(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(Agent, related_name="teams", blank=True)
    lead = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="team_unique_name_per_shop")]

    def __str__(self) -> str:
        return self.name


class Absence(models.Model):
    """The agent is away from `starts_at` to `ends_at`; routing skips them meanwhile."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["agent", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="absence_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent}: {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"  # noqa: RUF001 — a real dash


class AuditLog(models.Model):
    """Append-only record of what an agent (or an API token) did, for accountability."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["shop", "object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"
