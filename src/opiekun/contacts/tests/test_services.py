import pytest

from opiekun.contacts import normalise
from opiekun.contacts.models import Contact, Identity
from opiekun.contacts.selectors import contact_addresses
from opiekun.contacts.services import (
    addresses_from,
    contact_identify,
    contact_merge,
    contact_set_caretaker,
    identity_add,
)
from opiekun.conversations.models import Conversation, Event
from opiekun.core.errors import ValidationFailed
from opiekun.inboxes import pipeline
from opiekun.inboxes.base import InboundMessage, SenderHints
from opiekun.testing import factories


def test_phone_numbers_become_e164_with_poland_as_default():
    assert normalise.phone("601 234 567") == "+48601234567"
    assert normalise.phone("+7 912 345-67-89") == "+79123456789"
    with pytest.raises(ValueError):
        normalise.phone("call me maybe")


def test_unparseable_phone_is_dropped_from_addresses_not_fatal():
    assert addresses_from(email="a@example.org", phone="n/a") == [addresses_from(email="a@example.org")[0]]


@pytest.mark.django_db
def test_identify_adds_new_addresses_to_the_known_contact(shop):
    first, created = contact_identify(
        shop=shop, addresses=addresses_from(email="jan@example.org"), name="Jan"
    )
    again, created_again = contact_identify(
        shop=shop, addresses=addresses_from(email="jan@example.org", phone="601234567")
    )
    assert created and not created_again and first == again
    assert set(first.identities.values_list("kind", "value")) == {
        ("email", "jan@example.org"),
        ("phone", "+48601234567"),
    }


@pytest.mark.django_db
def test_same_address_in_two_shops_is_two_contacts(shop, other_shop):
    a, _ = contact_identify(shop=shop, addresses=addresses_from(email="jan@example.org"))
    b, _ = contact_identify(shop=other_shop, addresses=addresses_from(email="jan@example.org"))
    assert a != b


@pytest.mark.django_db
def test_identity_owned_by_another_contact_is_refused(shop):
    a = factories.ContactFactory(shop=shop, email="a@example.org")
    b = factories.ContactFactory(shop=shop, email="b@example.org")
    with pytest.raises(ValidationFailed):
        identity_add(contact=b, kind="email", value="A@example.org")
    assert Identity.objects.get(value="a@example.org").contact == a


@pytest.mark.django_db
def test_merge_keeps_all_history(shop, inbox, agent):
    one = pipeline.process(
        inbox=inbox, message=InboundMessage(sender=SenderHints(email="jan@example.org"), text="a")
    )
    two = pipeline.process(
        inbox=inbox, message=InboundMessage(sender=SenderHints(phone="601234567"), text="b")
    )
    source, target = two.contact, one.contact
    contact_set_caretaker(contact=source, caretaker=agent, backup=None, actor=agent)
    contact_merge(source=source, target=target, actor=agent)
    target.refresh_from_db()
    source.refresh_from_db()
    assert source.merged_into == target
    assert set(target.conversations.values_list("number", flat=True)) == {1, 2}
    assert target.identities.count() == 2
    assert target.caretaker == agent  # the target had none, so the source's caretaker carries over
    assert Event.objects.filter(contact=target, kind="contact_merged").exists()
    assert not Event.objects.filter(contact=source).exists()
    # New mail from the absorbed address lands on the survivor.
    later = pipeline.process(
        inbox=inbox, message=InboundMessage(sender=SenderHints(phone="+48 601 234 567"), text="c")
    )
    assert later.contact == target


@pytest.mark.django_db
def test_every_conversation_follows_its_contacts_caretaker(shop, inbox, agent):
    """Conversation.caretaker ("My customers" and its count) equals contact.caretaker after every write."""
    colleague = factories.AgentFactory(shop=shop)

    def mail(email, text):
        return pipeline.process(
            inbox=inbox, message=InboundMessage(sender=SenderHints(email=email), text=text)
        )

    def caretakers(contact):
        return set(Conversation.objects.filter(contact=contact).values_list("caretaker_id", flat=True))

    first = mail("jan@example.org", "one")
    contact = first.contact
    assert caretakers(contact) == {None}
    contact_set_caretaker(contact=contact, caretaker=agent, backup=None, actor=agent)
    assert caretakers(contact) == {agent.pk}
    mail("jan@example.org", "two, a new case")  # created already carrying the caretaker
    assert Conversation.objects.filter(contact=contact).count() == 2 and caretakers(contact) == {agent.pk}
    contact_set_caretaker(contact=contact, caretaker=colleague, backup=agent, actor=agent)
    assert caretakers(contact) == {colleague.pk}

    other = mail("ola@example.org", "three").contact  # no caretaker; merged into the contact with one
    contact_merge(source=other, target=contact, actor=agent)
    assert caretakers(contact) == {colleague.pk} and caretakers(other) == set()

    cared = factories.ContactFactory(shop=shop, caretaker=agent)  # the source's caretaker carries over
    plain = mail("nowy@example.org", "four").contact
    contact_merge(source=cared, target=plain, actor=agent)
    assert caretakers(plain) == {agent.pk}

    contact_set_caretaker(contact=contact, caretaker=None, backup=None, actor=agent)
    assert caretakers(contact) == {None}


@pytest.mark.django_db
def test_first_reply_makes_the_agent_caretaker_of_every_case(shop, inbox, agent):
    from opiekun.conversations.services import message_send

    shop.caretaker_on_first_reply = True
    shop.save(update_fields=["caretaker_on_first_reply"])
    one = pipeline.process(
        inbox=inbox, message=InboundMessage(sender=SenderHints(email="a@example.org"), text="1")
    )
    two = pipeline.process(
        inbox=inbox, message=InboundMessage(sender=SenderHints(email="a@example.org"), text="2")
    )
    assert one.conversation != two.conversation
    message_send(conversation=one.conversation, agent=agent, text="Dzień dobry")
    assert set(Conversation.objects.filter(contact=one.contact).values_list("caretaker_id", flat=True)) == {
        agent.pk
    }


@pytest.mark.django_db
def test_merge_across_shops_is_refused(shop, other_shop):
    a = factories.ContactFactory(shop=shop)
    b = factories.ContactFactory(shop=other_shop)
    with pytest.raises(ValidationFailed):
        contact_merge(source=a, target=b, actor=None)
    assert Contact.objects.get(pk=a.pk).merged_into is None


@pytest.mark.django_db
def test_caretaker_must_be_of_the_same_shop_and_differ_from_backup(shop, other_shop, agent):
    contact = factories.ContactFactory(shop=shop)
    stranger = factories.AgentFactory(shop=other_shop)
    with pytest.raises(ValidationFailed):
        contact_set_caretaker(contact=contact, caretaker=stranger, backup=None, actor=agent)
    with pytest.raises(ValidationFailed):
        contact_set_caretaker(contact=contact, caretaker=agent, backup=agent, actor=agent)
    contact.refresh_from_db()
    assert contact.caretaker is None


@pytest.mark.django_db
def test_bad_addresses_and_overlong_fields_are_field_errors(shop):
    from opiekun.contacts.services import contact_update

    contact = factories.ContactFactory(shop=shop)
    for kind, value in (("email", "not an address"), ("phone", "abc"), ("fax", "1"), ("chat", "")):
        with pytest.raises(ValidationFailed):
            identity_add(contact=contact, kind=kind, value=value)
    with pytest.raises(ValidationFailed):
        contact_update(contact=contact, actor=None, name="x" * 201)
    assert contact.identities.count() == 1


@pytest.mark.django_db
def test_a_reply_goes_to_the_primary_address_else_the_first_one_added(shop):
    contact, _created = contact_identify(shop=shop, addresses=addresses_from(email="jan@example.org"))
    identity_add(contact=contact, kind=Identity.Kind.EMAIL, value="jan.kowalski@example.org")
    identity_add(contact=contact, kind=Identity.Kind.PHONE, value="601 234 567")
    identity_add(contact=contact, kind=Identity.Kind.PHONE, value="602 345 678")
    assert contact_addresses(contact_id=contact.pk) == {"email": "jan@example.org", "phone": "+48601234567"}
    Identity.objects.filter(contact=contact, value="+48602345678").update(is_primary=True)
    assert contact_addresses(contact_id=contact.pk)["phone"] == "+48602345678"
    assert contact_addresses(contact_id=contact.pk + 999) == {}
