"""`opiekun apitoken create|list|revoke`: the bearer tokens integrations use to call the API for one shop.

opiekun apitoken create --shop demo --name "Shop platform"   # prints the key once
opiekun apitoken list [--shop demo] [--json]
opiekun apitoken revoke <id or prefix> [--shop demo]
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opiekun.core.errors import NotFound
from opiekun.shops.access import access_shop_by_slug, api_token_create
from opiekun.shops.models import ApiToken, Shop

from ...selectors import access_api_token, api_tokens_of_shop
from ...services import api_token_revoke


def _shop(slug: str | None) -> Shop | None:
    if not slug:
        return None
    try:
        return access_shop_by_slug(slug)
    except NotFound:
        raise CommandError(f"No shop with the slug {slug!r}.") from None


def _row(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "shop": token.shop.slug,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (Authorization: Bearer opk_…) for a shop."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        create = sub.add_parser("create", help="Create a token and print its key (shown only this once).")
        create.add_argument("--shop", required=True, help="The shop's slug.")
        create.add_argument(
            "--name", required=True, help="What the token is for, e.g. the integration's name."
        )
        create.add_argument("--json", action="store_true", help="Print one JSON object.")
        listing = sub.add_parser("list", help="List tokens (never their keys).")
        listing.add_argument("--shop", help="Only this shop's tokens.")
        listing.add_argument("--json", action="store_true", help="One JSON object per line.")
        revoke = sub.add_parser("revoke", help="Revoke a token by its id or key prefix.")
        revoke.add_argument("token", help="The id or the prefix `list` shows (opk_…).")
        revoke.add_argument("--shop", help="Only look among this shop's tokens.")
        revoke.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options)
        elif action == "list":
            self._list(options)
        else:
            self._revoke(options)

    def _create(self, options: dict[str, Any]) -> None:
        shop = _shop(options["shop"])
        assert shop is not None
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("Give the token a name of 1 to 100 characters.")
        token, key = api_token_create(shop=shop, name=name)
        if options["json"]:
            self.stdout.write(json.dumps({**_row(token), "key": key}))
            return
        self.stdout.write(key)
        self.stderr.write(
            f"Token {token.pk} {name!r} for {shop.slug}: keep the key above, it is not shown again."
        )

    def _list(self, options: dict[str, Any]) -> None:
        tokens = api_tokens_of_shop(shop=_shop(options.get("shop")))
        for token in tokens:
            row = _row(token)
            if options["json"]:
                self.stdout.write(json.dumps(row))
            else:
                state = (
                    f"revoked {row['revoked_at']}"
                    if token.revoked_at
                    else (f"last used {row['last_used_at']}" if token.last_used_at else "never used")
                )
                self.stdout.write(f"{token.pk}\t{token.shop.slug}\t{token.prefix}…\t{token.name}\t{state}")

    def _revoke(self, options: dict[str, Any]) -> None:
        try:
            token = access_api_token(
                token_id_or_prefix=options["token"].strip(), shop=_shop(options.get("shop"))
            )
        except NotFound:
            raise CommandError(f"No single token matches {options['token']!r}.") from None
        api_token_revoke(token=token)
        if options["json"]:
            self.stdout.write(json.dumps(_row(token)))
        else:
            self.stdout.write(
                f"Revoked token {token.pk} {token.name!r} ({token.prefix}…) of {token.shop.slug}."
            )
