"""Reads: the endpoint a request names (remembered briefly per process), and an endpoint's health."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q

from opiekun.shops.models import Shop

from .models import Delivery, Endpoint

REMEMBER_FOR = 5.0  # seconds: a disabled endpoint or a new secret takes effect within this


@dataclass(frozen=True)
class Target:
    endpoint_id: int
    shop_id: int
    source: str
    secret: str


_known: dict[str, tuple[float, Target | None]] = {}


def target_for_token(token: str) -> Target | None:
    """The active endpoint behind `/hooks/<token>/`, or None; one query per token per REMEMBER_FOR seconds."""
    now = time.monotonic()
    hit = _known.get(token)
    if hit is not None and now - hit[0] < REMEMBER_FOR:
        return hit[1]
    endpoint = (
        Endpoint.objects.filter(token=token, is_active=True).only("id", "shop_id", "source", "secret").first()
    )
    target = (
        Target(endpoint.pk, endpoint.shop_id, endpoint.source, endpoint.signing_secret) if endpoint else None
    )
    if len(_known) > 10_000:  # tokens probed at random must not grow memory without end
        _known.clear()
    _known[token] = (now, target)
    return target


def forget_tokens() -> None:
    _known.clear()


@dataclass(frozen=True)
class Health:
    last_received_at: datetime | None
    last_processed_at: datetime | None
    pending: int
    failed: int
    last_error: str
    last_rejected_at: datetime | None
    last_rejection: str


def endpoint_health(endpoint: Endpoint) -> Health:
    """What an admin checks: when the platform last called, what is waiting or failed, the last refusal."""
    stats: dict[str, Any] = Delivery.objects.filter(endpoint=endpoint).aggregate(
        last_received=Max("received_at"),
        last_processed=Max("processed_at"),
        pending=Count("id", filter=Q(processed_at__isnull=True)),
        failed=Count("id", filter=~Q(error="")),
    )
    last_error = (
        Delivery.objects.filter(endpoint=endpoint)
        .exclude(error="")
        .order_by("-id")
        .values_list("error", flat=True)
    ).first()
    return Health(
        last_received_at=stats["last_received"],
        last_processed_at=stats["last_processed"],
        pending=stats["pending"],
        failed=stats["failed"],
        last_error=last_error or "",
        last_rejected_at=endpoint.last_rejected_at,
        last_rejection=endpoint.last_rejection,
    )


def endpoints_of_shop(shop: Shop) -> list[Endpoint]:
    return list(Endpoint.objects.filter(shop=shop).order_by("source", "id"))
