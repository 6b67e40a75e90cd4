"""`opiekun commerce …`: the shop connections from the command line.

opiekun commerce list [--shop SLUG] [--json]                  # connectors with their webhook address
opiekun commerce health [--shop SLUG] [--json]                # last webhook, pending/failed, last catch-up
opiekun commerce sync [--connector ID] [--shop SLUG] [--json] # catch up now (from the saved cursor)
opiekun commerce add --shop SLUG --platform P [--label L] [--url URL] [--credential KEY=VALUE …]
                     [--webhook-secret S] [--json]            # prints the webhook address and secret once
opiekun commerce orders --email ADDR [--shop SLUG] [--json]   # a customer's mirrored orders

`--json` prints one object per line. Secrets and credentials are never printed, except the webhook
secret once, by `add`, for pasting into the platform.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from opiekun.contacts.models import Identity
from opiekun.contacts.normalise import email as normalise_email
from opiekun.conversations.models import Conversation
from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.shops.access import access_shop_by_slug
from opiekun.shops.models import Shop

from ...models import Connector, Platform
from ...selectors import connector_health, contact_orders
from ...services import connector_create
from ...sync import connector_sync


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


class Command(BaseCommand):
    help = "Shop connections: list, health, catch up, add; a customer's orders."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        lst = sub.add_parser("list", help="Every connector with its webhook address.")
        health = sub.add_parser("health", help="Last webhook, deliveries waiting or failed, last catch-up.")
        sync = sub.add_parser("sync", help="Catch up now from the saved cursor.")
        sync.add_argument("--connector", type=int, help="One connector's id (default: every active one).")
        add = sub.add_parser("add", help="Connect a shop platform (creates its webhook endpoint).")
        add.add_argument("--platform", required=True, choices=[p.value for p in Platform])
        add.add_argument("--label", default="")
        add.add_argument("--url", default="", help="The shop's address (WooCommerce, Shopify).")
        add.add_argument(
            "--credential", action="append", default=[], help="KEY=VALUE, e.g. consumer_key=ck_…"
        )
        add.add_argument(
            "--webhook-secret", default="", help="The platform's signing secret (default: random)."
        )
        orders = sub.add_parser("orders", help="A customer's mirrored orders.")
        orders.add_argument("--email", required=True)
        for p in (lst, health, sync, add, orders):
            p.add_argument("--shop", help="The shop's slug (needed when there are several shops).")
            p.add_argument("--json", action="store_true", help="One JSON object per line.")

    def handle(self, *args: Any, **opts: Any) -> None:
        shop = self._shop(opts.get("shop"))
        action = opts["action"]
        getattr(self, f"_{action}")(shop, opts)

    def _shop(self, slug: str | None) -> Shop:
        if slug:
            try:
                return access_shop_by_slug(slug)
            except NotFound:
                raise CommandError(f"No shop {slug!r}.") from None
        shops = list(Shop.objects.order_by("id")[:2])
        if len(shops) != 1:
            raise CommandError("Say which shop with --shop SLUG.")
        return shops[0]

    def _out(self, opts: dict[str, Any], data: dict[str, Any], line: str) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False) if opts["json"] else line)

    def _list(self, shop: Shop, opts: dict[str, Any]) -> None:
        public = settings.OPIEKUN_PUBLIC_URL.rstrip("/")
        for c in Connector.objects.filter(shop=shop).select_related("endpoint").order_by("id"):
            url = public + c.endpoint.url_path if c.endpoint else ""
            data = {
                "id": c.pk,
                "platform": c.platform,
                "label": c.label,
                "active": c.is_active,
                "webhook_url": url,
            }
            self._out(opts, data, f"{c.pk:>4}  {c.platform:<17} {c.label or '-':<30} {url}")

    def _health(self, shop: Shop, opts: dict[str, Any]) -> None:
        for c in Connector.objects.filter(shop=shop).select_related("endpoint").order_by("id"):
            h = connector_health(c)
            w = h.webhook
            data = {
                "id": c.pk,
                "platform": c.platform,
                "orders": h.orders,
                "last_webhook_at": _iso(w.last_received_at) if w else None,
                "pending": w.pending if w else 0,
                "failed": w.failed if w else 0,
                "last_webhook_error": w.last_error if w else "",
                "last_rejection": w.last_rejection if w else "",
                "last_sync_at": _iso(h.last_sync_at),
                "last_sync_error": h.last_error,
            }
            line = (
                f"{c.pk:>4}  {c.platform:<17} orders={h.orders} "
                f"last_webhook={data['last_webhook_at'] or '-'} "
                f"pending={data['pending']} failed={data['failed']} last_sync={data['last_sync_at'] or '-'}"
                + (f" error={h.last_error}" if h.last_error else "")
            )
            self._out(opts, data, line)

    def _sync(self, shop: Shop, opts: dict[str, Any]) -> None:
        query = Connector.objects.filter(shop=shop, is_active=True).select_related("shop")
        if opts.get("connector"):
            query = query.filter(pk=opts["connector"])
        for c in query.order_by("id"):
            r = connector_sync(connector=c)
            data = {
                "id": c.pk,
                "pages": r.pages,
                "orders": r.orders,
                "created": r.created,
                "events": r.events,
                "retries": r.retries,
                "error": r.error,
            }
            line = f"{c.pk:>4}  {r.pages} page(s), {r.orders} order(s), {r.created} new" + (
                f", error: {r.error}" if r.error else ""
            )
            self._out(opts, data, line)

    def _add(self, shop: Shop, opts: dict[str, Any]) -> None:
        credentials = dict(item.split("=", 1) for item in opts["credential"] if "=" in item)
        try:
            c = connector_create(
                shop=shop,
                platform=opts["platform"],
                label=opts["label"],
                base_url=opts["url"],
                credentials=credentials,
                webhook_secret=opts["webhook_secret"],
            )
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None
        assert c.endpoint is not None
        url = settings.OPIEKUN_PUBLIC_URL.rstrip("/") + c.endpoint.url_path
        data = {
            "id": c.pk,
            "platform": c.platform,
            "webhook_url": url,
            "webhook_secret": c.endpoint.signing_secret,
        }
        self._out(
            opts,
            data,
            f"Connector {c.pk} created.\n  Webhook URL:    {url}\n  Webhook secret: {data['webhook_secret']}",
        )

    def _orders(self, shop: Shop, opts: dict[str, Any]) -> None:
        try:
            address = normalise_email(opts["email"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        identity = Identity.objects.filter(shop=shop, kind="email", value=address).first()
        if identity is None:
            raise CommandError(f"No customer with {address}.")
        orders = contact_orders(shop_id=shop.pk, contact_id=identity.contact_id, limit=50)
        cases = dict(
            Conversation.objects.filter(shop=shop, contact_id=identity.contact_id)
            .exclude(order_ref="")
            .order_by("created_at")
            .values_list("order_ref", "number")
        )
        rows = [
            {
                "number": o.number,
                "status": o.status,
                "payment": o.payment_state,
                "total": str(o.total),
                "currency": o.currency,
                "placed_at": _iso(o.placed_at),
                "tracking": next((s.tracking_number for s in o.shipments.all()), ""),
            }
            for o in orders
        ]
        data = {"contact_id": identity.contact_id, "orders": rows, "conversations": cases}
        lines = [
            f"{r['number']:<12} {r['status']:<10} {r['total']:>10} {r['currency']}  {r['tracking']}"
            for r in rows
        ]
        self._out(opts, data, "\n".join(lines) or "No orders.")
