"""Writes on endpoints: create one for a connector, rotate its secret, switch it off."""

from __future__ import annotations

import secrets as _secrets

from django.db import transaction

from opiekun.shops.models import Shop

from .models import Endpoint
from .registry import sources


def endpoint_create(*, shop: Shop, source: str, secret: str = "", label: str = "") -> Endpoint:
    """A new endpoint of `source` for `shop`; a random secret when none is given (touches Endpoint)."""
    sources.get(source)  # unknown sources fail here, not on the first request
    return Endpoint.objects.create(
        shop=shop, source=source, label=label, secret={"secret": secret or _secrets.token_urlsafe(32)}
    )


@transaction.atomic
def endpoint_set_secret(*, endpoint: Endpoint, secret: str) -> Endpoint:
    """Replace the signing secret (the platform's, after the shop rotated it there)."""
    endpoint.secret = {"secret": secret}
    endpoint.save(update_fields=["secret"])
    return endpoint


def endpoint_set_active(*, endpoint: Endpoint, active: bool) -> Endpoint:
    """Switch intake on or off; an inactive endpoint answers 404 and stores nothing."""
    endpoint.is_active = active
    endpoint.save(update_fields=["is_active"])
    return endpoint
