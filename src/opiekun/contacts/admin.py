"""Django admin for contacts and their identities (see shops.admin for who may use it).

Identities are shown, not edited here: addresses are normalised and de-duplicated by the contacts
services (the desk's "add address" and merge), which a raw admin form would bypass.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from opiekun.conversations.listcache import list_version_bump
from opiekun.conversations.services import conversations_follow_caretaker
from opiekun.shops.admin import ShopScopedAdmin

from .models import Contact, Identity


class IdentityInline(admin.TabularInline):
    model = Identity
    fields = ("kind", "value", "is_primary", "flagged", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(ShopScopedAdmin):
    list_display = (
        "__str__",
        "shop",
        "language",
        "caretaker",
        "backup_caretaker",
        "merged_into",
        "created_at",
    )
    list_filter = ("shop", "language", "caretaker")
    search_fields = ("name", "identities__value")
    list_select_related = ("shop", "caretaker", "backup_caretaker")
    fields = (
        "shop",
        "name",
        "language",
        "caretaker",
        "backup_caretaker",
        "notes",
        "merged_into",
        "created_at",
    )
    readonly_fields = ("merged_into", "created_at")
    inlines = [IdentityInline]

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "caretaker" in form.changed_data:  # "My customers" reads the copy on each conversation
            conversations_follow_caretaker(contact=obj)
            list_version_bump(shop_id=obj.shop_id)


@admin.register(Identity)
class IdentityAdmin(ShopScopedAdmin):
    read_only = True
    list_display = ("value", "kind", "contact", "is_primary", "flagged", "created_at")
    list_filter = ("shop", "kind", "is_primary")
    search_fields = ("value", "contact__name")
    list_select_related = ("contact",)
