"""Django admin for shops, and the base every Opiekun admin uses: staff only, scoped to their shop.

The admin is the operator's escape hatch next to the desk. It is open to staff users only (agents
with the admin role get is_staff); a staff agent sees and edits only their own shop's rows, a
superuser sees every shop. Histories (conversations, messages, the timeline, the audit log) are
read-only here: they change through the desk and its services, which keep the timeline and events.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, Shop

admin.site.site_header = _("Opiekun administration")
admin.site.site_title = _("Opiekun")
admin.site.index_title = _("Settings and records")


def shop_id_of(request: HttpRequest) -> int | None:
    """The shop of the signed-in staff agent (None for a superuser, who sees every shop)."""
    user = request.user
    if getattr(user, "is_superuser", False):
        return None
    agent = getattr(user, "agent", None)
    return agent.shop_id if agent is not None else -1  # staff without an agent profile sees nothing


class ShopScopedAdmin(admin.ModelAdmin):
    """Full rights for active staff, limited to their shop; `shop_path` is the lookup to the shop id."""

    shop_path = "shop_id"
    read_only = False  # histories: view only, for everybody

    def _staff(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._staff(request) and not self.read_only

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._staff(request) and not self.read_only

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._staff(request) and not self.read_only

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = super().get_list_display(request)
        if shop_id_of(request) is None:
            return columns
        return [c for c in columns if c != "shop"] or columns  # one shop: the column says nothing

    def get_list_filter(self, request: HttpRequest) -> Any:
        """A staff agent's filters offer only values from their own rows: no shop filter at all, and
        related-object filters limited to objects that occur (never another shop's agents or tags)."""
        filters = super().get_list_filter(request)
        if shop_id_of(request) is None:
            return filters
        scoped: list[Any] = []
        for item in filters:
            if not isinstance(item, str):
                scoped.append(item)
            elif item.split("__")[-1] in ("shop", "shop_id"):
                continue
            elif _is_relation(self.model, item):
                scoped.append((item, admin.RelatedOnlyFieldListFilter))
            else:
                scoped.append(item)
        return scoped

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        shop_id = shop_id_of(request)
        return qs if shop_id is None else qs.filter(**{self.shop_path: shop_id})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", _scoped_choices(db_field.related_model, request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", _scoped_choices(db_field.related_model, request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def _is_relation(model: type[Model], path: str) -> bool:
    """Whether a list_filter path ("team", "agent__shop", "user__is_active") ends on a relation."""
    for name in path.split("__"):
        field = model._meta.get_field(name)
        if not field.is_relation:
            return False
        model = field.related_model  # type: ignore[assignment]
    return True


def _scoped_choices(model: type[Model], request: HttpRequest) -> QuerySet[Any]:
    """Choices in a form: a staff agent can only point at their own shop and its rows."""
    qs = model._default_manager.all()
    shop_id = shop_id_of(request)
    if shop_id is None:
        return qs
    if model is Shop:
        return qs.filter(pk=shop_id)
    if any(f.name == "shop" for f in model._meta.get_fields()):
        return qs.filter(shop_id=shop_id)
    return qs


@admin.register(Shop)
class ShopAdmin(ShopScopedAdmin):
    shop_path = "pk"
    list_display = (
        "name",
        "slug",
        "sender_email",
        "default_language",
        "sla_first_response_minutes",
        "created_at",
    )
    search_fields = ("name", "slug", "sender_email")
    list_filter = ("default_language", "closed_reply")
    readonly_fields = ("conversation_seq", "created_at")
    prepopulated_fields = {"slug": ("name",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)  # a new tenant is the installation owner's decision

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(ApiToken)
class ApiTokenAdmin(ShopScopedAdmin):
    """Tokens are created in the desk (the key is shown once); here they can be seen and revoked."""

    list_display = ("name", "prefix", "shop", "created_by", "created_at", "last_used_at", "revoked_at")
    list_filter = ("shop",)
    search_fields = ("name", "prefix")
    fields = ("shop", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("shop", "prefix", "created_by", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
