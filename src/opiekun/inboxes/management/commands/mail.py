"""`opiekun mail …`: feed, fetch and look after the e-mail channel from the command line.

opiekun mail import FILE... [--inbox NAME] [--shop SLUG] [--json]   # .eml or .mbox, same pipeline as IMAP
opiekun mail fetch [--inbox NAME] [--shop SLUG]                     # one IMAP pass over the inbox(es)
opiekun mail test [--inbox NAME] [--shop SLUG]                      # check the IMAP connection
opiekun mail pending                                                # process mail stored but not processed
opiekun mail quarantine [--shop SLUG] [--json]                      # list what could not be processed
opiekun mail retry RAW_ID [--shop SLUG]                             # run a quarantined mail again
opiekun mail add-inbox --shop SLUG --name NAME --address ADDR [--imap-host …] [--smtp-host …]

`--json` prints one object per line: file, outcome (created | appended | duplicate | auto_reply | bounce
| rejected | quarantined), conversation number, from_email, subject, language, reply_text, attachments.
"""

from __future__ import annotations

import json
import mailbox
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.shops.access import access_shop_by_slug
from opiekun.shops.models import Shop

from ... import fetching
from ...mailstore import mail_ingest_stream, mail_process_pending, mail_retry
from ...models import Inbox, RawMail
from ...services import inbox_create


class Command(BaseCommand):
    help = "Import, fetch and look after e-mail (import files, IMAP fetch, quarantine, retry)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        imp = sub.add_parser("import", help="Feed .eml/.mbox files through the e-mail pipeline.")
        imp.add_argument("files", nargs="+", help=".eml files (one mail each) or mbox files.")
        fetch = sub.add_parser("fetch", help="Fetch new mail over IMAP once.")
        test = sub.add_parser(
            "test", help="Log in to the inbox(es)' IMAP and SMTP servers (nothing is fetched or sent)."
        )
        for p in (imp, fetch, test):
            p.add_argument("--inbox", help="The e-mail inbox's name (default: the shop's e-mail inboxes).")
            p.add_argument("--shop", help="The shop's slug (needed when there are several shops).")
        imp.add_argument("--json", action="store_true", help="One JSON object per message.")
        sub.add_parser("pending", help="Process mail that was stored but not processed yet.")
        quarantine = sub.add_parser("quarantine", help="List mail that could not be processed.")
        quarantine.add_argument("--shop", help="Only this shop.")
        quarantine.add_argument("--json", action="store_true", help="One JSON object per line.")
        retry = sub.add_parser("retry", help="Run a quarantined mail through the pipeline again.")
        retry.add_argument("raw_id", type=int)
        retry.add_argument("--shop", help="The shop's slug (needed when there are several shops).")
        add = sub.add_parser("add-inbox", help="Create an e-mail inbox.")
        add.add_argument("--shop", help="The shop's slug (needed when there are several shops).")
        add.add_argument("--name", required=True)
        add.add_argument("--address", required=True, help="The support address, e.g. support@shop.pl.")
        for kind in ("imap", "smtp"):
            add.add_argument(f"--{kind}-host", default="")
            add.add_argument(f"--{kind}-port", type=int)
            add.add_argument(f"--{kind}-security", choices=("ssl", "starttls", "none"))
            add.add_argument(f"--{kind}-username", default="")
            add.add_argument(
                f"--{kind}-password-env",
                default="",
                help=f"Name of an environment variable holding the {kind.upper()} password (not typed here).",
            )
        add.add_argument("--imap-folder", default="")
        add.add_argument(
            "--imap-history",
            choices=("unread", "all"),
            help="Mail already in the folder when first connected: only the unread (default) or all of it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"do_{action}")(**options)

    # -- the sub-commands

    def do_import(self, *, files: list[str], json: bool = False, **options: Any) -> None:
        inbox = self._inboxes(options.get("shop"), options.get("inbox"))[0]
        totals: dict[str, int] = {}
        labels: list[str] = []

        def raws() -> Iterator[bytes]:
            for label, raw in _messages(files, stderr=self.stderr):
                labels.append(label)
                yield raw

        outcomes = mail_ingest_stream(inbox=inbox, raws=raws(), source=RawMail.Source.FILE)
        for index, outcome in enumerate(outcomes):
            label = labels[index]
            totals[outcome.outcome] = totals.get(outcome.outcome, 0) + 1
            if json:
                self.stdout.write(_json({"file": label, **outcome.as_json()}))
            else:
                number = f" #{outcome.conversation_number}" if outcome.conversation_number else ""
                reason = f" ({outcome.reason})" if outcome.reason else ""
                self.stdout.write(f"{label}: {outcome.outcome}{number}{reason}")
        if not json:
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "nothing imported")

    def do_fetch(self, **options: Any) -> None:
        for inbox in self._inboxes(options.get("shop"), options.get("inbox"), pulled=True):
            report = fetching.fetch_inbox(inbox)
            line = f"{inbox.name}: fetched {report.fetched}, stored {report.stored}"
            self.stdout.write(line + "".join(f"\n  error: {e}" for e in report.errors))

    def do_test(self, **options: Any) -> None:
        failed = False
        for inbox in self._inboxes(options.get("shop"), options.get("inbox"), own_servers=True):
            config = inbox.config or {}
            parts = []
            for label, configured, test in (
                ("receiving (IMAP)", config.get("imap_host"), fetching.test_inbox),
                ("sending (SMTP)", config.get("smtp_host"), fetching.test_sending),
            ):
                if configured:
                    problem = test(inbox)
                    failed = failed or problem is not None
                    parts.append(f"{label} {problem or 'OK'}")
            self.stdout.write(f"{inbox.name}: " + "; ".join(parts))
        if failed:
            raise CommandError("The connection test failed.")

    def do_pending(self, **options: Any) -> None:
        outcomes = mail_process_pending()
        self.stdout.write(f"processed {len(outcomes)} stored mail(s)")

    def do_quarantine(self, *, json: bool = False, **options: Any) -> None:
        rows = RawMail.objects.filter(state=RawMail.State.QUARANTINED).select_related("inbox")
        shop = _shop(options.get("shop"))
        if shop is not None:
            rows = rows.filter(shop=shop)
        for row in rows.order_by("-received_at")[:500]:
            data = {
                "raw_id": row.pk,
                "inbox": row.inbox.name,
                "received_at": row.received_at.isoformat(),
                "from_email": row.from_email,
                "subject": row.subject,
                "reason": row.error,
            }
            self.stdout.write(
                _json(data) if json else f"{row.pk}\t{row.inbox.name}\t{row.subject}\t{row.error}"
            )

    def do_retry(self, *, raw_id: int, **options: Any) -> None:
        shop = _shop(options.get("shop")) or _only_shop()
        try:
            outcome = mail_retry(shop_id=shop.pk, raw_id=raw_id)
        except ValidationFailed as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(_json(outcome.as_json()))

    def do_add_inbox(self, **options: Any) -> None:
        shop = _shop(options.get("shop")) or _only_shop()
        config: dict[str, Any] = {"address": options["address"]}
        for key in ("imap_folder", "imap_history"):
            if options.get(key):
                config[key] = options[key]
        secrets: dict[str, str] = {}
        for kind in ("imap", "smtp"):
            for key in ("host", "port", "security", "username"):
                value = options.get(f"{kind}_{key}")
                if value:
                    config[f"{kind}_{key}"] = value
            env = options.get(f"{kind}_password_env")
            if env:
                if env not in os.environ:
                    raise CommandError(f"The environment variable {env} is not set.")
                secrets[f"{kind}_password"] = os.environ[env]
        try:
            inbox = inbox_create(
                shop=shop, kind="email", name=options["name"], config=config, secrets=secrets
            )
        except ValidationFailed as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created the e-mail inbox {inbox.name!r} (id {inbox.pk}) for {shop.slug}.")

    # -- helpers

    def _inboxes(
        self, slug: str | None, name: str | None, *, pulled: bool = False, own_servers: bool = False
    ) -> list[Inbox]:
        shop = _shop(slug) or _only_shop()
        inboxes = Inbox.objects.filter(shop=shop, kind="email", is_active=True).order_by("id")
        if name:
            inboxes = inboxes.filter(name=name)
        wanted = ("imap_host", "smtp_host") if own_servers else ("imap_host",) if pulled else ()
        found = [i for i in inboxes if not wanted or any((i.config or {}).get(key) for key in wanted)]
        if not found:
            what = f"active e-mail inbox named {name!r}" if name else "active e-mail inbox"
            hint = " with an IMAP or SMTP server" if own_servers else " with an IMAP server" if pulled else ""
            raise CommandError(
                f"The shop {shop.slug!r} has no {what}{hint}. Create one with `opiekun mail add-inbox`."
            )
        return found


def _shop(slug: str | None) -> Shop | None:
    if not slug:
        return None
    try:
        return access_shop_by_slug(slug)
    except NotFound:
        raise CommandError(f"No shop with the slug {slug!r}.") from None


def _only_shop() -> Shop:
    shops = list(Shop.objects.order_by("id")[:2])
    if len(shops) != 1:
        raise CommandError("Name the shop with --shop SLUG." if shops else "There is no shop yet.")
    return shops[0]


def _messages(files: list[str], *, stderr: Any) -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) of every mail in `files`: a .eml is one mail, an mbox file holds many."""
    for name in files:
        path = Path(name)
        try:
            with path.open("rb") as fh:
                head = fh.read(5)
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror}") from None
        if head == b"From " and not path.suffix.lower() == ".eml":
            box = mailbox.mbox(str(path), create=False)
            try:
                for index, key in enumerate(box.iterkeys(), start=1):
                    yield f"{name}#{index}", box.get_bytes(key)
            finally:
                box.close()
        else:
            yield name, path.read_bytes()


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)
