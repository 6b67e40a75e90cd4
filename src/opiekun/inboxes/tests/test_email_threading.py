"""Threading, loop and bounce safety in the pipeline, driven by the seam's InboundMessage directly."""

import datetime as dt

import pytest

from opiekun.agents.services import absence_add
from opiekun.contacts.models import Identity
from opiekun.conversations.models import Conversation, Message, Status
from opiekun.core import clock
from opiekun.inboxes import mailthreads, pipeline
from opiekun.inboxes.base import BounceReport, InboundMessage, SenderHints
from opiekun.inboxes.delivery import build_outbound
from opiekun.testing import factories


def mail(email="jan@example.org", text="Where is my parcel?", **kw):
    kw.setdefault("subject", "Parcel")
    kw.setdefault("external_id", f"mail:{email}:{text}:{kw.get('subject')}:{kw.get('rfc_message_id', '')}")
    return InboundMessage(sender=SenderHints(name="Jan Kowalski", email=email), text=text, **kw)


def open_case(inbox, email="jan@example.org"):
    first = pipeline.process(inbox=inbox, message=mail(email=email, rfc_message_id="first@client.example"))
    assert first.outcome == pipeline.CREATED
    return first.conversation


def our_reply(conversation, rfc_message_id="opiekun.abc@sklep.test"):
    return factories.MessageFactory(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        channel="email",
        rfc_message_id=rfc_message_id,
        delivery_status=Message.Delivery.SENT,
    )


@pytest.mark.django_db
def test_reply_joins_its_case_by_in_reply_to(email_inbox):
    case = open_case(email_inbox)
    our_reply(case)
    result = pipeline.process(
        inbox=email_inbox,
        message=mail(text="Thanks!", subject="Re: something else", in_reply_to="<opiekun.abc@sklep.test>"),
    )
    assert (result.outcome, result.conversation.pk) == (pipeline.APPENDED, case.pk)


@pytest.mark.django_db
def test_reply_joins_by_references_nearest_ancestor_first(email_inbox):
    case = open_case(email_inbox)
    other = open_case(email_inbox, email="ola@example.org")
    our_reply(other, "opiekun.other@sklep.test")
    result = pipeline.process(
        inbox=email_inbox,
        message=mail(text="again", references=("first@client.example", "opiekun.other@sklep.test")),
    )
    # The last reference is the nearest ancestor: the reply belongs to that thread.
    assert result.conversation.pk == other.pk != case.pk


@pytest.mark.django_db
def test_reply_joins_by_signed_plus_address(email_inbox):
    case = open_case(email_inbox)
    address = mailthreads.reply_address("support@sklep.test", shop_id=case.shop_id, number=case.number)
    result = pipeline.process(
        inbox=email_inbox, message=mail(text="By token", subject="No number here", recipients=(address,))
    )
    assert (result.outcome, result.conversation.pk) == (pipeline.APPENDED, case.pk)


@pytest.mark.django_db
def test_forged_plus_address_opens_a_new_case(email_inbox):
    case = open_case(email_inbox)
    forged = f"support+c{case.number}-0000000000@sklep.test"
    result = pipeline.process(
        inbox=email_inbox,
        message=mail(email="stranger@example.net", text="Let me in", subject="Hi", recipients=(forged,)),
    )
    assert result.outcome == pipeline.CREATED and result.conversation.pk != case.pk


@pytest.mark.django_db
def test_subject_number_joins_only_for_a_participant(email_inbox):
    case = open_case(email_inbox)
    mine = pipeline.process(
        inbox=email_inbox, message=mail(text="More", subject=f"Re: Parcel [#{case.number}]")
    )
    assert (mine.outcome, mine.conversation.pk) == (pipeline.APPENDED, case.pk)
    stranger = pipeline.process(
        inbox=email_inbox,
        message=mail(email="stranger@example.net", text="Show me", subject=f"Re: [#{case.number}]"),
    )
    assert stranger.outcome == pipeline.CREATED and stranger.conversation.pk != case.pk
    assert not Message.objects.filter(conversation=case, author_contact=stranger.contact).exists()


@pytest.mark.django_db
def test_reply_to_closed_case_reopens_by_default(email_inbox):
    case = open_case(email_inbox)
    Conversation.objects.filter(pk=case.pk).update(status=Status.CLOSED)
    result = pipeline.process(inbox=email_inbox, message=mail(text="Back", subject=f"[#{case.number}]"))
    assert result.conversation.pk == case.pk
    assert Conversation.objects.get(pk=case.pk).status == Status.OPEN


@pytest.mark.django_db
def test_reply_to_closed_case_starts_a_linked_follow_up_when_the_shop_says_so(email_inbox, shop):
    shop.closed_reply = shop.ClosedReply.FOLLOW_UP
    shop.save()
    case = open_case(email_inbox)
    Conversation.objects.filter(pk=case.pk).update(status=Status.CLOSED)
    result = pipeline.process(inbox=email_inbox, message=mail(text="Back", subject=f"[#{case.number}]"))
    assert result.outcome == pipeline.CREATED
    assert result.conversation.follow_up_of_id == case.pk
    assert Conversation.objects.get(pk=case.pk).status == Status.CLOSED


@pytest.mark.django_db
def test_two_different_mails_sharing_a_message_id_are_both_kept(email_inbox):
    a = pipeline.process(
        inbox=email_inbox, message=mail(text="one", rfc_message_id="same@x", external_id="f1")
    )
    b = pipeline.process(
        inbox=email_inbox, message=mail(text="two", rfc_message_id="same@x", external_id="f2")
    )
    again = pipeline.process(
        inbox=email_inbox, message=mail(text="one", rfc_message_id="same@x", external_id="f1")
    )
    assert (a.outcome, b.outcome, again.outcome) == (pipeline.CREATED, pipeline.CREATED, pipeline.DUPLICATE)
    assert Message.objects.filter(rfc_message_id="same@x").count() == 2


@pytest.mark.django_db
def test_auto_reply_is_stored_on_its_case_without_reopening_or_sla(email_inbox):
    case = open_case(email_inbox)
    our_reply(case)
    Conversation.objects.filter(pk=case.pk).update(status=Status.PENDING_CUSTOMER, waiting_since=None)
    result = pipeline.process(
        inbox=email_inbox,
        message=mail(
            text="I am away",
            subject="Out of Office",
            in_reply_to="opiekun.abc@sklep.test",
            auto_submitted=True,
        ),
    )
    assert result.outcome == pipeline.APPENDED and result.message.meta["auto_reply"] is True
    case.refresh_from_db()
    assert case.status == Status.PENDING_CUSTOMER and case.waiting_since is None


@pytest.mark.django_db
def test_auto_reply_without_a_case_stores_nothing(email_inbox):
    result = pipeline.process(inbox=email_inbox, message=mail(subject="Автоответ: в отпуске", text="..."))
    assert result.outcome == pipeline.AUTO_REPLY
    assert Conversation.objects.count() == 0 and Message.objects.count() == 0


@pytest.mark.django_db
def test_bounce_fails_the_original_and_flags_the_address(email_inbox):
    case = open_case(email_inbox)
    sent = our_reply(case, "opiekun.bounced@sklep.test")
    report = BounceReport(
        original_message_id="<opiekun.bounced@sklep.test>",
        recipient="jan@example.org",
        status="5.1.1",
        diagnostic="550 5.1.1 user unknown",
    )
    result = pipeline.process(
        inbox=email_inbox,
        message=mail(
            email="mailer-daemon@mx.example.org",
            text="Undelivered",
            subject="Undelivered Mail",
            auto_submitted=True,
            bounce=report,
        ),
    )
    assert result.outcome == pipeline.BOUNCE
    sent.refresh_from_db()
    assert sent.delivery_status == Message.Delivery.FAILED and "user unknown" in sent.delivery_error
    assert "5.1.1" in Identity.objects.get(value="jan@example.org").flagged
    assert Conversation.objects.count() == 1  # the bounce opened nothing


@pytest.mark.django_db
def test_delayed_delivery_report_changes_nothing(email_inbox):
    case = open_case(email_inbox)
    sent = our_reply(case, "opiekun.late@sklep.test")
    report = BounceReport(
        original_message_id="opiekun.late@sklep.test",
        recipient="jan@example.org",
        status="4.4.7",
        permanent=False,
    )
    result = pipeline.process(
        inbox=email_inbox, message=mail(email="postmaster@mx.example.org", text="delayed", bounce=report)
    )
    assert result.outcome == pipeline.BOUNCE
    sent.refresh_from_db()
    assert sent.delivery_status == Message.Delivery.SENT
    assert Identity.objects.get(value="jan@example.org").flagged == ""


@pytest.mark.django_db
def test_our_own_mail_coming_back_is_a_loop(email_inbox):
    case = open_case(email_inbox)
    our_reply(case, "opiekun.loop@sklep.test")
    result = pipeline.process(
        inbox=email_inbox,
        message=mail(email="support@sklep.test", text="echo", rfc_message_id="opiekun.loop@sklep.test"),
    )
    assert result.outcome == pipeline.REJECTED
    assert Message.objects.filter(rfc_message_id="opiekun.loop@sklep.test").count() == 1


@pytest.mark.django_db
def test_mail_to_an_agents_address_lands_in_their_queue(email_inbox, shop):
    olga = factories.AgentFactory(shop=shop, sender_email="olga@sklep.test")
    result = pipeline.process(
        inbox=email_inbox, message=mail(text="Dla Olgi", recipients=("olga@sklep.test",))
    )
    assert result.conversation.assignee == olga
    absence_add(
        agent=olga, starts_at=clock.now() - dt.timedelta(days=1), ends_at=clock.now() + dt.timedelta(days=1)
    )
    later = pipeline.process(
        inbox=email_inbox, message=mail(email="ola@example.org", text="Też", recipients=("olga@sklep.test",))
    )
    assert later.conversation.assignee is None  # Olga is away: the routing rules decide


@pytest.mark.django_db
def test_outbound_reply_threads_and_keeps_its_message_id(email_inbox, agent):
    case = open_case(email_inbox)
    reply = factories.MessageFactory(
        conversation=case,
        direction=Message.Direction.OUTBOUND,
        channel="email",
        inbox=email_inbox,
        author_agent=agent,
        delivery_status=Message.Delivery.QUEUED,
    )
    first = build_outbound(reply, email_inbox)
    again = build_outbound(Message.objects.get(pk=reply.pk), email_inbox)
    assert first.rfc_message_id and first.rfc_message_id == again.rfc_message_id
    assert first.in_reply_to == "first@client.example"
    assert first.references == ("first@client.example",)
    assert mailthreads.number_from_recipients((first.reply_to,), shop_id=case.shop_id) == case.number
    assert first.from_email == "support@sklep.test"


@pytest.mark.django_db
def test_mail_from_our_own_address_never_opens_a_case(email_inbox):
    result = pipeline.process(
        inbox=email_inbox,
        message=mail(email="support@sklep.test", text="A new conversation has been assigned to you."),
    )
    assert result.outcome == pipeline.REJECTED
    assert Conversation.objects.count() == 0
    case = open_case(email_inbox)
    our_reply(case, "opiekun.copy@sklep.test")
    copy = pipeline.process(
        inbox=email_inbox,
        message=mail(email="support@sklep.test", text="Agent's copy", in_reply_to="opiekun.copy@sklep.test"),
    )
    assert (copy.outcome, copy.conversation.pk) == (pipeline.APPENDED, case.pk)


@pytest.mark.django_db
def test_a_mail_longer_than_a_message_is_stored_cut_and_says_so(email_inbox):
    from opiekun.conversations.services import MAX_TEXT
    from opiekun.inboxes.mailstore import mail_ingest

    body = ("Bardzo długi opis reklamacji. " * 5000).encode()
    raw = (
        b"From: Jan <jan@example.org>\r\nTo: support@sklep.test\r\nSubject: Long\r\n"
        b"Message-ID: <long.1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
    )
    outcome = mail_ingest(inbox=email_inbox, raw=raw, source="file")
    assert outcome.outcome == pipeline.CREATED
    stored = Message.objects.get(rfc_message_id="long.1@example.org")
    assert len(stored.text) <= MAX_TEXT and "original message" in stored.text
    assert stored.meta["truncated_from"] > MAX_TEXT


@pytest.mark.django_db
def test_empty_attachment_parts_are_noted_not_fatal(email_inbox):
    from opiekun.inboxes.mailstore import mail_ingest

    raw = (
        b"From: Jan <jan@example.org>\r\nTo: support@sklep.test\r\nSubject: Scan\r\n"
        b"Message-ID: <empty.1@example.org>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nScan attached.\r\n"
        b"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=scan.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n\r\n--B--\r\n"
    )
    outcome = mail_ingest(inbox=email_inbox, raw=raw, source="file")
    assert outcome.outcome == pipeline.CREATED
    stored = Message.objects.get(rfc_message_id="empty.1@example.org")
    assert stored.meta["empty_attachments"] == ["scan.pdf"] and not stored.attachments.exists()
