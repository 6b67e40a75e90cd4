"""The `opiekun` console command as an operator uses it: real subprocesses on their own data folders.

Each test points OPIEKUN_DATA_DIR at an empty temporary folder (the DESIGN.md contract: an empty data
folder plus `opiekun migrate` is a fresh, independent installation) and runs from that folder, so no
`.env` of the developer's checkout leaks in. The in-process demo tests at the end also run on
PostgreSQL when the suite does.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from opiekun.agents.models import Absence, Agent
from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Conversation, Event, Macro, Message, Status
from opiekun.conversations.selectors import view_counts
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.shops.models import Shop

OPIEKUN = str(Path(sys.executable).with_name("opiekun"))
PASSWORD = "demo-pass-123"


def opiekun_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh installation in `data_dir` (nothing inherited from the test run)."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPIEKUN_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "opiekun.config.settings.dev",
        "OPIEKUN_DATA_DIR": str(data_dir),
        **extra,
    }


def run(
    data_dir: Path, *args: str, input: str | None = None, check: bool = True, **extra: str
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [OPIEKUN, *args],
        env=opiekun_env(data_dir, **extra),
        cwd=data_dir,
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"opiekun {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def query(data_dir: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(data_dir / "opiekun.sqlite3") as db:
        return db.execute(sql).fetchall()


@pytest.fixture
def install(tmp_path: Path) -> Path:
    """A migrated, empty installation."""
    data = tmp_path / "data"
    data.mkdir()
    run(data, "migrate", "--noinput", "-v", "0")
    return data


def test_console_entry_point_lists_the_operator_commands(tmp_path):
    done = run(tmp_path, "help")
    for command in ("run", "migrate", "demo", "createagent", "check"):
        assert f"    {command}\n" in done.stdout
    bare = run(tmp_path)  # no subcommand: help, not a traceback
    assert "Type 'opiekun help <subcommand>'" in bare.stdout


def test_migrate_on_an_empty_folder_is_a_fresh_independent_install(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for data in (first, second):
        data.mkdir()
        run(data, "migrate", "--noinput", "-v", "0")
        assert (data / "opiekun.sqlite3").exists() and (data / "secret_key").exists()
    run(
        first,
        "createagent",
        "--shop",
        "alpha",
        "--create-shop",
        "Alpha",
        "--username",
        "ala",
        "--name",
        "Ala Kot",
        "--password",
        "zielona-herbata-7",
    )

    assert query(first, "select username from auth_user") == [("ala",)]
    assert query(second, "select username from auth_user") == []
    assert query(second, "select count(*) from shops_shop") == [(0,)]
    assert (first / "secret_key").read_text() != (second / "secret_key").read_text()
    assert oct((first / "secret_key").stat().st_mode & 0o777) == "0o600"
    # Nothing was written next to the code: the data folder holds the whole installation.
    assert not (tmp_path / "var").exists()


def test_demo_seeds_the_promised_shop_and_keeps_it_on_a_second_start(install):
    done = run(install, "demo", "--password", PASSWORD, "--json")
    report = json.loads(done.stdout)
    assert report["seeded"] is True and report["shop"] == "demo"
    assert report["logins"] == ["anna", "piotr", "olga"] and report["password"] == PASSWORD
    assert report["contacts"] >= 28 and report["conversations"] >= 45
    assert report["seconds"] < 20

    counts = query(
        install,
        "select (select count(*) from conversations_conversation), "
        "(select count(*) from conversations_message), (select count(*) from contacts_contact)",
    )
    again = json.loads(run(install, "demo", "--if-empty", "--json").stdout)
    assert again["seeded"] is False and again["password"] == PASSWORD
    rerun = json.loads(run(install, "demo", "--json").stdout)  # without --if-empty: still idempotent
    assert rerun["seeded"] is False
    assert (
        query(
            install,
            "select (select count(*) from conversations_conversation), "
            "(select count(*) from conversations_message), (select count(*) from contacts_contact)",
        )
        == counts
    )
    # Nothing went out and nothing waits to go out: the demo's replies are history.
    assert not (install / "outbox").exists() or not any((install / "outbox").iterdir())
    assert query(install, "select count(*) from conversations_message where delivery_status = 'queued'") == [
        (0,)
    ]


def test_demo_prints_the_logins_with_a_password_generated_once_per_folder(install):
    first = run(install, "demo").stdout
    password = (install / "demo_password").read_text().strip()
    assert oct((install / "demo_password").stat().st_mode & 0o777) == "0o600"
    assert len(password) >= 12 and f"password: {password}" in first
    for login in ("anna", "piotr", "olga"):
        assert f"    {login} " in first
    assert "http://127.0.0.1:8000/" in first
    second = run(install, "demo", "--if-empty").stdout
    assert f"password: {password}" in second  # `make run` twice: same data, same password

    # The printed password really opens the desk login of each demo agent.
    check = run(
        install,
        "shell",
        "-c",
        "from django.contrib.auth import authenticate as a; "
        f"print([bool(a(username=u, password={password!r})) for u in ('anna', 'piotr', 'olga')])",
    )
    assert check.stdout.strip().endswith("[True, True, True]")


def test_demo_refuses_a_weak_password(install):
    done = run(install, "demo", "--password", "1234", check=False)
    assert done.returncode == 1 and "too weak" in done.stderr
    assert query(install, "select count(*) from shops_shop") == [(0,)]


def test_createagent_creates_a_login_that_works(install):
    done = run(
        install,
        "createagent",
        "--shop",
        "sklep",
        "--create-shop",
        "Sklep",
        "--username",
        "ewa",
        "--name",
        "Ewa Nowak",
        "--email",
        "ewa@sklep.example",
        "--role",
        "admin",
        "--languages",
        "pl,en",
        "--password-stdin",
        "--json",
        input="zielona-herbata-7\n",
    )
    created = json.loads(done.stdout)
    assert created["username"] == "ewa" and created["shop"] == "sklep" and created["staff"] is True
    assert query(
        install,
        "select a.display_name, a.role, a.languages, u.email, u.is_staff from agents_agent a "
        "join auth_user u on u.id = a.user_id",
    ) == [("Ewa Nowak", "admin", '["pl", "en"]', "ewa@sklep.example", 1)]
    check = run(
        install,
        "shell",
        "-c",
        "from django.contrib.auth import authenticate as a; "
        "print(bool(a(username='ewa', password='zielona-herbata-7')), bool(a(username='ewa', password='x')))",
    )
    assert check.stdout.strip().endswith("True False")
    [(hashed,)] = query(install, "select password from auth_user")
    assert hashed.startswith("argon2$")  # never stored in clear


def test_createagent_rejects_a_taken_login_and_weak_passwords(install):
    args = ["createagent", "--shop", "sklep", "--create-shop", "Sklep", "--name", "Ewa Nowak"]
    run(install, *args, "--username", "ewa", "--password", "zielona-herbata-7")

    taken = run(install, *args, "--username", "ewa", "--password", "inne-haslo-123", check=False)
    assert taken.returncode == 1 and "taken" in taken.stderr
    for weak in ("short", "password123"):
        refused = run(install, *args, "--username", f"weak-{weak}", "--password", weak, check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
    no_shop = run(
        install,
        "createagent",
        "--shop",
        "nope",
        "--username",
        "x",
        "--name",
        "X",
        "--password",
        "zielona-herbata-7",
        check=False,
    )
    assert no_shop.returncode == 1 and "--create-shop" in no_shop.stderr
    no_tty = run(install, "createagent", "--shop", "sklep", "--username", "y", "--name", "Y", check=False)
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr
    assert query(install, "select username from auth_user") == [("ewa",)]
    assert query(install, "select count(*) from shops_shop") == [(1,)]


# --- In-process: the demo's content (runs on SQLite and PostgreSQL) --------------------------------------


@pytest.fixture
def demo(transactional_db, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path  # the demo keeps its password in the data folder; not the shared one
    mail.outbox = []
    call_command("demo", password=PASSWORD, stdout=io.StringIO())
    return Shop.objects.get(slug="demo")


def test_demo_content_fills_every_desk_view(demo):
    agents = {a.user.username: a for a in Agent.objects.filter(shop=demo).select_related("user")}
    assert {u: (a.display_name, a.role) for u, a in agents.items()} == {
        "anna": ("Anna Nowak", "admin"),
        "piotr": ("Piotr Wiśniewski", "agent"),
        "olga": ("Olga Iwanowa", "lead"),
    }
    assert agents["anna"].user.is_staff and not agents["piotr"].user.is_staff
    assert "ru" in agents["olga"].languages
    assert demo.sender_email == "support@sklep-demo.localhost" and demo.name == "Sklep Demo"
    assert set(Inbox.objects.filter(shop=demo).values_list("name", "kind")) == {
        ("Formularz kontaktowy", "webform"),
        ("Kontakty zapisane", "note"),
        ("Poczta", "email"),
        ("Czat na stronie", "livechat"),  # made by `opiekun demo`, not on the first /chat-demo/ visit
        ("SMS (SMSAPI)", "sms"),  # the phone day's text conversation (telephony/demo.py)
    }
    assert all(i.team is not None for i in Inbox.objects.filter(shop=demo))
    # The demo's e-mails came through the real parser and pipeline: raw mail kept, replies threaded
    # by In-Reply-To with the quoted history split off.
    mailbox = Inbox.objects.get(shop=demo, kind="email")
    outcomes = set(RawMail.objects.filter(inbox=mailbox).values_list("state", "outcome"))
    assert outcomes == {("processed", "created"), ("processed", "appended")}
    reply = Message.objects.filter(inbox=mailbox).exclude(quoted="").first()
    assert reply is not None and "pisze:" in reply.quoted and "pisze:" not in reply.text

    counts = view_counts(agent=agents["anna"]).as_dict()
    for view in (
        "mine",
        "my_customers",
        "unassigned",
        "open",
        "pending_customer",
        "pending_internal",
        "sla_risk",
    ):
        assert counts[view] > 0, view
    assert view_counts(agent=agents["olga"]).mine > 0
    statuses = set(Conversation.objects.filter(shop=demo).values_list("status", flat=True))
    assert statuses == set(Status.values)
    assert 3 <= counts["sla_risk"] <= 8  # a few, not all
    at_risk = (
        Conversation.objects.filter(
            shop=demo, status__in=("new", "open", "pending_internal"), sla_due_at__isnull=False
        )
        .order_by("sla_due_at")
        .first()
    )
    assert at_risk.waiting_since < at_risk.sla_due_at < at_risk.last_message_at.replace(year=3000)


def test_demo_content_spans_channels_languages_and_people(demo):
    channels = set(Message.objects.filter(shop=demo, is_internal=False).values_list("channel", flat=True))
    assert {"webform", "email", "sms", "voice", "livechat", "note"} <= channels
    assert Message.objects.filter(shop=demo, is_internal=True).count() >= 5
    replies = Message.objects.filter(shop=demo, direction="out", is_internal=False).exclude(channel="note")
    assert replies.count() >= 30
    assert set(replies.values_list("delivery_status", flat=True)) == {"sent", "failed"}
    assert mail.outbox == []  # history is recorded, nothing is mailed
    texts = " ".join(Message.objects.filter(shop=demo).values_list("text", flat=True))
    assert "Здравствуйте" in texts and "Dzień dobry" in texts and "Hello" in texts and "SD-10452" in texts

    contacts = Contact.objects.filter(shop=demo)
    assert 28 <= contacts.count() <= 35
    assert contacts.filter(caretaker__isnull=False, backup_caretaker__isnull=False).count() >= 5
    phones = set(Identity.objects.filter(shop=demo, kind="phone").values_list("value", flat=True))
    assert "+48601234567" in phones and all(p.startswith("+") and p[1:].isdigit() for p in phones)
    assert Conversation.objects.filter(shop=demo).exclude(tags=None).count() >= 20


def test_demo_shows_the_backup_taking_over_during_an_absence(demo):
    piotr = Agent.objects.get(user__username="piotr")
    absence = Absence.objects.get(agent=piotr)
    routed = Event.objects.filter(shop=demo, kind="conversation_created", data__routed="backup")
    assert routed.count() >= 2
    for event in routed:
        conversation = event.conversation
        assert conversation.contact.caretaker == piotr
        assert absence.starts_at <= conversation.created_at < absence.ends_at
        assert event.data["assignee"] in ("Anna Nowak", "Olga Iwanowa")


def test_demo_macros_in_three_languages_use_variables(demo):
    macros = Macro.objects.filter(shop=demo)
    assert {"pl", "en", "ru"} <= set(macros.values_list("language", flat=True))
    assert {"Status zamówienia", "Zwrot towaru"} <= set(macros.values_list("name", flat=True))
    assert all(
        "{{ contact.first_name }}" in m.body and "{{ conversation.order_ref }}" in m.body for m in macros
    )


def test_demo_twice_in_process_changes_nothing_but_the_password(demo):
    before = (
        Conversation.objects.count(),
        Message.objects.count(),
        Contact.objects.count(),
        Event.objects.count(),
    )
    call_command("demo", password="another-pass-456", stdout=io.StringIO())
    after = (
        Conversation.objects.count(),
        Message.objects.count(),
        Contact.objects.count(),
        Event.objects.count(),
    )
    assert after == before
    assert Agent.objects.get(user__username="olga").user.check_password("another-pass-456")


def test_demo_will_not_take_over_a_login_of_another_shop(transactional_db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    other = Shop.objects.create(slug="other", name="Other")
    from opiekun.agents.services import agent_create

    agent_create(shop=other, username="olga", password="zielona-herbata-7", display_name="Olga Other")
    with pytest.raises(CommandError, match="another shop"):
        call_command("demo", password=PASSWORD, stdout=io.StringIO())
    assert not Shop.objects.filter(slug="demo").exists()  # one transaction: nothing half-seeded
    assert Agent.objects.get(user__username="olga").shop == other
