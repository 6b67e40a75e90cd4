"""Django admin for conversations, messages, the timeline, tags and macros (see shops.admin).

Cases, messages, attachments and timeline events are read-only here: they change through the desk,
whose services append the timeline and publish the events realtime and delivery rely on. Tags and
macros are settings, edited freely.
"""

from __future__ import annotations

from django.contrib import admin

from opiekun.shops.admin import ShopScopedAdmin

from .models import Attachment, Conversation, Event, Macro, Message, Tag


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "direction", "channel", "is_internal", "author_agent", "text", "delivery_status")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Conversation)
class ConversationAdmin(ShopScopedAdmin):
    read_only = True
    list_display = (
        "number",
        "subject",
        "shop",
        "status",
        "priority",
        "contact",
        "assignee",
        "team",
        "last_message_at",
        "sla_due_at",
    )
    list_filter = ("shop", "status", "priority", "team", "assignee", "tags")
    search_fields = ("=number", "subject", "order_ref", "contact__name", "contact__identities__value")
    list_select_related = ("shop", "contact", "assignee", "team")
    date_hierarchy = "created_at"
    ordering = ("-last_message_at",)
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(ShopScopedAdmin):
    read_only = True
    list_display = (
        "id",
        "conversation",
        "direction",
        "channel",
        "is_internal",
        "delivery_status",
        "delivery_attempts",
        "created_at",
    )
    list_filter = ("shop", "channel", "direction", "is_internal", "delivery_status")
    search_fields = ("text", "external_id", "provider_id", "conversation__subject")
    list_select_related = ("conversation",)
    date_hierarchy = "created_at"


@admin.register(Attachment)
class AttachmentAdmin(ShopScopedAdmin):
    read_only = True
    list_display = ("filename", "mime_type", "size", "message", "created_at")
    list_filter = ("shop", "mime_type")
    search_fields = ("filename", "sha256")


@admin.register(Event)
class EventAdmin(ShopScopedAdmin):
    read_only = True  # the timeline is append-only
    list_display = ("created_at", "kind", "conversation", "contact", "actor")
    list_filter = ("shop", "kind")
    search_fields = ("kind", "conversation__subject", "contact__name")
    list_select_related = ("conversation", "contact", "actor")
    date_hierarchy = "created_at"


@admin.register(Tag)
class TagAdmin(ShopScopedAdmin):
    list_display = ("name", "shop")
    list_filter = ("shop",)
    search_fields = ("name",)


@admin.register(Macro)
class MacroAdmin(ShopScopedAdmin):
    list_display = ("name", "language", "shop", "set_status", "add_tags")
    list_filter = ("shop", "language")
    search_fields = ("name", "body")
