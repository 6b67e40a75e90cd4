"""Django admin for agents, teams, absences and the audit log (see shops.admin for who may use it)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from opiekun.shops.admin import ShopScopedAdmin

from .models import Absence, Agent, AuditLog, Team


@admin.register(Agent)
class AgentAdmin(ShopScopedAdmin):
    list_display = ("display_name", "username", "shop", "role", "sender_email", "capacity", "is_active")
    list_filter = ("shop", "role", "user__is_active")
    search_fields = ("display_name", "user__username", "user__email", "sender_email")
    list_select_related = ("user", "shop")
    raw_id_fields = ("user",)

    @admin.display(description=_("login"), ordering="user__username")
    def username(self, agent: Agent) -> str:
        return agent.user.get_username()

    @admin.display(boolean=True, description=_("active"), ordering="user__is_active")
    def is_active(self, agent: Agent) -> bool:
        return agent.user.is_active

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Admins of the desk may use this admin; nobody else (the same rule agent_create applies).
        staff = obj.role == Agent.Role.ADMIN or obj.user.is_superuser
        if obj.user.is_staff != staff:
            obj.user.is_staff = staff
            obj.user.save(update_fields=["is_staff"])


@admin.register(Team)
class TeamAdmin(ShopScopedAdmin):
    list_display = ("name", "shop", "lead", "member_count")
    list_filter = ("shop",)
    search_fields = ("name",)
    filter_horizontal = ("members",)

    @admin.display(description=_("members"))
    def member_count(self, team: Team) -> int:
        return team.members.count()


@admin.register(Absence)
class AbsenceAdmin(ShopScopedAdmin):
    shop_path = "agent__shop_id"
    list_display = ("agent", "starts_at", "ends_at", "reason")
    list_filter = ("agent__shop", "agent")
    search_fields = ("agent__display_name", "reason")
    date_hierarchy = "starts_at"


@admin.register(AuditLog)
class AuditLogAdmin(ShopScopedAdmin):
    read_only = True  # append-only record of who did what
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "ip")
    list_filter = ("shop", "action", "object_type")
    search_fields = ("action", "object_id", "actor__display_name")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
