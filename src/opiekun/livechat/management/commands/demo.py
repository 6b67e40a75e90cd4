"""`opiekun demo`, and the demo shop's chat widget with it.

The desk's demo command (ui) seeds the shop; the live chat sits above the desk in the layers, so the
desk cannot make the widget itself. This command takes the desk's name (Django runs the command of
the app listed first in INSTALLED_APPS, and the live chat comes before the desk), runs it, then makes
the widget: the livechat inbox exists after `opiekun demo`, not only after the first visit of
/chat-demo/.
"""

from __future__ import annotations

from typing import Any

from opiekun.shops.models import Shop
from opiekun.ui.management.commands.demo import Command as DeskDemo
from opiekun.ui.management.commands.demo import data

from ...demo import demo_widget


class Command(DeskDemo):
    def handle(self, *args: Any, **opts: Any) -> None:
        super().handle(*args, **opts)
        shop = Shop.objects.filter(slug=data.SHOP["slug"]).first()
        if shop is not None:
            demo_widget(shop)
