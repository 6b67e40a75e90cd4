"""Writes on inboxes."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from opiekun.shops.models import Shop

from .models import Inbox

_DEFAULT_NAMES = {"note": "Logged contacts"}


def inbox_for_kind(shop: Shop, kind: str) -> Inbox:
    """The shop's first active inbox of `kind`, created on first use (e.g. the note inbox of logged calls)."""
    inbox = Inbox.objects.filter(shop=shop, kind=kind, is_active=True).order_by("id").first()
    if inbox is not None:
        return inbox
    name = _DEFAULT_NAMES.get(kind, kind)
    for attempt in range(1, 4):
        try:
            with transaction.atomic():
                return Inbox.objects.create(
                    shop=shop, kind=kind, name=name if attempt == 1 else f"{name} {attempt}"
                )
        except IntegrityError:
            # Another request created it a moment ago, or an inactive inbox already holds the name.
            inbox = Inbox.objects.filter(shop=shop, kind=kind, is_active=True).order_by("id").first()
            if inbox is not None:
                return inbox
    raise RuntimeError(f"could not create a {kind} inbox for shop {shop.pk}")
