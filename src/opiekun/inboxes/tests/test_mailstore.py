"""The raw-first mail store: receive (durable, idempotent), process (outcome or quarantine), retry, the
pending sweep, inline vs file storage, the acknowledgment of a new e-mail case, pathological mail."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.core import mail as django_mail
from django.core.cache import cache

from opiekun.conversations.attachments import blob_path
from opiekun.conversations.models import Conversation, Message
from opiekun.core.errors import ValidationFailed
from opiekun.inboxes import mailstore, mailthreads, pipeline
from opiekun.inboxes.mailstore import (
    INLINE_MAX,
    QUARANTINED,
    imap_cursor,
    mail_ingest,
    mail_ingest_stream,
    mail_process,
    mail_process_pending,
    mail_raw,
    mail_receive,
    mail_receive_batch,
    mail_retry,
)
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.testing import factories

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def compose(
    *,
    sender: str = "klient@example.org",
    subject: str = "Pytanie o zamówienie",
    text: str = "Dzień dobry, kiedy wyślecie moje zamówienie?",
    headers: dict[str, str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@sklep.test"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg["Date"] = "Tue, 03 Jun 2025 10:00:00 +0200"
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(text)
    if attachment is not None:
        msg.add_attachment(
            attachment[1], maintype="application", subtype="octet-stream", filename=attachment[0]
        )
    return msg.as_bytes()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():  # type: ignore[no-untyped-def]
    # Acknowledgment limits live in the (process-wide) test cache: start every test from zero.
    cache.clear()
    yield
    cache.clear()


# --- receive ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_receive_is_idempotent_on_mailbox_uidvalidity_and_uid(email_inbox: Inbox) -> None:
    raw = fixture("new_case_pl.eml")
    first = mail_receive(
        inbox_id=email_inbox.pk, raw=raw, source="imap", mailbox="INBOX", uidvalidity=7, uid=3
    )
    again = mail_receive(
        inbox_id=email_inbox.pk, raw=raw, source="imap", mailbox="INBOX", uidvalidity=7, uid=3
    )
    assert first == again
    assert RawMail.objects.filter(inbox=email_inbox).count() == 1
    # A new UIDVALIDITY (the folder was recreated) or another folder is another mail on the server.
    other_generation = mail_receive(
        inbox_id=email_inbox.pk, raw=raw, source="imap", mailbox="INBOX", uidvalidity=8, uid=3
    )
    other_folder = mail_receive(
        inbox_id=email_inbox.pk, raw=raw, source="imap", mailbox="Archive", uidvalidity=7, uid=3
    )
    assert len({first, other_generation, other_folder}) == 3
    row = RawMail.objects.get(pk=first)
    assert (row.state, row.source, row.size, mail_raw(row)) == (RawMail.State.RECEIVED, "imap", len(raw), raw)
    assert row.shop_id == email_inbox.shop_id
    assert imap_cursor(inbox_id=email_inbox.pk, mailbox="INBOX", uidvalidity=7) == 3
    assert imap_cursor(inbox_id=email_inbox.pk, mailbox="INBOX", uidvalidity=99) == 0


@pytest.mark.django_db
def test_the_same_uid_in_another_inbox_is_another_mail(email_inbox: Inbox, shop) -> None:  # type: ignore[no-untyped-def]
    other = factories.InboxFactory(
        shop=shop, kind="email", name="Sales", config={"address": "sales@sklep.test"}
    )
    raw = fixture("photo_en.eml")
    a = mail_receive(inbox_id=email_inbox.pk, raw=raw, source="imap", mailbox="INBOX", uidvalidity=1, uid=1)
    b = mail_receive(inbox_id=other.pk, raw=raw, source="imap", mailbox="INBOX", uidvalidity=1, uid=1)
    assert a != b


@pytest.mark.django_db
def test_batch_receive_stores_every_mail_in_order_and_batch_ingest_threads_within_the_batch(
    email_inbox: Inbox,
) -> None:
    raws = [fixture("new_case_pl.eml"), fixture("photo_en.eml"), fixture("reply_pl.eml")]
    ids = [row.pk for row in mail_receive_batch(inbox=email_inbox, raws=raws, source="smtp")]
    rows = [RawMail.objects.get(pk=i) for i in ids]
    assert [mail_raw(r) for r in rows] == raws
    assert {r.state for r in rows} == {RawMail.State.RECEIVED}
    RawMail.objects.filter(pk__in=ids).delete()

    outcomes = list(mail_ingest_stream(inbox=email_inbox, raws=raws, source="smtp"))
    assert [o.outcome for o in outcomes] == [pipeline.CREATED, pipeline.CREATED, pipeline.APPENDED]
    # The reply (In-Reply-To the first mail of the same batch) joins that case, not a new one.
    assert outcomes[2].conversation_number == outcomes[0].conversation_number
    assert outcomes[1].conversation_number != outcomes[0].conversation_number
    assert Conversation.objects.filter(shop=email_inbox.shop).count() == 2


# --- process ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_process_records_the_outcome_on_the_row_and_answers_it_again_without_redoing(
    email_inbox: Inbox,
) -> None:
    raw_id = mail_receive(inbox_id=email_inbox.pk, raw=fixture("new_case_pl.eml"), source="file")
    outcome = mail_process(raw_id)
    assert outcome.outcome == pipeline.CREATED
    assert (outcome.from_email, outcome.subject, outcome.language) == (
        "jan.kowalski@example.org",
        "Zamówienie 1234 nie dotarło",
        "pl",
    )
    assert outcome.attachments == [{"filename": "faktura-1234.pdf", "mime": "application/pdf", "size": 77}]
    row = RawMail.objects.get(pk=raw_id)
    assert (row.state, row.outcome, row.attempts) == (RawMail.State.PROCESSED, pipeline.CREATED, 1)
    assert row.conversation.number == outcome.conversation_number
    assert row.message.rfc_message_id == "zamowienie-1234.jan@example.org"
    assert row.message.attachments.get().filename == "faktura-1234.pdf"

    again = mail_process(raw_id)
    assert (again.outcome, again.conversation_number) == (pipeline.CREATED, outcome.conversation_number)
    assert Message.objects.filter(inbox=email_inbox).count() == 1
    assert RawMail.objects.get(pk=raw_id).attempts == 1


@pytest.mark.django_db
def test_reply_appends_with_only_the_new_text_and_the_quote_kept_apart(email_inbox: Inbox) -> None:
    first = mail_ingest(inbox=email_inbox, raw=fixture("new_case_pl.eml"), source="file")
    reply = mail_ingest(inbox=email_inbox, raw=fixture("reply_pl.eml"), source="file")
    assert (reply.outcome, reply.conversation_number) == (pipeline.APPENDED, first.conversation_number)
    assert reply.reply_text == "Paczka właśnie przyszła, dziękuję za pomoc!"
    stored = RawMail.objects.get(pk=reply.raw_id).message
    assert "pisze:" in stored.quoted and "nadal nie dotarło" in stored.quoted


@pytest.mark.django_db
def test_re_ingesting_the_same_bytes_is_a_duplicate(email_inbox: Inbox) -> None:
    raw = fixture("photo_en.eml")
    first = mail_ingest(inbox=email_inbox, raw=raw, source="file")
    again = mail_ingest(
        inbox=email_inbox, raw=b"Received: from mx by mx; Tue, 3 Jun 2025\r\n" + raw, source="file"
    )
    assert (first.outcome, again.outcome) == (pipeline.CREATED, pipeline.DUPLICATE)
    assert Message.objects.filter(inbox=email_inbox).count() == 1
    assert RawMail.objects.filter(inbox=email_inbox).count() == 2  # both receipts are on record


@pytest.mark.django_db
@pytest.mark.parametrize("stream", [False, True], ids=["one", "stream"])
def test_one_mail_to_two_of_the_shops_mailboxes_opens_one_case(
    email_inbox: Inbox, other_shop, stream: bool
) -> None:
    """The customer wrote to support@ and sales@; each mailbox receives its copy (other trace headers)."""
    sales = factories.InboxFactory(
        shop=email_inbox.shop, kind="email", name="Sales", config={"address": "sales@sklep.test"}
    )
    raw = fixture("photo_en.eml")
    copy = b"Delivered-To: sales@sklep.test\r\nReceived: from mx2 by mx2; Tue, 3 Jun 2025\r\n" + raw
    first = mail_ingest(inbox=email_inbox, raw=raw, source="file")
    if stream:
        [second] = list(mail_ingest_stream(inbox=sales, raws=iter([copy]), source="file"))
    else:
        second = mail_ingest(inbox=sales, raw=copy, source="file")
    assert (first.outcome, second.outcome) == (pipeline.CREATED, pipeline.DUPLICATE)
    assert Conversation.objects.filter(shop=email_inbox.shop).count() == 1
    assert RawMail.objects.filter(inbox=sales).count() == 1  # its receipt is on record all the same
    # Another shop that got the same mail is another shop's case.
    theirs = factories.InboxFactory(
        shop=other_shop, kind="email", name="Their", config={"address": "x@inny.test"}
    )
    assert mail_ingest(inbox=theirs, raw=copy, source="file").outcome == pipeline.CREATED


@pytest.mark.django_db
def test_mail_that_is_not_a_mail_is_quarantined_with_the_reason(email_inbox: Inbox) -> None:
    outcome = mail_ingest(inbox=email_inbox, raw=fixture("garbage.eml"), source="file")
    row = RawMail.objects.get(pk=outcome.raw_id)
    assert outcome.outcome == QUARANTINED and row.state == RawMail.State.QUARANTINED
    assert "not an e-mail" in row.error and row.error == outcome.reason
    assert mail_raw(row) == fixture("garbage.eml")  # kept, byte for byte
    email_inbox.refresh_from_db()
    assert email_inbox.last_error == row.error
    assert not Conversation.objects.filter(shop=email_inbox.shop).exists()


@pytest.mark.django_db
def test_mail_without_a_usable_sender_is_quarantined_and_retrying_counts_another_attempt(
    email_inbox: Inbox,
) -> None:
    outcome = mail_ingest(inbox=email_inbox, raw=fixture("no_sender.eml"), source="file")
    assert outcome.outcome == QUARANTINED
    assert outcome.reason == "We need an address to answer you."
    assert outcome.subject == "Nobody sent this"
    row = RawMail.objects.get(pk=outcome.raw_id)
    assert (row.subject, row.attempts) == ("Nobody sent this", 1)
    # Nothing changed, so a retry quarantines it again — with the attempt counted, never dropped.
    again = mail_retry(shop_id=email_inbox.shop_id, raw_id=row.pk)
    row.refresh_from_db()
    assert again.outcome == QUARANTINED and (row.state, row.attempts) == (RawMail.State.QUARANTINED, 2)
    assert not Message.objects.filter(inbox=email_inbox).exists()


@pytest.mark.django_db
def test_retry_after_fixing_the_inbox_settings_processes_the_mail(email_inbox: Inbox) -> None:
    # A 2 MB attachment over the inbox's 1 MB limit: quarantined; the admin raises the limit, retries.
    Inbox.objects.filter(pk=email_inbox.pk).update(
        config={"address": "support@sklep.test", "max_message_mb": 1}
    )
    email_inbox.refresh_from_db()
    raw = compose(subject="Zdjęcia", attachment=("zdjecia.zip", b"PK\x03\x04" + b"z" * (2 * 1024 * 1024)))
    outcome = mail_ingest(inbox=email_inbox, raw=raw, source="imap", mailbox="INBOX", uidvalidity=1, uid=1)
    assert outcome.outcome == QUARANTINED and "too large" in outcome.reason

    Inbox.objects.filter(pk=email_inbox.pk).update(
        config={"address": "support@sklep.test", "max_message_mb": 10}
    )
    retried = mail_retry(shop_id=email_inbox.shop_id, raw_id=outcome.raw_id)
    assert retried.outcome == pipeline.CREATED
    row = RawMail.objects.get(pk=outcome.raw_id)
    assert (row.state, row.attempts, row.error) == (RawMail.State.PROCESSED, 2, "")
    assert row.message.attachments.get().size == 2 * 1024 * 1024 + 4


@pytest.mark.django_db
def test_retry_after_the_stored_file_is_restored(email_inbox: Inbox) -> None:
    raw = compose(text="Katalog w załączniku.", attachment=("katalog.bin", b"\x01" * (INLINE_MAX + 1000)))
    raw_id = mail_receive(inbox_id=email_inbox.pk, raw=raw, source="file")
    row = RawMail.objects.get(pk=raw_id)
    path = blob_path(row.sha256)
    moved = path.with_name(path.name + ".away")
    path.rename(moved)  # the disk lost the file (restored from a backup later)
    try:
        outcome = mail_process(raw_id)
    finally:
        moved.rename(path)
    assert outcome.outcome == QUARANTINED and "cannot be read" in outcome.reason
    assert mail_retry(shop_id=email_inbox.shop_id, raw_id=raw_id).outcome == pipeline.CREATED


@pytest.mark.django_db
def test_retry_only_for_a_quarantined_mail_of_the_same_shop(email_inbox: Inbox, other_shop) -> None:  # type: ignore[no-untyped-def]
    quarantined = mail_ingest(inbox=email_inbox, raw=fixture("no_sender.eml"), source="file")
    processed = mail_ingest(inbox=email_inbox, raw=fixture("photo_en.eml"), source="file")
    with pytest.raises(ValidationFailed):
        mail_retry(shop_id=other_shop.pk, raw_id=quarantined.raw_id)
    with pytest.raises(ValidationFailed):
        mail_retry(shop_id=email_inbox.shop_id, raw_id=processed.raw_id)
    assert RawMail.objects.get(pk=quarantined.raw_id).attempts == 1  # the other shop's try did nothing


@pytest.mark.django_db
def test_pending_sweep_processes_mail_stored_but_never_processed(email_inbox: Inbox) -> None:
    waiting = [
        mail_receive(inbox_id=email_inbox.pk, raw=fixture(name), source="smtp")
        for name in ("new_case_pl.eml", "photo_en.eml")
    ]
    done = mail_ingest(inbox=email_inbox, raw=fixture("vacation_ru.eml"), source="smtp")
    outcomes = mail_process_pending()
    assert sorted(o.raw_id for o in outcomes) == sorted(waiting)  # the processed one is left alone
    assert {o.outcome for o in outcomes} == {pipeline.CREATED}
    assert not RawMail.objects.filter(state=RawMail.State.RECEIVED).exists()
    assert RawMail.objects.get(pk=done.raw_id).attempts == 1
    assert mail_process_pending() == []


# --- storage -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_small_mail_is_kept_in_its_row_and_large_mail_in_the_file_store(email_inbox: Inbox) -> None:
    small = fixture("photo_en.eml")
    large = compose(text="Załącznik poniżej.", attachment=("katalog.bin", b"\x00\x01" * INLINE_MAX))
    assert len(small) <= INLINE_MAX < len(large)
    for ids in (
        [mail_receive(inbox_id=email_inbox.pk, raw=r, source="file") for r in (small, large)],
        [row.pk for row in mail_receive_batch(inbox=email_inbox, raws=[small, large], source="file")],
    ):
        small_row, large_row = RawMail.objects.get(pk=ids[0]), RawMail.objects.get(pk=ids[1])
        assert bytes(small_row.raw) == small
        assert large_row.raw is None and blob_path(large_row.sha256).read_bytes() == large
        assert (mail_raw(small_row), mail_raw(large_row)) == (small, large)
        assert large_row.size == len(large)
    outcomes = [mail_process(i) for i in ids]
    assert [o.outcome for o in outcomes] == [pipeline.CREATED, pipeline.CREATED]


# --- acknowledgment -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_email_case_is_acknowledged_in_the_customers_thread(
    email_inbox: Inbox, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        outcome = mail_ingest(inbox=email_inbox, raw=fixture("new_case_pl.eml"), source="imap")
    assert outcome.outcome == pipeline.CREATED
    assert len(django_mail.outbox) == 1
    sent = message_from_bytes(django_mail.outbox[0].message().as_bytes(), policy=policy.default)
    assert sent["To"].endswith("<jan.kowalski@example.org>")
    assert sent["In-Reply-To"] == "<zamowienie-1234.jan@example.org>"
    assert "<zamowienie-1234.jan@example.org>" in sent["References"]
    assert sent["Auto-Submitted"] == "auto-replied"
    token = mailthreads.reply_address(
        "support@sklep.test", shop_id=email_inbox.shop_id, number=outcome.conversation_number
    )
    assert sent["Reply-To"] == token and token.startswith("support+c")
    assert "support@sklep.test" in sent["From"]
    assert sent["Subject"] == f"[#{outcome.conversation_number}] Zamówienie 1234 nie dotarło"

    # The acknowledgment's own threading: the customer answering it joins the case by the token.
    with django_capture_on_commit_callbacks(execute=True):
        answer = mail_ingest(
            inbox=email_inbox,
            raw=compose(sender="jan.kowalski@example.org", subject="Re: brak numeru", text="Dzięki!").replace(
                b"To: support@sklep.test", f"To: {token}".encode()
            ),
            source="imap",
        )
    assert (answer.outcome, answer.conversation_number) == (pipeline.APPENDED, outcome.conversation_number)
    assert len(django_mail.outbox) == 1  # a reply on a case is not acknowledged again


@pytest.mark.django_db
def test_no_acknowledgment_for_auto_replies_own_mail_or_when_switched_off(
    email_inbox: Inbox, shop, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        vacation = mail_ingest(inbox=email_inbox, raw=fixture("vacation_ru.eml"), source="imap")
        own = mail_ingest(inbox=email_inbox, raw=compose(sender=shop.sender_email), source="imap")
        mailbox = mail_ingest(
            inbox=email_inbox,
            raw=compose(sender="Support <support@sklep.test>", subject="Loop"),
            source="imap",
        )
    assert (vacation.outcome, own.outcome, mailbox.outcome) == (
        pipeline.AUTO_REPLY,
        pipeline.REJECTED,
        pipeline.REJECTED,
    )
    assert django_mail.outbox == []

    # An auto-reply that joins an existing case is stored there, still never acknowledged.
    case = mail_ingest(inbox=email_inbox, raw=fixture("new_case_pl.eml"), source="imap")
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        auto = mail_ingest(
            inbox=email_inbox,
            raw=compose(
                sender="jan.kowalski@example.org",
                subject="Automatyczna odpowiedź: urlop",
                headers={"In-Reply-To": "<zamowienie-1234.jan@example.org>", "X-Autoreply": "yes"},
            ),
            source="imap",
        )
    assert (auto.outcome, auto.conversation_number) == (pipeline.APPENDED, case.conversation_number)
    assert django_mail.outbox == []

    Inbox.objects.filter(pk=email_inbox.pk).update(
        config={"address": "support@sklep.test", "send_acknowledgment": False}
    )
    with django_capture_on_commit_callbacks(execute=True):
        quiet = mail_ingest(inbox=email_inbox, raw=fixture("photo_en.eml"), source="imap")
    assert quiet.outcome == pipeline.CREATED and django_mail.outbox == []


@pytest.mark.django_db
def test_acknowledgments_are_rate_limited_per_sender(
    email_inbox: Inbox, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = [
            mail_ingest(
                inbox=email_inbox, raw=compose(subject=f"Sprawa {n}", text=f"Pytanie {n}"), source="imap"
            )
            for n in range(8)
        ]
        other = mail_ingest(inbox=email_inbox, raw=compose(sender="ola@example.org"), source="imap")
    assert {o.outcome for o in outcomes} == {pipeline.CREATED} and other.outcome == pipeline.CREATED
    to = [m.to[0] for m in django_mail.outbox]
    # ACK_LIMIT = 5 an hour per address: a flood (or a loop) cannot turn the shop into a mail cannon.
    assert sum("klient@example.org" in t for t in to) == 5
    assert sum("ola@example.org" in t for t in to) == 1


# --- pathological mail --------------------------------------------------------------------------------------


def _deep_mime(levels: int) -> bytes:
    head = "From: zly@example.net\r\nTo: support@sklep.test\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    body = "Content-Type: text/plain\r\n\r\nbottom\r\n"
    for n in reversed(range(levels)):
        body = f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n{body}--b{n}--\r\n'
    return (head + body).encode()


def _huge_html(tags: int) -> bytes:
    links = "".join(f'<a href="https://spam.example/{n}">x</a>' for n in range(tags))
    return (
        "From: zly@example.net\r\nTo: support@sklep.test\r\nSubject: links\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>{links}</body></html>\r\n"
    ).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "why"),
    [(_deep_mime(200), "nest"), (_huge_html(40_000), "tags"), (_huge_html(100_000), "larger than")],
    ids=["deep-mime", "thousands-of-links", "huge-html"],
)
def test_pathological_mail_is_quarantined_quickly_and_the_next_mail_goes_on(
    email_inbox: Inbox, raw: bytes, why: str
) -> None:
    started = time.perf_counter()
    outcomes = list(mail_ingest_stream(inbox=email_inbox, raws=[raw, fixture("photo_en.eml")], source="imap"))
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"took {elapsed:.1f}s"
    assert outcomes[0].outcome == QUARANTINED and why in outcomes[0].reason.lower()
    assert outcomes[1].outcome == pipeline.CREATED  # the mailbox is not stalled by it
    assert RawMail.objects.get(pk=outcomes[0].raw_id).state == RawMail.State.QUARANTINED


def test_mailstore_keeps_the_documented_limits() -> None:
    # The desk and the docs promise these; a change must be deliberate.
    assert mailstore.MAX_FILES == 200 and INLINE_MAX == 256 * 1024
