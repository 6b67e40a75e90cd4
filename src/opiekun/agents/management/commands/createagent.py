"""`opiekun createagent`: add a desk login (a Django user with its agent profile) to a shop.

    opiekun createagent --shop demo --username ewa --name "Ewa Nowak" --role admin
    echo "$PASSWORD" | opiekun createagent --shop demo --username ewa --name "Ewa Nowak" --password-stdin

The password is asked for twice on a terminal, read from standard input with --password-stdin, or
given with --password (visible in the shell history; fine for scripts on a private machine). Weak
passwords and taken logins are refused. Agents with the admin role may also use /admin/.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.text import slugify

from opiekun.agents.models import Agent
from opiekun.agents.services import agent_create
from opiekun.core.errors import OpiekunError
from opiekun.shops.models import Shop


class Command(BaseCommand):
    help = "Create an agent (a desk login) in a shop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shop", required=True, help="the shop's slug, e.g. demo")
        parser.add_argument("--username", required=True, help="the login")
        parser.add_argument(
            "--name", required=True, help='the full name agents and customers see, e.g. "Ewa Nowak"'
        )
        parser.add_argument("--email", default="", help="the agent's own e-mail address")
        parser.add_argument("--role", default=Agent.Role.AGENT, choices=Agent.Role.values)
        parser.add_argument("--languages", default="", help="languages the agent answers in, e.g. pl,en")
        parser.add_argument("--sender-email", default="", help="replies go out From this address when set")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", help="the password (prefer the prompt or --password-stdin)")
        secret.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        parser.add_argument(
            "--create-shop", metavar="NAME", help="create the shop with this name if it is missing"
        )
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")

    def handle(self, *args: Any, **opts: Any) -> None:
        password = self._password(opts)
        languages = [code.strip() for code in opts["languages"].split(",") if code.strip()]
        try:
            with transaction.atomic():
                shop = self._shop(opts["shop"], opts["create_shop"])
                agent = agent_create(
                    shop=shop,
                    username=opts["username"].strip(),
                    password=password,
                    display_name=opts["name"].strip(),
                    email=opts["email"],
                    role=opts["role"],
                    languages=languages,
                    sender_email=opts["sender_email"],
                )
        except OpiekunError as exc:
            raise CommandError(exc.message) from None
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "id": agent.pk,
                        "username": agent.user.username,
                        "shop": shop.slug,
                        "role": agent.role,
                        "staff": agent.user.is_staff,
                    }
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Agent {agent.user.username} ({agent.display_name}, {agent.get_role_display()}) "
                f"created in {shop.name}."
            )
        )

    def _shop(self, slug: str, create_name: str | None) -> Shop:
        shop = Shop.objects.filter(slug=slug).first()
        if shop is not None:
            return shop
        if not create_name:
            raise CommandError(f'There is no shop {slug!r}; add --create-shop "Shop name" to create it.')
        if slugify(slug) != slug:
            raise CommandError(f"{slug!r} is not a valid shop slug (lower-case letters, digits and hyphens).")
        # No shop_create service exists yet; a shop with defaults is all an operator needs to start.
        return Shop.objects.create(slug=slug, name=create_name.strip())

    def _password(self, opts: dict[str, Any]) -> str:
        if opts["password"] is not None:
            return str(opts["password"])
        if opts["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("No password on standard input.")
            return password
        if not sys.stdin.isatty():
            raise CommandError(
                "Give the password with --password-stdin (or --password) when not on a terminal."
            )
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        return first
