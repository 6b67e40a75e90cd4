"""Django admin for inboxes (see shops.admin for who may use it). An inbox's secrets never show here.

`Inbox.secrets` (API keys, mailbox passwords) is left out of every list, form and read-only view;
it is set through the channel's own setup command or screen, which validates it.
"""

from __future__ import annotations

from django.contrib import admin

from opiekun.shops.admin import ShopScopedAdmin

from .models import Inbox


@admin.register(Inbox)
class InboxAdmin(ShopScopedAdmin):
    list_display = ("name", "kind", "shop", "team", "is_active", "last_activity_at", "last_error")
    list_filter = ("shop", "kind", "is_active")
    search_fields = ("name",)
    list_select_related = ("shop", "team")
    fields = (
        "shop",
        "name",
        "kind",
        "team",
        "config",
        "is_active",
        "created_at",
        "last_activity_at",
        "last_error",
    )
    readonly_fields = ("created_at", "last_activity_at", "last_error")
    exclude = ("secrets",)

    def get_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f for f in super().get_fields(request, obj) if f != "secrets"]
