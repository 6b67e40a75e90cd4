"""How the public pages look and speak: the shop's colours, the page language, status words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from opiekun.conversations.models import Status
from opiekun.shops.models import Shop

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_BRAND = "#2f6f4f"
LANGUAGE_CODES = tuple(code for code, _name in settings.LANGUAGES)
LANGUAGE_NAMES = {
    "en": "English",
    "pl": "Polski",
    "ru": "Русский",
}  # each in its own language, never translated

# What a customer understands, rather than our internal workflow states.
CUSTOMER_STATUS: dict[str, tuple[Any, str]] = {
    Status.NEW: (_("Received"), "received"),
    Status.OPEN: (_("In progress"), "progress"),
    Status.PENDING_INTERNAL: (_("In progress"), "progress"),
    Status.PENDING_CUSTOMER: (_("Waiting for your reply"), "waiting"),
    Status.RESOLVED: (_("Resolved"), "done"),
    Status.CLOSED: (_("Closed"), "done"),
}


@dataclass(frozen=True)
class Theme:
    brand: str
    on_brand: str
    initial: str


def shop_theme(shop: Shop) -> Theme:
    """The shop's brand colour (validated: it goes into a style attribute) and a readable text on it."""
    brand = shop.brand_color if _HEX.match(shop.brand_color or "") else DEFAULT_BRAND
    r, g, b = (int(brand[i : i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    initial = next((ch for ch in shop.name if ch.isalnum()), "•").upper()
    return Theme(brand=brand.lower(), on_brand="#ffffff" if luminance < 0.6 else "#1b1f24", initial=initial)


def customer_status(status: str) -> tuple[str, str]:
    label, tone = CUSTOMER_STATUS.get(status, (_("In progress"), "progress"))
    return str(label), tone


def choose_language(request: HttpRequest, *candidates: str | None) -> str:
    """The first supported language among `candidates` (an explicit choice first), else the browser's.

    LocaleMiddleware already picked one from the language cookie or Accept-Language; an explicit
    `?lang=` (the switch on every page; the embedded form has no cookies) wins over it.
    """
    for value in candidates:
        code = (value or "").strip().lower()[:2]
        if code in LANGUAGE_CODES:
            translation.activate(code)
            request.LANGUAGE_CODE = code
            return code
    return translation.get_language() or settings.LANGUAGE_CODE


def remember_language(response: HttpResponse, request: HttpRequest, code: str) -> HttpResponse:
    """Keep an explicit choice for the next visit (first-party pages only; an iframe cannot keep cookies)."""
    if request.GET.get("lang") and code in LANGUAGE_CODES:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=False,
        )
    return response


def language_links(request: HttpRequest, current: str) -> list[dict[str, object]]:
    """The pl/en/ru switch: the current URL with `lang` replaced."""
    links = []
    for code in LANGUAGE_CODES:
        query = request.GET.copy()
        query["lang"] = code
        links.append(
            {
                "code": code,
                "name": LANGUAGE_NAMES.get(code, code),
                "url": f"?{query.urlencode()}",
                "current": code == current,
            }
        )
    return links
