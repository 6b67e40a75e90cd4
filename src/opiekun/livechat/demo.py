"""The demo shop's chat widget, made by `opiekun demo` (so `make run` shows the chat working at once).

The widget may be opened from the address the demo page was served at and from OPIEKUN_PUBLIC_URL.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from opiekun.inboxes.drivers.livechat.driver import LivechatConfig
from opiekun.inboxes.drivers.livechat.identity import identity_sign
from opiekun.inboxes.models import Inbox
from opiekun.inboxes.services import inbox_create, inbox_update
from opiekun.shops.models import Shop

from .selectors import Widget

DEMO_NAME = "Czat na stronie"
DEMO_CUSTOMERS = {
    "jan": ("jan.kowalski@example.com", "Jan Kowalski"),
    "ewa": ("ewa.zielinska@example.org", "Ewa Zielińska"),
}


def _derived(shop: Shop, what: str) -> str:
    # Stable per installation (the secret key) so a restart keeps the visitors' sessions and the snippet.
    return hashlib.sha256(f"{settings.SECRET_KEY}:livechat-demo:{what}:{shop.pk}".encode()).hexdigest()[:32]


def demo_config(shop: Shop, origins: list[str]) -> dict[str, Any]:
    return {
        "public_key": "demo" + _derived(shop, "key")[:24],
        "allowed_origins": origins,
        "colour": shop.brand_color if len(shop.brand_color) == 7 else "#2f6f4f",
        "title": {"pl": shop.name, "en": shop.name, "ru": shop.name},
        "greeting": {
            "pl": "Dzień dobry! W czym możemy pomóc?",
            "en": "Hello! How can we help you today?",
            "ru": "Здравствуйте! Чем можем помочь?",
        },
        "prechat_enabled": True,
        "prechat_fields": ["name", "email"],
        "prechat_required": ["email"],
        "max_chats_per_agent": 5,
    }


def demo_widget(shop: Shop, request: HttpRequest | None = None) -> Widget:
    """The demo shop's livechat inbox, created (by `opiekun demo`, or here on first use of /chat-demo/)
    or widened to the origin of the page that asks."""
    public = "{0.scheme}://{0.netloc}".format(urlsplit(settings.OPIEKUN_PUBLIC_URL))
    here = f"{request.scheme}://{request.get_host()}" if request is not None else public
    inbox = Inbox.objects.filter(shop=shop, kind="livechat", name=DEMO_NAME).first()
    if inbox is None:
        webform = Inbox.objects.filter(shop=shop, kind="webform").order_by("id").first()
        inbox = inbox_create(
            shop=shop,
            kind="livechat",
            name=DEMO_NAME,
            config=demo_config(shop, sorted({here, public})),
            secrets={"identity_secret": _derived(shop, "identity")},
            team=webform.team if webform else None,
        )
    else:
        origins = list((inbox.config or {}).get("allowed_origins", []))
        if here.lower() not in origins:
            inbox = inbox_update(
                inbox=inbox,
                name=inbox.name,
                config={**inbox.config, "allowed_origins": [*origins, here.lower()]},
                team=inbox.team,
            )
    return Widget(inbox=inbox, config=inbox.settings(LivechatConfig))


def demo_identity(widget: Widget, who: str) -> dict[str, Any] | None:
    """A signed identity token for a demo customer, as a shop's server would make it."""
    if who not in DEMO_CUSTOMERS:
        return None
    email, name = DEMO_CUSTOMERS[who]
    expires = int(time.time()) + 3600
    secret = widget.config.identity_secret.get_secret_value()
    return {
        "email": email,
        "name": name,
        "expires": expires,
        "signature": identity_sign(secret=secret, email=email, name=name, expires=expires),
    }
