"""Admin pages of telephony: the callback policy per shop; lines, calls and callbacks to look at.

Lines are created with their sealed credentials by `services.line_create` / `sms.sms_line_create`
(the credentials never appear here); calls and callbacks are histories, view only."""

from __future__ import annotations

from django.contrib import admin

from opiekun.shops.admin import ShopScopedAdmin

from .models import Call, Callback, PhoneLine, PhonePolicy


@admin.register(PhonePolicy)
class PhonePolicyAdmin(ShopScopedAdmin):
    list_display = ("shop", "callback_minutes", "max_attempts", "polish_holidays", "team")


@admin.register(PhoneLine)
class PhoneLineAdmin(ShopScopedAdmin):
    list_display = ("__str__", "shop", "provider", "purpose", "number", "is_active")
    fields = ("label", "number", "team", "is_active")


@admin.register(Call)
class CallAdmin(ShopScopedAdmin):
    read_only = True
    list_display = (
        "started_at",
        "shop",
        "direction",
        "state",
        "customer_number",
        "customer_raw",
        "answered_by",
    )
    list_filter = ("state", "direction", "provider")
    search_fields = ("customer_number", "customer_raw", "provider_call_id")


@admin.register(Callback)
class CallbackAdmin(ShopScopedAdmin):
    read_only = True
    list_display = ("number", "shop", "status", "owner", "due_at", "missed_calls", "attempts", "escalated_at")
    list_filter = ("status",)
    search_fields = ("number",)
