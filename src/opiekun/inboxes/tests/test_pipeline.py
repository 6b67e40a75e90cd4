import pytest

from opiekun.agents.services import absence_add
from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Conversation, Message, Status
from opiekun.conversations.services import message_send
from opiekun.core import clock
from opiekun.core.errors import ValidationFailed
from opiekun.inboxes import pipeline
from opiekun.inboxes.base import InboundAttachment, InboundMessage, SenderHints
from opiekun.testing import factories

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def inbound(email="jan@example.org", text="Where is my parcel?", **kw):
    return InboundMessage(sender=SenderHints(name="Jan Kowalski", email=email), text=text, **kw)


@pytest.mark.django_db
def test_new_message_creates_contact_and_numbered_conversation(inbox):
    first = pipeline.process(inbox=inbox, message=inbound())
    second = pipeline.process(inbox=inbox, message=inbound(email="ola@example.org"))
    assert first.outcome == pipeline.CREATED
    assert (first.conversation.number, second.conversation.number) == (1, 2)
    assert first.contact.name == "Jan Kowalski"
    assert Identity.objects.get(value="jan@example.org").contact == first.contact
    conv = Conversation.objects.get(pk=first.conversation.pk)
    assert conv.waiting_since is not None and conv.sla_due_at > conv.waiting_since
    assert conv.subject == "Where is my parcel?"


@pytest.mark.django_db
def test_same_address_any_case_is_the_same_contact(inbox):
    a = pipeline.process(inbox=inbox, message=inbound(email="Jan@Example.org"))
    b = pipeline.process(inbox=inbox, message=inbound(email=" jan@example.ORG "))
    assert a.contact == b.contact
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_external_id_is_stored_once(inbox):
    first = pipeline.process(inbox=inbox, message=inbound(external_id="m-1"))
    again = pipeline.process(inbox=inbox, message=inbound(external_id="m-1"))
    assert (first.outcome, again.outcome) == (pipeline.CREATED, pipeline.DUPLICATE)
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_auto_reply_never_opens_a_case(inbox):
    result = pipeline.process(inbox=inbox, message=inbound(subject="Automatyczna odpowiedź: urlop"))
    assert result.outcome == pipeline.AUTO_REPLY
    assert Conversation.objects.count() == 0


@pytest.mark.django_db
def test_forbidden_attachment_stores_nothing(inbox):
    msg = inbound(attachments=(InboundAttachment("invoice.pdf", b"MZ\x90\x00 not a pdf at all"),))
    with pytest.raises(ValidationFailed):
        pipeline.process(inbox=inbox, message=msg, allowed_types=["application/pdf"])
    assert Conversation.objects.count() == 0 and Contact.objects.count() == 0


@pytest.mark.django_db
def test_pdf_attachment_is_kept(inbox):
    msg = inbound(attachments=(InboundAttachment("skan.pdf", PDF),))
    result = pipeline.process(inbox=inbox, message=msg, allowed_types=["application/pdf"])
    att = result.message.attachments.get()
    assert (att.filename, att.mime_type, att.size) == ("skan.pdf", "application/pdf", len(PDF))


@pytest.mark.django_db
def test_routing_prefers_caretaker_then_backup_then_queue(shop):
    team = factories.TeamFactory(shop=shop, name="Support")
    inbox = factories.InboxFactory(shop=shop, team=team)
    care, backup = factories.AgentFactory(shop=shop), factories.AgentFactory(shop=shop)
    first = pipeline.process(inbox=inbox, message=inbound())
    contact = first.contact
    contact.caretaker, contact.backup_caretaker = care, backup
    contact.save()
    assert first.conversation.assignee is None and first.conversation.team == team

    def new_case():
        return pipeline.process(inbox=inbox, message=inbound(text="another question")).conversation

    Conversation.objects.update(status=Status.CLOSED)
    assert new_case().assignee == care
    now = clock.now()
    import datetime as dt

    absence_add(agent=care, starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1))
    Conversation.objects.update(status=Status.CLOSED)
    assert new_case().assignee == backup
    absence_add(agent=backup, starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1))
    Conversation.objects.update(status=Status.CLOSED)
    queued = new_case()
    assert queued.assignee is None and queued.team == team


@pytest.mark.django_db
def test_first_agent_who_replies_becomes_caretaker(inbox, agent):
    result = pipeline.process(inbox=inbox, message=inbound())
    message_send(conversation=result.conversation, agent=agent, text="It ships today.")
    result.contact.refresh_from_db()
    assert result.contact.caretaker == agent
    conv = Conversation.objects.get(pk=result.conversation.pk)
    assert conv.first_response_at is not None and conv.waiting_since is None
    assert conv.status == Status.PENDING_CUSTOMER


@pytest.mark.django_db
def test_customer_reply_reopens_a_resolved_case(inbox, agent):
    result = pipeline.process(inbox=inbox, message=inbound())
    Conversation.objects.filter(pk=result.conversation.pk).update(status=Status.RESOLVED)
    again = pipeline.process(
        inbox=inbox,
        message=InboundMessage(
            sender=SenderHints(contact_id=result.contact.pk),
            text="Still not here",
            conversation_id=result.conversation.pk,
        ),
    )
    assert again.outcome == pipeline.APPENDED
    assert Conversation.objects.get(pk=result.conversation.pk).status == Status.OPEN


@pytest.mark.django_db
def test_a_conversation_of_another_contact_cannot_be_joined(inbox):
    mine = pipeline.process(inbox=inbox, message=inbound())
    other = pipeline.process(inbox=inbox, message=inbound(email="eve@example.org"))
    result = pipeline.process(
        inbox=inbox,
        message=InboundMessage(
            sender=SenderHints(contact_id=other.contact.pk), text="hi", conversation_id=mine.conversation.pk
        ),
    )
    assert result.outcome == pipeline.REJECTED
    assert mine.conversation.messages.count() == 1


@pytest.mark.django_db
def test_a_batch_of_authenticated_messages_joins_only_the_senders_own_cases(inbox, other_shop):
    mine = pipeline.process(inbox=inbox, message=inbound())
    theirs_inbox = factories.InboxFactory(shop=other_shop, kind=inbox.kind, name="Theirs")
    theirs = pipeline.process(inbox=theirs_inbox, message=inbound(email="obcy@example.org"))
    own = SenderHints(contact_id=mine.contact.pk)
    results = pipeline.process_many(
        inbox=inbox,
        messages=[
            InboundMessage(sender=own, text="one", conversation_id=mine.conversation.pk),
            InboundMessage(sender=own, text="another shop's case", conversation_id=theirs.conversation.pk),
            InboundMessage(sender=SenderHints(contact_id=theirs.contact.pk), text="another shop's contact"),
            InboundMessage(sender=own, text="two", conversation_id=mine.conversation.pk),
        ],
    )
    assert [r.outcome for r in results] == [
        pipeline.APPENDED,
        pipeline.REJECTED,
        pipeline.REJECTED,
        pipeline.APPENDED,
    ]
    assert [r.reason for r in results[1:3]] == ["Unknown conversation.", "Unknown contact."]
    assert theirs.conversation.messages.count() == 1
    assert list(mine.conversation.messages.order_by("id").values_list("text", flat=True))[-2:] == [
        "one",
        "two",
    ]
