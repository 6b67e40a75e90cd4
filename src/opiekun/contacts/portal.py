"""Customer portal magic links: signed, expiring, good for opening the portal of one contact only."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import Contact

_SALT = "opiekun.portal.v1"


def portal_token(contact: Contact) -> str:
    return signing.dumps({"c": contact.pk, "s": contact.shop_id}, salt=_SALT, compress=True)


def portal_link(contact: Contact, *, number: int | None = None) -> str:
    """The absolute magic link into the portal of `contact`, optionally opening case `number` (in every
    outbound reply and acknowledgment)."""
    url = settings.OPIEKUN_PUBLIC_URL + _enter_path().replace(_PLACEHOLDER, portal_token(contact))
    return f"{url}?next={number}" if number is not None else url


_PLACEHOLDER = "TOKEN"


@functools.cache
def _enter_path() -> str:
    # Resolved once: reversing the name cost more than signing the token (~0.6 ms a reply). The token
    # alphabet (URL-safe base64 and ':') is what reverse() would leave unquoted anyway.
    return reverse("portal:enter", kwargs={"token": _PLACEHOLDER})


def portal_contact_id(token: str, *, max_age: int | None = None) -> tuple[int, int] | None:
    """(contact_id, shop_id) for a valid, unexpired token; None otherwise (forged, expired, other purpose)."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age or settings.OPIEKUN_PORTAL_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("s"), int):
        return None
    return data["c"], data["s"]
