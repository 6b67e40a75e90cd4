"""`opiekun mail …` on hand-written mail files: import (--json lines), duplicates, garbage, add-inbox,
quarantine listing and retry, and clear errors instead of tracebacks."""

from __future__ import annotations

import io
import json
import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from opiekun.conversations.models import Conversation, Message
from opiekun.inboxes import pipeline
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.testing import factories

FIXTURES = Path(__file__).parent / "fixtures"


def mail(*args: str) -> str:
    out = io.StringIO()
    call_command("mail", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    names = ("new_case_pl.eml", "reply_pl.eml", "vacation_ru.eml", "photo_en.eml", "two.mbox", "garbage.eml")
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / name)
    return {name: str(tmp_path / name) for name in names}


@pytest.mark.django_db
def test_import_json_prints_one_object_per_message(email_inbox: Inbox, files: dict[str, str]) -> None:
    order = ("new_case_pl.eml", "reply_pl.eml", "vacation_ru.eml", "photo_en.eml", "two.mbox")
    lines = json_lines(mail("import", "--json", *(files[n] for n in order)))

    assert [line["file"] for line in lines] == [
        files["new_case_pl.eml"],
        files["reply_pl.eml"],
        files["vacation_ru.eml"],
        files["photo_en.eml"],
        f"{files['two.mbox']}#1",
        f"{files['two.mbox']}#2",
    ]
    new, reply, vacation, photo, mbox1, mbox2 = lines
    assert new == {
        "file": files["new_case_pl.eml"],
        "outcome": "created",
        "conversation": new["conversation"],
        "from_email": "jan.kowalski@example.org",
        "subject": "Zamówienie 1234 nie dotarło",
        "language": "pl",
        "reply_text": new["reply_text"],
        "attachments": [{"filename": "faktura-1234.pdf", "mime": "application/pdf", "size": 77}],
        "raw_id": new["raw_id"],
    }
    assert new["reply_text"].startswith("Dzień dobry,") and "Jan Kowalski" in new["reply_text"]
    assert isinstance(new["conversation"], int)
    assert (reply["outcome"], reply["conversation"]) == ("appended", new["conversation"])
    assert reply["reply_text"] == "Paczka właśnie przyszła, dziękuję za pomoc!"
    assert (vacation["outcome"], vacation["conversation"], vacation["language"]) == ("auto_reply", None, "ru")
    assert photo["attachments"] == [{"filename": "mug.png", "mime": "image/png", "size": 70}]
    assert (photo["language"], photo["from_email"]) == ("en", "alice@example.com")
    assert [(m["outcome"], m["from_email"], m["subject"]) for m in (mbox1, mbox2)] == [
        ("created", "ewa@example.pl", "Zwrot towaru"),
        ("created", "piotr@example.pl", "Faktura VAT"),
    ]
    assert Conversation.objects.filter(shop=email_inbox.shop).count() == 4
    assert set(RawMail.objects.values_list("source", flat=True)) == {"file"}


@pytest.mark.django_db
def test_re_import_is_a_duplicate_and_stores_nothing_new(email_inbox: Inbox, files: dict[str, str]) -> None:
    paths = [files["new_case_pl.eml"], files["photo_en.eml"], files["two.mbox"]]
    first = json_lines(mail("import", "--json", *paths))
    messages = Message.objects.count()
    again = json_lines(mail("import", "--json", *paths))
    assert {line["outcome"] for line in first} == {"created"}
    assert [line["outcome"] for line in again] == ["duplicate"] * 4
    assert Message.objects.count() == messages


@pytest.mark.django_db
def test_a_garbage_file_is_a_quarantined_line_and_the_import_goes_on(
    email_inbox: Inbox, files: dict[str, str]
) -> None:
    lines = json_lines(mail("import", "--json", files["garbage.eml"], files["photo_en.eml"]))
    garbage, photo = lines
    assert garbage["outcome"] == "quarantined" and "not an e-mail" in garbage["reason"]
    assert garbage["conversation"] is None
    assert photo["outcome"] == "created"
    assert RawMail.objects.get(pk=garbage["raw_id"]).state == RawMail.State.QUARANTINED

    text = mail("import", files["garbage.eml"], files["photo_en.eml"])  # the plain-text report
    assert f"{files['garbage.eml']}: quarantined (" in text
    assert f"{files['photo_en.eml']}: duplicate" in text
    assert text.strip().endswith("duplicate: 1, quarantined: 1")


@pytest.mark.django_db
def test_import_into_a_named_inbox_and_clear_errors(shop, files: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    factories.InboxFactory(shop=shop, kind="webform", name="Contact form")
    with pytest.raises(CommandError, match="Create one with `opiekun mail add-inbox`"):
        mail("import", files["photo_en.eml"])
    first = factories.InboxFactory(
        shop=shop, kind="email", name="Support", config={"address": "a@sklep.test"}
    )
    second = factories.InboxFactory(shop=shop, kind="email", name="Sales", config={"address": "b@sklep.test"})
    (line,) = json_lines(mail("import", "--json", "--inbox", "Sales", files["photo_en.eml"]))
    assert RawMail.objects.get(pk=line["raw_id"]).inbox_id == second.pk != first.pk
    with pytest.raises(CommandError, match="'Nowhere'"):
        mail("import", "--inbox", "Nowhere", files["photo_en.eml"])
    with pytest.raises(CommandError, match="Cannot read"):
        mail("import", files["photo_en.eml"] + ".missing")
    with pytest.raises(CommandError, match="IMAP"):
        mail("fetch")  # no inbox of the shop pulls over IMAP
    factories.ShopFactory(slug="second")
    with pytest.raises(CommandError, match="--shop"):
        mail("import", files["photo_en.eml"])
    with pytest.raises(CommandError, match="No shop with the slug"):
        mail("import", "--shop", "missing", files["photo_en.eml"])


@pytest.mark.django_db
def test_no_shop_at_all_is_a_clear_error(files: dict[str, str]) -> None:
    with pytest.raises(CommandError, match="There is no shop yet"):
        mail("import", files["photo_en.eml"])


@pytest.mark.django_db
def test_add_inbox_takes_the_password_from_an_environment_variable(
    shop, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SKLEP_IMAP_PASSWORD", "tajne-hasło-123")
    output = mail(
        "add-inbox",
        "--shop",
        shop.slug,
        "--name",
        "Poczta sklepu",
        "--address",
        "Kontakt@Sklep.test",
        "--imap-host",
        "imap.sklep.test",
        "--imap-security",
        "ssl",
        "--imap-username",
        "kontakt",
        "--imap-password-env",
        "SKLEP_IMAP_PASSWORD",
    )
    inbox = Inbox.objects.get(shop=shop, name="Poczta sklepu")
    assert "Poczta sklepu" in output and "tajne" not in output
    assert inbox.kind == "email"
    assert inbox.config["address"] == "kontakt@sklep.test"  # as the driver normalised it
    assert (inbox.config["imap_host"], inbox.config["imap_username"]) == ("imap.sklep.test", "kontakt")
    assert inbox.secrets == {"imap_password": "tajne-hasło-123"}
    assert "tajne" not in json.dumps(inbox.config)

    # A password is never typed on the command line (it would sit in the shell history and `ps`).
    with pytest.raises(CommandError):
        mail(
            "add-inbox",
            "--shop",
            shop.slug,
            "--name",
            "X",
            "--address",
            "x@sklep.test",
            "--imap-password",
            "p",
        )
    with pytest.raises(CommandError, match="NOT_SET_ANYWHERE"):
        mail(
            "add-inbox",
            "--shop",
            shop.slug,
            "--name",
            "Y",
            "--address",
            "y@sklep.test",
            "--smtp-password-env",
            "NOT_SET_ANYWHERE",
        )
    with pytest.raises(CommandError, match="address"):
        mail("add-inbox", "--shop", shop.slug, "--name", "Z", "--address", "not-an-address")
    with pytest.raises(CommandError, match="already has an inbox"):
        mail("add-inbox", "--shop", shop.slug, "--name", "Poczta sklepu", "--address", "z@sklep.test")
    assert not Inbox.objects.filter(name__in=["X", "Y", "Z"]).exists()


def _big_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Marek <marek@example.pl>"
    msg["To"] = "support@sklep.test"
    msg["Subject"] = "Zdjęcia uszkodzonej paczki"
    msg["Message-ID"] = "<zdjecia-1@example.pl>"
    msg.set_content("W załączniku zdjęcia.")
    msg.add_attachment(
        b"PK\x03\x04" + b"z" * (2 * 1024 * 1024), maintype="application", subtype="zip", filename="a.zip"
    )
    return msg.as_bytes()


@pytest.mark.django_db
def test_quarantine_lists_and_retry_processes_after_the_fix(email_inbox: Inbox, tmp_path: Path) -> None:
    Inbox.objects.filter(pk=email_inbox.pk).update(
        config={"address": "support@sklep.test", "max_message_mb": 1}
    )
    big = tmp_path / "big.eml"
    big.write_bytes(_big_mail())
    (imported,) = json_lines(mail("import", "--json", str(big)))
    assert imported["outcome"] == "quarantined"

    (listed,) = json_lines(mail("quarantine", "--json"))
    assert listed["raw_id"] == imported["raw_id"]
    assert listed["inbox"] == email_inbox.name
    assert (listed["from_email"], listed["subject"]) == ("marek@example.pl", "Zdjęcia uszkodzonej paczki")
    assert "too large" in listed["reason"]
    plain = mail("quarantine")
    assert plain.startswith(f"{imported['raw_id']}\t{email_inbox.name}\tZdjęcia uszkodzonej paczki\t")

    Inbox.objects.filter(pk=email_inbox.pk).update(
        config={"address": "support@sklep.test", "max_message_mb": 10}
    )
    retried = json.loads(mail("retry", str(imported["raw_id"])))
    assert retried["outcome"] == "created" and retried["raw_id"] == imported["raw_id"]
    assert mail("quarantine", "--json").strip() == ""
    with pytest.raises(CommandError, match="Only a quarantined mail"):
        mail("retry", str(imported["raw_id"]))


@pytest.mark.django_db
def test_quarantine_of_one_shop_only(email_inbox: Inbox, other_shop, files: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    mail("import", "--shop", email_inbox.shop.slug, files["garbage.eml"])
    assert len(json_lines(mail("quarantine", "--json", "--shop", email_inbox.shop.slug))) == 1
    assert mail("quarantine", "--json", "--shop", other_shop.slug).strip() == ""
    (row,) = RawMail.objects.all()
    with pytest.raises(CommandError, match="Only a quarantined mail of this shop"):
        mail("retry", str(row.pk), "--shop", other_shop.slug)


@pytest.mark.django_db
def test_pending_processes_mail_stored_but_not_processed(email_inbox: Inbox) -> None:
    from opiekun.inboxes.mailstore import mail_receive

    raw_id = mail_receive(
        inbox_id=email_inbox.pk, raw=(FIXTURES / "photo_en.eml").read_bytes(), source="smtp"
    )
    assert mail("pending").strip() == "processed 1 stored mail(s)"
    row = RawMail.objects.get(pk=raw_id)
    assert (row.state, row.outcome) == (RawMail.State.PROCESSED, pipeline.CREATED)
    assert mail("pending").strip() == "processed 0 stored mail(s)"


@pytest.mark.django_db
def test_mail_test_logs_in_to_imap_and_smtp_and_says_which_one_fails(shop, smtp_sink) -> None:
    from opiekun.testing.mailservers import free_port

    factories.InboxFactory(
        shop=shop,
        kind="email",
        name="Support",
        config={
            "address": "pomoc@sklep.test",
            "imap_host": "127.0.0.1",
            "imap_port": free_port(),  # nobody listens
            "imap_security": "none",
            "smtp_host": smtp_sink.host,
            "smtp_port": smtp_sink.port,
            "smtp_security": "none",
        },
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="The connection test failed"):
        call_command("mail", "test", stdout=out, stderr=io.StringIO())
    line = out.getvalue().strip()
    assert line.startswith("Support: receiving (IMAP) ") and "refused" in line
    assert line.endswith("sending (SMTP) OK")
    assert smtp_sink.messages == []  # logged in, nothing sent
