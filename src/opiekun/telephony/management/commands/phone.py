"""`opiekun phone`: phone lines, callbacks and figures for operators.

opiekun phone lines [--shop SLUG] [--reveal] [--json]     provider, webhook address, health
opiekun phone callbacks [--shop SLUG] [--view due|overdue|done] [--json]
opiekun phone stats [--shop SLUG] [--days N] [--json]
opiekun phone escalate      overdue callbacks to the team lead now (a task does it every minute)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from opiekun.core import clock
from opiekun.shops.models import Shop
from opiekun.telephony import selectors, services, sms, statistics
from opiekun.webhooks.selectors import endpoint_health


class Command(BaseCommand):
    help = "Phone lines, callbacks and phone/SMS figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["lines", "callbacks", "stats", "escalate"])
        parser.add_argument("--shop", default="", help="the shop's slug (default: every shop)")
        parser.add_argument("--view", default="due", choices=list(selectors.VIEWS[:3]))
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument(
            "--reveal", action="store_true", help="lines: print SMSAPI callback addresses with their secret"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        shops = Shop.objects.all()
        if options["shop"]:
            shops = shops.filter(slug=options["shop"])
            if not shops.exists():
                raise CommandError(f"no shop {options['shop']!r}")
        what = options["what"]
        if what == "escalate":
            count = services.callbacks_escalate_due()
            self._out(options, {"escalated": count}, f"escalated {count} overdue callback(s)")
            return
        for shop in shops.order_by("id"):
            getattr(self, f"_{what}")(shop, options)

    def _out(self, options: dict[str, Any], data: dict[str, Any], text: str) -> None:
        self.stdout.write(json.dumps(data, default=str, ensure_ascii=False) if options["json"] else text)

    def _lines(self, shop: Shop, options: dict[str, Any]) -> None:
        for line in selectors.lines_of_shop(shop_id=shop.pk):
            health = endpoint_health(line.endpoint)
            data = {
                "shop": shop.slug,
                "line": line.pk,
                "provider": line.provider,
                "purpose": line.purpose,
                "number": line.number,
                "active": line.is_active,
                "webhook": sms.callback_url(line, settings.OPIEKUN_PUBLIC_URL)
                if options["reveal"]
                else settings.OPIEKUN_PUBLIC_URL + line.endpoint.url_path,
                "pending": health.pending,
                "failed": health.failed,
                "last_error": health.last_error,
            }
            self._out(
                options,
                data,
                f"{shop.slug}  #{line.pk} {line.provider}/{line.purpose} {line.number}  "
                f"{data['webhook']}  pending={health.pending} failed={health.failed}",
            )

    def _callbacks(self, shop: Shop, options: dict[str, Any]) -> None:
        now = clock.now()
        for c in selectors.callbacks_list(shop_id=shop.pk, view=options["view"], now=now, limit=1000):
            data = {
                "shop": shop.slug,
                "callback": c.pk,
                "number": c.number,
                "status": c.status,
                "missed_calls": c.missed_calls,
                "voicemails": c.voicemails,
                "owner": c.owner.display_name if c.owner else None,
                "owner_reason": c.owner_reason,
                "due_at": c.due_at.isoformat(),
                "overdue": c.is_open and c.due_at <= now,
                "escalated_at": c.escalated_at.isoformat() if c.escalated_at else None,
                "attempts": c.attempts,
            }
            self._out(
                options,
                data,
                f"{shop.slug}  {c.number:<16} {c.status:<9} "
                f"due {timezone.localtime(c.due_at):%Y-%m-%d %H:%M}  "
                f"owner {data['owner'] or 'queue'}  calls {c.missed_calls}  attempts {c.attempts}",
            )

    def _stats(self, shop: Shop, options: dict[str, Any]) -> None:
        end = clock.now()
        report = statistics.phone_report(
            shop_id=shop.pk, start=end - dt.timedelta(days=options["days"]), end=end
        )
        data = {"shop": shop.slug, "days": options["days"], **report.as_dict()}
        total = report.total
        self._out(
            options,
            data,
            f"{shop.slug}  calls in {total.calls_in} (answered {total.answered}, missed "
            f"{total.missed + total.abandoned + total.voicemail}) out {total.calls_out}  "
            f"callbacks {total.callbacks} (open {total.callbacks_open})  "
            f"SMS sent {total.sms_sent} delivered {total.sms_delivered} failed {total.sms_failed}",
        )
