import threading

import pytest
from django.db import connection

from opiekun.conversations import services
from opiekun.conversations.models import Conversation, Event, Message, Status
from opiekun.conversations.selectors import Filters, conversation_list, view_counts
from opiekun.core.errors import ValidationFailed
from opiekun.inboxes import pipeline
from opiekun.inboxes.base import InboundMessage, SenderHints
from opiekun.testing import factories


def new_case(inbox, email="jan@example.org", text="Gdzie jest moja paczka?"):
    return pipeline.process(inbox=inbox, message=InboundMessage(sender=SenderHints(email=email), text=text))


@pytest.mark.django_db
def test_status_machine_stamps_and_refuses_jumps(inbox, agent):
    conv = new_case(inbox).conversation
    services.conversation_set_status(conversation=conv, status=Status.RESOLVED, actor=agent)
    assert conv.resolved_at is not None and conv.waiting_since is None
    with pytest.raises(ValidationFailed):
        services.conversation_set_status(conversation=conv, status=Status.PENDING_INTERNAL, actor=agent)
    services.conversation_set_status(conversation=conv, status=Status.CLOSED, actor=agent)
    services.conversation_set_status(conversation=conv, status=Status.OPEN, actor=agent)
    conv.refresh_from_db()
    assert conv.status == Status.OPEN and conv.resolved_at is None and conv.closed_at is None
    kinds = list(Event.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert kinds.count("status_changed") == 3


@pytest.mark.django_db
def test_agent_of_another_shop_cannot_act(inbox, other_shop):
    conv = new_case(inbox).conversation
    stranger = factories.AgentFactory(shop=other_shop)
    with pytest.raises(ValidationFailed):
        services.message_send(conversation=conv, agent=stranger, text="hi")
    with pytest.raises(ValidationFailed):
        services.conversation_assign(conversation=conv, agent=stranger, actor=stranger)
    assert conv.messages.count() == 1


@pytest.mark.django_db
def test_internal_note_is_never_queued_for_delivery(inbox, agent, django_capture_on_commit_callbacks):
    conv = new_case(inbox).conversation
    with django_capture_on_commit_callbacks(execute=True):
        note = services.note_add(conversation=conv, agent=agent, text="Check with the warehouse")
    note.refresh_from_db()
    assert note.is_internal and note.delivery_status == "" and note.delivery_attempts == 0


@pytest.mark.django_db
def test_a_reply_on_a_stale_case_keeps_what_a_colleague_set_meanwhile(shop, inbox, agent):
    """message_send reads the case before its transaction: what a colleague's reply committed since the
    desk loaded the case (assignee, first response, the contact's caretaker) is kept, not overwritten."""
    shop.caretaker_on_first_reply = True
    shop.save(update_fields=["caretaker_on_first_reply"])
    case = new_case(inbox).conversation
    stale = Conversation.objects.select_related("contact").get(pk=case.pk)  # as this agent's desk has it
    assert stale.assignee_id is None and stale.contact.caretaker_id is None
    colleague = factories.AgentFactory(shop=shop)
    first = services.message_send(conversation=case, agent=colleague, text="Już sprawdzam")
    services.message_send(conversation=stale, agent=agent, text="Paczka wyszła wczoraj")
    case.refresh_from_db()
    assert case.assignee_id == colleague.pk
    assert case.first_response_at == first.created_at
    assert case.contact.caretaker_id == colleague.pk and case.caretaker_id == colleague.pk
    assert Event.objects.filter(contact=case.contact, kind="caretaker_set").count() == 1
    assert case.message_count == 3 and stale.message_count == 3  # the stale copy is refreshed


@pytest.mark.django_db
def test_reply_is_queued_then_delivered_by_the_task(
    inbox, agent, django_capture_on_commit_callbacks, mailoutbox
):
    conv = new_case(inbox).conversation
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.message_send(conversation=conv, agent=agent, text="Wysłaliśmy ją dziś.")
    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.SENT and reply.sent_at is not None
    [mail] = mailoutbox
    assert mail.to == ["jan@example.org"] and f"[#{conv.number}]" in mail.subject
    assert "Wysłaliśmy ją dziś." in mail.body and "/portal/t/" in mail.body


@pytest.mark.django_db
def test_assign_and_tags_and_priority(inbox, agent):
    conv = new_case(inbox).conversation
    services.conversation_assign(conversation=conv, agent=agent, actor=agent)
    services.conversation_tag(conversation=conv, add=["Zwrot", " pilne "], actor=agent)
    services.conversation_tag(conversation=conv, remove=["pilne"], actor=agent)
    services.conversation_set_priority(conversation=conv, priority=3, actor=agent)
    conv.refresh_from_db()
    assert conv.assignee == agent and conv.status == Status.OPEN and conv.priority == 3
    assert list(conv.tags.values_list("name", flat=True)) == ["zwrot"]
    with pytest.raises(ValidationFailed):
        services.conversation_set_priority(conversation=conv, priority=9, actor=agent)


@pytest.mark.django_db
def test_merge_moves_messages_and_closes_source(inbox, agent):
    a = new_case(inbox).conversation
    c = new_case(inbox, email="ola@example.org").conversation
    services.conversation_merge(source=c, target=a, actor=agent)
    a.refresh_from_db()
    c.refresh_from_db()
    assert a.messages.count() == 2 and a.message_count == 2
    assert c.status == Status.CLOSED and c.merged_into == a and c.messages.count() == 0
    with pytest.raises(ValidationFailed):
        services.conversation_merge(source=a, target=a, actor=agent)


@pytest.mark.django_db
def test_views_and_counts_agree(shop, inbox, agent):
    team = factories.TeamFactory(shop=shop)
    mine = new_case(inbox).conversation
    services.conversation_assign(conversation=mine, agent=agent, actor=agent, team=team, set_team=True)
    new_case(inbox, email="b@example.org")
    waiting = new_case(inbox, email="c@example.org").conversation
    services.message_send(conversation=waiting, agent=agent, text="Please send a photo")  # → pending_customer
    counts = view_counts(agent=agent)
    assert (counts.mine, counts.unassigned, counts.open, counts.pending_customer) == (2, 1, 3, 1)
    assert counts.teams == {team.pk: 1}
    assert counts.my_customers == 1  # first reply made the agent caretaker of c@example.org
    listed = conversation_list(agent=agent, filters=Filters(view="mine"))
    assert {c.pk for c in listed} == {mine.pk, waiting.pk}
    assert [c.pk for c in conversation_list(agent=agent, filters=Filters(view="unassigned"))] == [
        c.pk for c in Conversation.objects.filter(assignee__isnull=True)
    ]


@pytest.mark.django_db(transaction=True)
def test_case_numbers_are_unique_under_concurrency(shop):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        ("file:memorydb", ":memory:")
    ):
        pytest.skip("needs a database shared between threads (runs on PostgreSQL)")
    inbox = factories.InboxFactory(shop=shop)
    errors = []

    def worker(i):
        try:
            for j in range(5):
                new_case(inbox, email=f"c{i}-{j}@example.org")
        except Exception as exc:  # pragma: no cover — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = sorted(Conversation.objects.filter(shop=shop).values_list("number", flat=True))
    assert numbers == list(range(1, 21))


@pytest.mark.django_db
def test_reply_on_resolved_or_closed_case_is_accepted(inbox, agent):
    resolved = new_case(inbox).conversation
    services.conversation_set_status(conversation=resolved, status=Status.RESOLVED, actor=agent)
    services.message_send(conversation=resolved, agent=agent, text="One more detail for you")
    resolved.refresh_from_db()
    assert resolved.status == Status.PENDING_CUSTOMER
    closed = new_case(inbox, email="z@example.org").conversation
    services.conversation_set_status(conversation=closed, status=Status.CLOSED, actor=agent)
    services.message_send(conversation=closed, agent=agent, text="For the record")
    closed.refresh_from_db()
    assert closed.status == Status.CLOSED
    with pytest.raises(ValidationFailed):
        services.message_send(conversation=closed, agent=agent, text="x", status_after="bogus")
    with pytest.raises(ValidationFailed):
        services.note_add(conversation=closed, agent=agent, text="x" * (services.MAX_TEXT + 1))


@pytest.mark.django_db
def test_quick_search_ignores_non_ascii_digits_and_huge_numbers(agent):
    for q in ("²", "#" + "9" * 40, "١٢٣"):
        assert conversation_list(agent=agent, filters=Filters(view="all", q=q)) == []


@pytest.mark.django_db
def test_a_case_of_logged_calls_only_is_answered_by_email(
    shop, note_inbox, agent, django_capture_on_commit_callbacks, mailoutbox
):
    from opiekun.inboxes.registry import drivers

    contact = factories.ContactFactory(shop=shop, email="caller@example.org")
    logged = drivers.get("note").parse_inbound(
        {
            "contact_id": contact.pk,
            "agent_id": agent.pk,
            "note_kind": "call",
            "text": "Customer called about a refund",
        }
    )[0]
    conv = pipeline.process(inbox=note_inbox, message=logged).conversation
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.message_send(
            conversation=conv, agent=agent, text="As promised on the phone: refunded."
        )
    reply.refresh_from_db()
    assert reply.channel == "webform" and reply.inbox is None
    assert reply.delivery_status == Message.Delivery.SENT, reply.delivery_error
    assert mailoutbox[0].to[0].endswith("<caller@example.org>")


@pytest.mark.django_db
def test_a_batch_with_several_messages_for_one_case_counts_them_all(inbox):
    import datetime as dt

    from opiekun.conversations.services import InboundRecord, messages_record_inbound_many

    one = factories.ConversationFactory(shop=inbox.shop, inbox=inbox, message_count=3)
    two = factories.ConversationFactory(shop=inbox.shop, inbox=inbox, message_count=0)
    base = one.last_message_at + dt.timedelta(minutes=1)
    records = [
        InboundRecord(conversation=one, channel="email", text="a", inbox=inbox, at=base),
        InboundRecord(conversation=two, channel="email", text="b", inbox=inbox, at=base),
        InboundRecord(
            conversation=one, channel="email", text="c", inbox=inbox, at=base + dt.timedelta(minutes=5)
        ),
    ]
    messages_record_inbound_many(records)
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.message_count, one.last_message_at) == (5, base + dt.timedelta(minutes=5))
    assert (two.message_count, two.last_message_at) == (1, base)
