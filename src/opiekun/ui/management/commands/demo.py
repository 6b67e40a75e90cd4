"""`opiekun demo [--if-empty] [--password X]`: seed the demo shop "Sklep Demo" with a working week.

Everything goes through the real code paths: web-form messages and logged calls through their drivers
and the inbound pipeline, other channels through `message_record_inbound`, replies, notes, statuses
and assignments through the conversation services. The stories (ui/management/demo_data.py) are
played in time order with the clock set to each step's moment, so routing sees caretakers, absences
and SLA clocks exactly as they were then: Piotr's leave sends his customers to their backups, and
cases nobody answered for hours are at SLA risk now.

Idempotent: the shop, people, inboxes and macros are brought to the described state on every run;
the case histories are written once (a shop that already has conversations keeps them).
`--if-empty` only prints the logins when the demo shop exists (so `make run` twice keeps data).
Nothing leaves the machine: replies in the demo are history, recorded as delivered (one as bounced).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from opiekun.agents.models import Absence, Agent, Team
from opiekun.agents.services import absence_add, agent_create
from opiekun.commerce import demo as commerce_demo
from opiekun.contacts import services as contacts
from opiekun.contacts.models import Contact
from opiekun.conversations import services as conversations
from opiekun.conversations.models import Conversation, Macro
from opiekun.conversations.routing import route_new_conversation
from opiekun.core import clock
from opiekun.core.errors import OpiekunError
from opiekun.inboxes import pipeline
from opiekun.inboxes.mailstore import mail_ingest
from opiekun.inboxes.models import Inbox
from opiekun.inboxes.registry import drivers
from opiekun.shops.models import Shop
from opiekun.telephony import demo as telephony_demo

from .. import demo_data as data

PASSWORD_FILE = "demo_password"  # noqa: S105 — a file name, not a password
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by hand


class Command(BaseCommand):
    help = "Seed the demo shop (Sklep Demo): 3 agents, ~30 contacts, ~50 conversations across channels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (but print the logins) when the demo shop already exists",
        )
        parser.add_argument(
            "--password",
            help="password of the three demo agents (default: generated once per data folder and kept there)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.monotonic()
        exists = Shop.objects.filter(slug=data.SHOP["slug"]).exists()
        if exists and opts["if_empty"]:
            self._report(password=_stored_password(), seeded=False, started=started, as_json=opts["json"])
            return
        password = opts["password"] or _stored_password() or _new_password()
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("The demo password is too weak: " + " ".join(exc.messages)) from None
        try:
            seeded = seed(password=password)
        except OpiekunError as exc:
            raise CommandError(exc.message) from None
        _store_password(password)
        self._report(password=password, seeded=seeded, started=started, as_json=opts["json"])

    def _report(self, *, password: str | None, seeded: bool, started: float, as_json: bool) -> None:
        base = settings.OPIEKUN_PUBLIC_URL
        shop = Shop.objects.get(slug=data.SHOP["slug"])
        agents = list(
            Agent.objects.filter(shop=shop, user__username__in=[a["username"] for a in data.AGENTS])
            .select_related("user")
            .order_by("id")
        )
        if password and agents and not agents[0].user.check_password(password):
            password = None  # changed since the demo set it; never print a stale one
        counts = {
            "agents": len(agents),
            "contacts": Contact.objects.filter(shop=shop, merged_into__isnull=True).count(),
            "conversations": Conversation.objects.filter(shop=shop).count(),
        }
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "url": base + "/",
                        "shop": shop.slug,
                        "seeded": seeded,
                        "password": password,
                        "logins": [a.user.username for a in agents],
                        **counts,
                        "seconds": round(time.monotonic() - started, 2),
                    }
                )
            )
            return
        verb = "seeded" if seeded else "ready"
        self.stdout.write(
            self.style.SUCCESS(
                f"{shop.name} is {verb}: {counts['contacts']} contacts, "
                f"{counts['conversations']} conversations ({time.monotonic() - started:.1f} s)."
            )
        )
        self.stdout.write(f"  Desk:          {base}/")
        self.stdout.write(f"  Contact form:  {base}/contact/{shop.slug}/")
        self.stdout.write(f"  Live chat:     {base}/chat-demo/  (a shop page with the chat widget)")
        self.stdout.write(f"  Admin:         {base}/admin/")
        shown = password or "(changed since the demo set it)"
        self.stdout.write(f"  Logins (password: {shown}):")
        for agent in agents:
            self.stdout.write(
                f"    {agent.user.username:<7} {agent.display_name} — {agent.get_role_display()}"
            )


# --- The seed ------------------------------------------------------------------------------------------


@dataclass
class Cast:
    shop: Shop
    agents: dict[str, Agent]
    teams: dict[str, Team]
    inboxes: dict[str, Inbox]
    customers: dict[str, Contact]


def seed(*, password: str, now: dt.datetime | None = None) -> bool:
    """Bring the demo shop to its described state; write the case histories when it has none yet.

    One transaction: a failure leaves no half-seeded shop. Returns True when histories were written.
    """
    now = now or clock.now()
    with _tasks_inline(), transaction.atomic():
        shop = _shop()
        agents = _agents(shop, password)
        teams = _teams(shop, agents)
        inboxes = _inboxes(shop, teams)
        _macros(shop)
        if Conversation.objects.filter(shop=shop).exists():
            return False
        _absence(agents, now)
        cast = Cast(shop, agents, teams, inboxes, _customers(shop, agents))
        _play(cast, now)
        _backdate(cast, now)
        commerce_demo.seed(  # the shop's orders the stories talk about (a WooCommerce connection)
            shop=shop,
            orders=[
                (cast.customers[s.customer], s.order, now - parse_ago(s.ago)) for s in data.STORIES if s.order
            ],
        )
        telephony_demo.seed(shop=shop, now=now)  # calls, callbacks and a text conversation
    return True


def _backdate(cast: Cast, now: dt.datetime) -> None:
    """Creation stamps (auto_now_add) say "today"; a shop with weeks of history has older customers.

    Each customer became one some months before their first case (a fixed spread, so reruns and
    screenshots agree); the shop and its inboxes are a year old.
    """
    year_ago = now - dt.timedelta(days=365)
    Shop.objects.filter(pk=cast.shop.pk).update(created_at=year_ago)
    Inbox.objects.filter(shop=cast.shop).update(created_at=year_ago)
    for i, contact in enumerate(cast.customers.values()):
        first = (
            Conversation.objects.filter(contact=contact)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
            or now
        )
        Contact.objects.filter(pk=contact.pk).update(created_at=first - dt.timedelta(days=3 + (i * 47) % 330))


def _shop() -> Shop:
    # No shop_create service exists yet; the demo describes its one shop directly.
    shop, _ = Shop.objects.update_or_create(
        slug=data.SHOP["slug"], defaults={k: v for k, v in data.SHOP.items() if k != "slug"}
    )
    return shop


def _agents(shop: Shop, password: str) -> dict[str, Agent]:
    User = get_user_model()
    agents: dict[str, Agent] = {}
    for spec in data.AGENTS:
        fields = {k: spec[k] for k in ("display_name", "role", "languages", "sender_email", "signature")}
        agent = Agent.objects.filter(user__username=spec["username"]).select_related("user").first()
        if agent is None:
            if User.objects.filter(username=spec["username"]).exists():
                raise CommandError(
                    f"The login {spec['username']!r} exists but is not a demo agent; "
                    "use another data folder for the demo."
                )
            agent = agent_create(
                shop=shop, username=spec["username"], password=password, email=spec["email"], **fields
            )
        elif agent.shop_id != shop.pk:
            raise CommandError(f"The login {spec['username']!r} belongs to another shop.")
        else:
            for name, value in fields.items():
                setattr(agent, name, value)
            agent.save(update_fields=list(fields))
            user = agent.user
            user.set_password(password)
            user.is_active, user.is_staff = True, spec["role"] == Agent.Role.ADMIN
            user.save(update_fields=["password", "is_active", "is_staff"])
        agents[spec["username"]] = agent
    return agents


def _teams(shop: Shop, agents: dict[str, Agent]) -> dict[str, Team]:
    teams = {}
    for key, (name, members, lead) in data.TEAMS.items():
        team, _ = Team.objects.update_or_create(shop=shop, name=name, defaults={"lead": agents[lead]})
        team.members.set([agents[m] for m in members])
        teams[key] = team
    return teams


def _inboxes(shop: Shop, teams: dict[str, Team]) -> dict[str, Inbox]:
    inboxes = {}
    for key, (name, kind, team) in data.INBOXES.items():
        inbox, _ = Inbox.objects.update_or_create(
            shop=shop,
            name=name,
            defaults={
                "kind": kind,
                "team": teams[team],
                "is_active": True,
                "config": data.INBOX_CONFIG.get(key, {}),
            },
        )
        inboxes[key] = inbox
    return inboxes


def _macros(shop: Shop) -> None:
    for spec in data.MACROS:
        Macro.objects.update_or_create(
            shop=shop,
            name=spec["name"],
            language=spec["language"],
            defaults={"body": spec["body"], "set_status": spec["set_status"], "add_tags": spec["add_tags"]},
        )


def _absence(agents: dict[str, Agent], now: dt.datetime) -> None:
    spec = data.ABSENCE
    agent = agents[spec["agent"]]
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    starts, ends = (
        today - dt.timedelta(days=spec["days_before"]),
        today + dt.timedelta(days=spec["days_after"] + 1),
    )
    if not Absence.objects.filter(agent=agent, starts_at__lte=now, ends_at__gt=now).exists():
        absence_add(agent=agent, starts_at=starts, ends_at=ends, reason=spec["reason"])


def _customers(shop: Shop, agents: dict[str, Agent]) -> dict[str, Contact]:
    found = {}
    for key, spec in data.CUSTOMERS.items():
        addresses = contacts.addresses_from(email=spec.email, phone=spec.phone)
        contact, _ = contacts.contact_identify(
            shop=shop, addresses=addresses, name=spec.name, language=spec.language
        )
        if spec.notes:
            contacts.contact_update(contact=contact, actor=None, notes=spec.notes)
        if spec.caretaker:
            contacts.contact_set_caretaker(
                contact=contact,
                caretaker=agents[spec.caretaker],
                backup=agents[spec.backup] if spec.backup else None,
                actor=None,
            )
        found[key] = contact
    return found


# --- Playing the stories -------------------------------------------------------------------------------


def _play(cast: Cast, now: dt.datetime) -> None:
    """Run every step of every story in time order, with the clock at that step's moment."""
    timeline: list[tuple[dt.datetime, int, int, tuple[Any, ...]]] = []
    for s, story in enumerate(data.STORIES):
        at = now - parse_ago(story.ago)
        for i, step in enumerate(story.steps):
            at += dt.timedelta(minutes=step[1])
            timeline.append((min(at, now - dt.timedelta(seconds=30)), s, i, step))
    timeline.sort(key=lambda t: (t[0], t[1], t[2]))
    cases: dict[int, Conversation] = {}
    try:
        for at, s, _, step in timeline:
            clock.freeze(at)
            story = data.STORIES[s]
            conversation = cases.get(s)
            if conversation is not None:
                conversation = Conversation.objects.select_related("contact", "shop", "inbox").get(
                    pk=conversation.pk
                )
            cases[s] = _step(cast, story, conversation, step)
            if conversation is None and story.tags:
                conversations.conversation_tag(conversation=cases[s], add=story.tags, actor=None)
    finally:
        clock.freeze(None)


def _step(
    cast: Cast, story: data.Story, conversation: Conversation | None, step: tuple[Any, ...]
) -> Conversation:
    kind = step[0]
    if kind == "in":
        return _inbound(cast, story, conversation, step[2], *(step[3:4] or [{}]))
    assert conversation is not None, f"{story.subject}: the first step must be the customer's message"
    if kind == "reply":
        options = step[4] if len(step) > 4 else {}
        message = conversations.message_send(
            conversation=conversation,
            agent=cast.agents[step[2]],
            text=step[3],
            channel=options.get("channel"),
            status_after=options.get("status_after", "pending_customer"),
        )
        # History, not a live send: record the outcome the delivery task once had.
        if options.get("failed"):
            conversations.delivery_mark(message=message, ok=False, error=options["failed"])
        else:
            conversations.delivery_mark(
                message=message,
                ok=True,
                provider_id=f"<demo.{message.pk}@{data.SHOP['slug']}.opiekun.localhost>",
            )
    elif kind == "note":
        conversations.note_add(conversation=conversation, agent=cast.agents[step[2]], text=step[3])
    elif kind == "call":
        _log_contact(
            cast,
            story,
            conversation,
            agent=step[2],
            direction=step[3],
            text=step[4],
            note_kind=step[5] if len(step) > 5 else "call",
        )
    elif kind == "status":
        conversations.conversation_set_status(
            conversation=conversation, status=step[3], actor=cast.agents[step[2]]
        )
    elif kind == "assign":
        team = cast.teams[step[4]] if len(step) > 4 else None
        conversations.conversation_assign(
            conversation=conversation,
            agent=cast.agents[step[3]] if step[3] else None,
            actor=cast.agents[step[2]],
            team=team,
            set_team=team is not None,
        )
    elif kind == "priority":
        conversations.conversation_set_priority(
            conversation=conversation, priority=step[3], actor=cast.agents[step[2]]
        )
    else:
        raise ValueError(f"unknown demo step {kind!r}")
    return conversation


def _inbound(
    cast: Cast, story: data.Story, conversation: Conversation | None, text: str, options: dict[str, Any]
) -> Conversation:
    contact = cast.customers[story.customer]
    customer = data.CUSTOMERS[story.customer]
    channel = options.get("channel", story.channel)
    if channel == "webform":
        # What the contact form posts (first message) or the portal posts (a reply on the case).
        payload: dict[str, Any] = {"message": text, "language": customer.language}
        if conversation is None:
            payload.update(
                name=customer.name,
                email=customer.email,
                phone=customer.phone,
                subject=story.subject,
                order_ref=story.order,
                via="demo",
            )
        else:
            payload.update(contact_id=contact.pk, conversation_id=conversation.pk)
        return _through_pipeline(cast.inboxes["webform"], "webform", payload)
    if channel == "note":
        return _log_contact(
            cast,
            story,
            conversation,
            agent=story.logged_by,
            direction="in",
            text=text,
            note_kind=story.note_kind,
        )
    if channel == "email":
        return _through_mail(cast, story, conversation, text)
    # SMS, chat and phone have no driver in this install yet: record as those drivers will.
    if conversation is None:
        route = route_new_conversation(contact=contact, team=cast.teams["support"])
        conversation = conversations.conversation_create(
            shop=cast.shop,
            contact=contact,
            subject=story.subject,
            route=route,
            order_ref=story.order,
            language=customer.language,
        )
    conversations.message_record_inbound(
        conversation=conversation, channel=channel, text=text, author_contact=contact, meta=dict(story.meta)
    )
    return conversation


def _log_contact(
    cast: Cast,
    story: data.Story,
    conversation: Conversation | None,
    *,
    agent: str,
    direction: str,
    text: str,
    note_kind: str,
) -> Conversation:
    payload = {
        "contact_id": cast.customers[story.customer].pk,
        "agent_id": cast.agents[agent].pk,
        "note_kind": note_kind,
        "direction": direction,
        "text": text,
        "conversation_id": conversation.pk if conversation else None,
        "subject": story.subject if conversation is None else "",
    }
    return _through_pipeline(cast.inboxes["note"], "note", payload)


def _through_mail(
    cast: Cast, story: data.Story, conversation: Conversation | None, text: str
) -> Conversation:
    """The customer's e-mail as their mail program would send it, through the real parser and pipeline:
    a reply carries In-Reply-To/References and quotes the message it answers."""
    customer = data.CUSTOMERS[story.customer]
    inbox = cast.inboxes["email"]
    mail = EmailMessage()
    mail["From"] = formataddr((customer.name, customer.email))
    mail["To"] = inbox.config["address"]
    mail["Date"] = formatdate(clock.now().timestamp(), localtime=True)
    mail["Message-ID"] = make_msgid(domain=customer.email.rpartition("@")[2] or "example.org")
    body = text
    if conversation is None:
        mail["Subject"] = story.subject
    else:
        mail["Subject"] = f"Re: {conversation.subject} [#{conversation.number}]"
        previous = (
            conversation.messages.filter(is_internal=False).exclude(text="").order_by("-created_at").first()
        )
        if previous is not None:
            if previous.rfc_message_id:
                mail["In-Reply-To"] = f"<{previous.rfc_message_id}>"
                mail["References"] = f"<{previous.rfc_message_id}>"
            when = timezone.localtime(previous.created_at).strftime("%d.%m.%Y %H:%M")
            quoted = "\n".join(f"> {line}".rstrip() for line in previous.text.splitlines())
            body = f"{text}\n\nW dniu {when} {cast.shop.name} pisze:\n{quoted}\n"
    mail.set_content(body)
    outcome = mail_ingest(inbox=inbox, raw=mail.as_bytes(), source="file")
    if outcome.conversation_number is None or outcome.outcome not in (pipeline.CREATED, pipeline.APPENDED):
        raise CommandError(f"The demo e-mail was not stored: {outcome.outcome} {outcome.reason}")
    return Conversation.objects.get(shop=cast.shop, number=outcome.conversation_number)


def _through_pipeline(inbox: Inbox, kind: str, payload: dict[str, Any]) -> Conversation:
    [message] = drivers.get(kind).parse_inbound(payload)
    result = pipeline.process(inbox=inbox, message=message)
    if result.conversation is None or result.outcome not in (pipeline.CREATED, pipeline.APPENDED):
        raise CommandError(f"The demo {kind} message was not stored: {result.outcome} {result.reason}")
    return result.conversation


_AGO = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_ago(text: str) -> dt.timedelta:
    """'5d3h' → 5 days 3 hours; '40m' → 40 minutes."""
    match = _AGO.match(text)
    if not match or not text:
        raise ValueError(f"not a duration: {text!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


@contextlib.contextmanager
def _tasks_inline() -> Iterator[None]:
    """Run tasks the seed triggers (delivery of replies already recorded as sent) inline, not queued.

    Otherwise ~40 no-op delivery tasks would wait in the queue for the next `opiekun run`.
    """
    from huey.contrib.djhuey import HUEY

    was = HUEY.immediate
    HUEY.immediate = True
    try:
        yield
    finally:
        HUEY.immediate = was


# --- The password, kept per data folder ----------------------------------------------------------------


def _password_path() -> Path:
    return Path(settings.DATA_DIR) / PASSWORD_FILE


def _stored_password() -> str | None:
    path = _password_path()
    if not path.exists():
        return None
    return path.read_text().strip() or None


def _store_password(password: str) -> None:
    path = _password_path()
    path.write_text(password + "\n")
    path.chmod(0o600)


def _new_password() -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
