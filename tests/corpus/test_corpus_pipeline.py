"""The whole corpus through the real mail pipeline (mail_ingest: stored raw first, parsed, threaded, kept).

Three acceptance checks of issue 3:
(a) no crash and nothing lost: every corpus mail file ends as a RawMail row that is processed (any
    outcome) or quarantined with a reason, its bytes readable back unchanged;
(b) every Chatwoot threading / auto-reply / bounce / contact / attachment expectation, through the
    pipeline (not only the parser);
(c) generated duplicates: identical bytes and the same bytes with an extra Received header are one
    message; two different mails sharing a Message-ID are both kept.
Run with `-s` to see the per-source tables.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from opiekun.contacts.models import Identity
from opiekun.conversations.models import Conversation, Message
from opiekun.inboxes import pipeline
from opiekun.inboxes.mailstore import QUARANTINED, MailOutcome, mail_ingest, mail_raw
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.shops.models import Shop
from opiekun.testing import factories
from tests.corpus.conftest import Score, mail_files, print_scores

pytestmark = [pytest.mark.corpus, pytest.mark.django_db]

STORED = (pipeline.CREATED, pipeline.APPENDED)
# Reasons that mean "our code broke", not "this mail is unusable": a crash in disguise.
INTERNAL = ("Processing failed", "The mail cannot be read (", "cannot be read: Unicode")


def make_inbox(shop: Shop, name: str = "Support") -> Inbox:
    # No acknowledgments: the corpus is about ingest, and on_commit never fires in these tests anyway.
    return factories.InboxFactory(
        shop=shop,
        kind="email",
        name=name,
        config={"address": "support@sklep.test", "send_acknowledgment": False},
    )


def ingest(inbox: Inbox, raw: bytes) -> MailOutcome:
    return mail_ingest(inbox=inbox, raw=raw, source=RawMail.Source.FILE)


def print_table(title: str, rows: dict[str, Counter[str]], columns: list[str]) -> None:
    width = max(len(s) for s in rows) + 2
    print(f"\n{title}")
    print("source".ljust(width) + "".join(c.rjust(14) for c in columns))
    for source, counts in rows.items():
        print(source.ljust(width) + "".join(str(counts.get(c, 0)).rjust(14) for c in columns))


# --- (a) nothing lost ---------------------------------------------------------------------------------


def test_every_corpus_mail_is_stored_and_processed_or_quarantined_with_a_reason(
    corpus_dir: Path, shop: Shop
) -> None:
    inboxes: dict[str, Inbox] = {}
    seen: list[tuple[str, Path, MailOutcome]] = []
    for source, path in mail_files(corpus_dir):
        if source not in inboxes:
            inboxes[source] = make_inbox(shop, source)
        seen.append((source, path, ingest(inboxes[source], path.read_bytes())))

    assert len(seen) >= 240, "corpus mail files missing"
    rows = {r.pk: r for r in RawMail.objects.filter(shop=shop)}
    assert len(rows) == len(seen), "one RawMail row per file"
    table: dict[str, Counter[str]] = defaultdict(Counter)
    problems: list[str] = []
    for source, path, outcome in seen:
        row = rows[outcome.raw_id]
        label = f"{source}/{path.name}"
        table[source]["files"] += 1
        table[source][outcome.outcome] += 1
        if mail_raw(row) != path.read_bytes():
            problems.append(f"{label}: stored bytes differ from the file")
        if row.state == RawMail.State.PROCESSED:
            if row.outcome not in pipeline.OUTCOMES or row.outcome != outcome.outcome:
                problems.append(f"{label}: processed with outcome {row.outcome!r} / {outcome.outcome!r}")
            if row.outcome in STORED and (row.message_id is None or row.conversation_id is None):
                problems.append(f"{label}: {row.outcome} but no message/case recorded")
        elif row.state == RawMail.State.QUARANTINED:
            if not row.error.strip() or outcome.outcome != QUARANTINED:
                problems.append(f"{label}: quarantined without a reason")
            if row.error.startswith(INTERNAL):
                problems.append(f"{label}: internal error: {row.error}")
            print(f"   quarantined {label}: {row.error}")
        else:
            problems.append(f"{label}: left in state {row.state}")
    # Every stored message is the one its row names (nothing stored twice, nothing orphaned).
    stored_rows = [r for r in rows.values() if r.outcome in STORED]
    assert Message.objects.filter(shop=shop).count() == len(stored_rows)
    columns = ["files", *pipeline.OUTCOMES, QUARANTINED]
    total: Counter[str] = Counter()
    for counts in table.values():
        total.update(counts)
    print_table("corpus through mail_ingest (per source and outcome)", {**table, "TOTAL": total}, columns)
    assert not problems, "\n".join(problems)
    # Quarantine is for unusable mail (no sender at all, not a mail, too long) — a small share.
    assert total[QUARANTINED] <= 0.06 * total["files"], total


# --- (b) Chatwoot expectations through the pipeline ------------------------------------------------------

CHATWOOT = "chatwoot/spec/fixtures/files"
SHARED_ID = "0CB459E0-0336-41DA-BC88-E6E28C697DDB@chatwoot.com"


def our_outbound(inbox: Inbox, rfc_message_id: str, email: str = "") -> Message:
    """A case of ours with one sent reply carrying `rfc_message_id` (as delivery.build_outbound sets it)."""
    email = email or f"customer-{Message.objects.count()}@example.org"
    contact = factories.ContactFactory(shop=inbox.shop, email=email)
    conversation = factories.ConversationFactory(shop=inbox.shop, contact=contact, inbox=inbox)
    return factories.MessageFactory(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        channel="email",
        inbox=inbox,
        rfc_message_id=rfc_message_id,
        delivery_status=Message.Delivery.SENT,
    )


def test_chatwoot_threading_auto_reply_bounce_and_contact_expectations(corpus_dir: Path) -> None:
    files = corpus_dir / CHATWOOT

    def raw(name: str) -> bytes:
        return (files / name).read_bytes()

    score = Score("chatwoot through the pipeline")

    def fresh(**shop_fields: str) -> Inbox:
        # Threading by Message-ID is shop-wide: each scenario gets a shop of its own.
        return make_inbox(factories.ShopFactory(**shop_fields))

    def cases(inbox: Inbox) -> int:
        return Conversation.objects.filter(shop=inbox.shop).count()

    def stored(got: MailOutcome) -> Message:
        return Message.objects.get(pk=RawMail.objects.get(pk=got.raw_id).message_id)

    # Auto-replies (X-Autoreply, Auto-Submitted) never open a case.
    for name in ("auto_reply.eml", "auto_reply_with_auto_submitted.eml"):
        inbox = fresh()
        got = ingest(inbox, raw(name))
        score.check(
            got.outcome == pipeline.AUTO_REPLY and got.conversation_number is None and cases(inbox) == 0,
            f"{name}: {got.outcome} #{got.conversation_number}",
        )

    # A bounce of our reply (Chatwoot: "treated as an auto-reply") opens nothing; it is linked to our case.
    inbox = fresh()
    ours = our_outbound(inbox, BOUNCED_ID, email="alex.jones@fictionalcorp.com")
    got = ingest(inbox, raw("bounced_gmail.eml"))
    score.check(
        got.outcome == pipeline.BOUNCE
        and got.conversation_number == ours.conversation.number
        and cases(inbox) == 1
        and Message.objects.filter(shop=inbox.shop).count() == 1,
        f"bounced_gmail.eml: {got.outcome} #{got.conversation_number}, {cases(inbox)} cases",
    )

    # A bounce without a From: no error, no conversation.
    inbox = fresh()
    got = ingest(inbox, raw("bounced_with_no_from.eml"))
    row = RawMail.objects.get(pk=got.raw_id)
    score.check(
        got.outcome == pipeline.BOUNCE and row.state == RawMail.State.PROCESSED and cases(inbox) == 0,
        f"bounced_with_no_from.eml: {got.outcome} {row.state} {row.error!r}",
    )

    # The help desk's own notification (From: the shop's own address) loops back: no conversation.
    inbox = fresh(sender_email="accounts@chatwoot.com")
    got = ingest(inbox, raw("notification.eml"))
    score.check(
        got.outcome == pipeline.REJECTED and got.conversation_number is None and cases(inbox) == 0,
        f"notification.eml: {got.outcome} #{got.conversation_number}",
    )
    # …while for a shop that does not send from that address it is an ordinary customer mail.
    inbox = fresh()
    got = ingest(inbox, raw("notification.eml"))
    score.check(got.outcome == pipeline.CREATED, f"notification.eml elsewhere: {got.outcome}")

    # In-Reply-To naming an earlier mail of the mailbox joins its case.
    inbox = fresh()
    welcome = ingest(inbox, raw("welcome.eml"))
    reply = ingest(inbox, raw("in_reply_to.eml"))
    score.check(welcome.outcome == pipeline.CREATED, f"welcome.eml: {welcome.outcome}")
    score.check(
        reply.outcome == pipeline.APPENDED and reply.conversation_number == welcome.conversation_number,
        f"in_reply_to.eml: {reply.outcome} #{reply.conversation_number} "
        f"(welcome #{welcome.conversation_number})",
    )
    score.check(stored(reply).text.startswith("Let's talk about these images:"), "in_reply_to.eml: content")

    # References naming one of our messages joins its case (references.eml, mail_with_references.eml).
    inbox = fresh()
    ours = our_outbound(inbox, "test-reference-id")
    for name in ("references.eml", "mail_with_references.eml"):
        got = ingest(inbox, raw(name))
        score.check(
            got.outcome == pipeline.APPENDED and got.conversation_number == ours.conversation.number,
            f"{name}: {got.outcome} #{got.conversation_number} (ours #{ours.conversation.number})",
        )
        if name == "references.eml":
            score.check(stored(got).text.startswith("References Email"), f"{name}: {stored(got).text[:40]!r}")

    # reply_mail_without_uuid: In-Reply-To names our conversation's message; a second delivery of the
    # same mail stays on that case (identical bytes: the duplicate; a re-sent copy: appended there too).
    inbox = fresh()
    ours = our_outbound(inbox, "account/1/conversation/6bdc3f4d-0bec-4515-a284-5d916fdde489@test.com")
    first = ingest(inbox, raw("reply_mail_without_uuid.eml"))
    again = ingest(inbox, raw("reply_mail_without_uuid.eml"))
    resent = ingest(inbox, raw("reply_mail_without_uuid.eml").replace(b"Subject: ", b"Subject: Fwd: ", 1))
    number = ours.conversation.number
    score.check(
        (first.outcome, first.conversation_number) == (pipeline.APPENDED, number),
        f"reply_mail_without_uuid.eml: {first.outcome} #{first.conversation_number} (ours #{number})",
    )
    score.check(
        (again.outcome, again.conversation_number) == (pipeline.DUPLICATE, None),
        f"reply_mail_without_uuid.eml again: {again.outcome}",
    )
    score.check(
        (resent.outcome, resent.conversation_number) == (pipeline.APPENDED, number),
        f"reply_mail_without_uuid.eml re-sent: {resent.outcome} #{resent.conversation_number}",
    )
    score.check(
        Message.objects.filter(conversation=ours.conversation).count() == 3 and cases(inbox) == 1,
        "reply_mail_without_uuid.eml: our reply + the mail + the re-sent copy, one case",
    )

    # multiple_in_reply_to: the In-Reply-To id wins over References.
    inbox = fresh()
    by_in_reply_to = our_outbound(inbox, "4e6e35f5a38b4_479f13bb90078171@small-app-01.mail")
    by_references = our_outbound(inbox, "4e6e35f5a38b4_479f13bb90078178@small-app-01.mail")
    got = ingest(inbox, raw("multiple_in_reply_to.eml"))
    score.check(
        got.outcome == pipeline.APPENDED and got.conversation_number == by_in_reply_to.conversation.number,
        f"multiple_in_reply_to.eml: #{got.conversation_number} (In-Reply-To "
        f"#{by_in_reply_to.conversation.number}, References #{by_references.conversation.number})",
    )

    # Contacts: the same person whatever the case of the address; Reply-To / X-Original-Sender.
    inbox = fresh()
    lower, upper = ingest(inbox, raw("support.eml")), ingest(inbox, raw("support_uppercase.eml"))
    score.check(
        upper.outcome in STORED and stored(lower).author_contact_id == stored(upper).author_contact_id,
        f"support_uppercase.eml: {upper.outcome}, another contact than support.eml",
    )
    for name, wanted in (
        ("support.eml", "sony@chatwoot.com"),
        ("support_in_reply_to.eml", "sony@chatwoot.com"),
        ("support_without_sender_name.eml", ""),
        ("group_sender_support.eml", "jane@example.com"),
    ):
        got = ingest(fresh(), raw(name))
        contact = stored(got).author_contact
        emails = set(contact.identities.filter(kind="email").values_list("value", flat=True))
        wanted = wanted or got.from_email
        score.check(
            bool(wanted) and wanted in emails and got.from_email == wanted,
            f"{name}: contact {emails} / {got.from_email}",
        )

    # Attachments where Chatwoot counts them (our cap is 200 files, not Chatwoot's 15). A part whose
    # Content-ID the HTML shows inline is an inline image, not a file (Chatwoot's count too).
    # Several fixtures come with the attachment parts emptied (Chatwoot's tests count parts only); an
    # empty file is refused by check_files, so the parts are filled with a tiny PNG here.
    for name, count in (
        ("welcome.eml", 2),
        ("reply.eml", 2),
        ("support.eml", 2),
        ("only_attachments.eml", 1),
        ("html_and_attachments.eml", 1),
        ("attachments_without_text.eml", 2),
        ("attachments_without_filename.eml", 2),
        ("email_with_inline_pdf.eml", 1),
        ("multiple_attachments.eml", 30),  # Chatwoot keeps 15 of the 30; we keep all of them
        ("mail_with_inline_images.eml", 0),
        ("mail_with_html_part_no_html_content.eml", 0),
    ):
        got = ingest(fresh(), filled(raw(name)))
        message = stored(got) if got.outcome in STORED else None
        every = list(message.attachments.order_by("id")) if message else []
        real = [a for a in every if not (a.content_id and f"cid:{a.content_id}" in message.html)]
        score.check(
            got.outcome == pipeline.CREATED and len(real) == count and all(a.filename for a in real),
            f"{name}: {got.outcome}, {len(real)} files {[a.filename for a in real][:5]} (wanted {count})",
        )
        if name == "email_with_inline_pdf.eml":
            score.check([a.filename for a in real] == ["dummy.pdf"], f"{name}: {[a.filename for a in real]}")
        if name == "multiple_attachments.eml":
            score.check(len(got.attachments) == 30, f"{name}: the outcome lists {len(got.attachments)} files")
        if name == "mail_with_inline_images.eml":
            # The three cid: images are stored, each under the Content-ID the HTML refers to.
            cids = {a.content_id for a in every}
            wanted_cids = {"ii_lm7fuura0", "ii_lm7fuuvm1", "ii_lm7fuuwn2"}
            score.check(wanted_cids <= cids, f"{name}: inline images {cids}")
    # No HTML to show them in: Chatwoot embeds the cid: image into the text, we keep it as a file.
    got = ingest(fresh(), filled(raw("mail_with_plain_text_and_inline_image.eml")))
    message = stored(got)
    score.check(
        "Let's add no HTML content here, just plain text and images" in message.text
        and message.attachments.count() == 3,
        f"mail_with_plain_text_and_inline_image.eml: {message.attachments.count()} files "
        f"{message.text[:60]!r}",
    )

    # Stored text: the customer's new text (the quote and signature folded away, kept apart).
    for name, wanted in (
        ("only_text.eml", "text only mail"),
        ("only_html.eml", "This is html only mail"),
        ("only_attachments.eml", ""),
        ("html_and_attachments.eml", "This is html and attachments only mail"),
        ("reply.eml", "Let's talk about these images:"),
        ("reply_to.eml", "Let's talk about these images:"),
        ("forwarder_email.eml", "Let's talk about these images:"),
        ("support.eml", "Let's talk about these images:"),
        ("mail_with_quote.eml", "Yes, I am providing you step how to reproduce this issue"),
    ):
        got = ingest(fresh(), raw(name))
        message = stored(got)
        ok = message.text.strip().startswith(wanted) if wanted else not message.text.strip()
        score.check(got.outcome == pipeline.CREATED and ok, f"{name}: {got.outcome} {message.text[:60]!r}")
        if name == "mail_with_quote.eml":
            score.check("Any update on this?" in message.quoted, f"{name}: the quote is not kept apart")
            score.check("Any update" not in message.text, f"{name}: the quote is in the reply text")

    # Malformed To headers, no Date, no Subject: processed without an error.
    for name in (
        "mail_with_invalid_to.eml",
        "mail_with_invalid_to_2.eml",
        "mail_with_no_date.eml",
        "mail_with_no_subject.eml",
    ):
        got = ingest(fresh(), raw(name))
        score.check(got.outcome == pipeline.CREATED, f"{name}: {got.outcome} {got.reason}")

    print_scores(score)
    assert score.ratio == 1.0, "\n".join(score.failures)


# A 1x1 PNG, base64 (what an emptied attachment part of a fixture gets).
PNG_B64 = b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
_EMPTY_BASE64_PART = re.compile(
    rb"(Content-Transfer-Encoding:[ \t]*base64\r?\n(?:[A-Za-z-]+:[^\r\n]*\r?\n)*\r?\n)(?:[ \t]*\r?\n)*(?=--)",
    re.IGNORECASE,
)


def filled(raw: bytes) -> bytes:
    """`raw` with every empty base64 part given real bytes (a tiny PNG); other parts untouched."""
    return _EMPTY_BASE64_PART.sub(lambda m: m.group(1) + PNG_B64 + b"\n\n", raw)


BOUNCED_ID = "conversation/93775311-9416-4428-964b-862001f8a8b2/messages/27855337@gmail.com"


def test_chatwoot_gmail_bounce_marks_our_reply_failed_and_flags_the_address(corpus_dir: Path) -> None:
    inbox = make_inbox(factories.ShopFactory())
    ours = our_outbound(inbox, BOUNCED_ID, email="alex.jones@fictionalcorp.com")
    got = ingest(inbox, (corpus_dir / CHATWOOT / "bounced_gmail.eml").read_bytes())
    ours.refresh_from_db()
    assert got.outcome == pipeline.BOUNCE
    assert ours.delivery_status == Message.Delivery.FAILED
    assert "alex.jones@fictionalcorp.com" in ours.delivery_error
    assert Identity.objects.get(shop=inbox.shop, value="alex.jones@fictionalcorp.com").flagged


# --- (c) generated duplicates ------------------------------------------------------------------------------

_SUBJECT = re.compile(rb"^(subject:[ \t]*)", re.IGNORECASE | re.MULTILINE)


def with_received(raw: bytes) -> bytes:
    """The same mail as one more relay would hand it on: a Received header on top (after an mbox From_)."""
    nl = b"\r\n" if b"\r\n" in raw[:4000] else b"\n"
    received = (
        b"Received: from relay.example.net (relay.example.net [192.0.2.7])"
        + nl
        + b"\tby mx.sklep.test (Postfix) with ESMTPS id 4F1A2B3C; Tue, 3 Jun 2025 10:00:00 +0200"
        + nl
    )
    if raw.startswith(b"From "):
        cut = raw.index(b"\n") + 1
        return raw[:cut] + received + raw[cut:]
    return received + raw


def edited(raw: bytes) -> bytes | None:
    """A different mail with the same Message-ID (the subject changed in the header block), or None."""
    head_end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: head_end.start()] if head_end else raw
    if not _SUBJECT.search(head):
        return None
    return _SUBJECT.sub(rb"\1[edited] ", head, count=1) + raw[len(head) :]


def test_generated_duplicates_are_one_message_and_different_mails_sharing_an_id_are_kept(
    corpus_dir: Path, shop: Shop
) -> None:
    inboxes: dict[str, Inbox] = {}
    firsts: list[tuple[str, Path, bytes, MailOutcome]] = []
    for source, path in mail_files(corpus_dir):
        if source not in inboxes:
            inboxes[source] = make_inbox(shop, source)
        data = path.read_bytes()
        firsts.append((source, path, data, ingest(inboxes[source], data)))
    messages_before = Message.objects.filter(shop=shop).count()

    table: dict[str, Counter[str]] = defaultdict(Counter)
    failures: list[str] = []

    def same_again(source: str, label: str, first: MailOutcome, got: MailOutcome, kind: str) -> None:
        # One message each: a stored mail comes back as the duplicate; a mail that stored nothing
        # (auto-reply without a case, bounce, own mail, quarantined) gets the same answer again.
        wanted = pipeline.DUPLICATE if first.outcome in STORED else first.outcome
        table[source][kind] += 1
        if got.outcome == wanted and got.reason == (first.reason if first.outcome not in STORED else ""):
            table[source][f"{kind} ok"] += 1
        else:
            failures.append(f"{label} {kind}: {got.outcome} {got.reason!r} after {first.outcome}")

    for source, path, data, first in firsts:
        label = f"{source}/{path.name}"
        same_again(source, label, first, ingest(inboxes[source], data), "identical")
        same_again(source, label, first, ingest(inboxes[source], with_received(data)), "+Received")
    assert Message.objects.filter(shop=shop).count() == messages_before, "a duplicate stored a message"

    # Two different mails sharing a Message-ID: both kept (the subject edited, the id unchanged).
    for source, path, data, first in firsts:
        changed = edited(data)
        if first.outcome not in STORED or changed is None:
            continue
        if not Message.objects.filter(pk=RawMail.objects.get(pk=first.raw_id).message_id).exclude(
            rfc_message_id=""
        ):
            continue  # no Message-ID to share
        table[source]["same id"] += 1
        got = ingest(inboxes[source], changed)
        if got.outcome in STORED:
            table[source]["same id ok"] += 1
        else:
            failures.append(f"{source}/{path.name} edited, same Message-ID: {got.outcome} {got.reason!r}")

    columns = ["identical", "identical ok", "+Received", "+Received ok", "same id", "same id ok"]
    total: Counter[str] = Counter()
    for counts in table.values():
        total.update(counts)
    print_table("generated duplicates (per source)", {**table, "TOTAL": total}, columns)
    assert not failures, "\n".join(failures[:30])
    assert total["same id"] >= 150, total


def test_chatwoot_fixtures_reusing_one_message_id_are_all_kept(corpus_dir: Path, shop: Shop) -> None:
    inbox = make_inbox(shop)
    header = re.compile(rb"^message-id:\s*<" + re.escape(SHARED_ID.encode()) + rb">", re.I | re.M)
    sharing = sorted(p for p in (corpus_dir / CHATWOOT).glob("*.eml") if header.search(p.read_bytes()))
    assert len(sharing) >= 10
    outcomes = {p.name: ingest(inbox, p.read_bytes()) for p in sharing}
    stored = [name for name, o in outcomes.items() if o.outcome in STORED]
    print(f"\n{len(sharing)} Chatwoot files with Message-ID <{SHARED_ID}>: {len(stored)} stored")
    for name, o in outcomes.items():
        print(f"   {name}: {o.outcome} #{o.conversation_number} {o.reason}")
    # Only auto-replies / bounces store nothing; every real mail is its own message.
    assert all(o.outcome in (*STORED, pipeline.AUTO_REPLY) for o in outcomes.values()), outcomes
    assert len(stored) >= 10
    assert Message.objects.filter(shop=shop, rfc_message_id=SHARED_ID).count() == len(stored)
    # …and each again is a duplicate, not one more copy.
    again = [ingest(inbox, p.read_bytes()).outcome for p in sharing if p.name in stored]
    assert set(again) == {pipeline.DUPLICATE}
    assert Message.objects.filter(shop=shop, rfc_message_id=SHARED_ID).count() == len(stored)


def test_reply_naming_our_message_second_in_in_reply_to_threads(corpus_dir: Path) -> None:
    inbox = make_inbox(factories.ShopFactory())
    ours = our_outbound(inbox, "conversation/6bdc3f4d-0bec-4515-a284-5d916fdde489/messages/123@test.com")
    got = ingest(inbox, (corpus_dir / CHATWOOT / "reply_mail_without_uuid.eml").read_bytes())
    assert (got.outcome, got.conversation_number) == (pipeline.APPENDED, ours.conversation.number)
