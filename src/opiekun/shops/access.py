"""Tenant access: every request resolves to one shop, and everything it reads is scoped to it."""

from __future__ import annotations

import hashlib
import secrets

from django.db.models import Q

from opiekun.core import clock
from opiekun.core.errors import NotFound

from .models import ApiToken, Shop


def access_shop_by_slug(slug: str) -> Shop:
    shop = Shop.objects.filter(slug=slug).first()
    if shop is None:
        raise NotFound()
    return shop


def api_token_create(*, shop: Shop, name: str, created_by=None) -> tuple[ApiToken, str]:  # type: ignore[no-untyped-def]
    """A new token; the returned key is shown once and never stored in clear."""
    key = "opk_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        shop=shop,
        name=name,
        prefix=key[:12],
        key_sha256=hashlib.sha256(key.encode()).hexdigest(),
        created_by=created_by,
    )
    return token, key


def api_token_authenticate(key: str) -> ApiToken | None:
    """The live token for `key`, or None; compares hashes, never the key itself."""
    if not key or not key.startswith("opk_"):
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()
    token = (
        ApiToken.objects.select_related("shop").filter(Q(key_sha256=digest), revoked_at__isnull=True).first()
    )
    if token is not None and secrets.compare_digest(token.key_sha256, digest):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=clock.now())
        return token
    return None
