"""factory_boy factories shared by every tests/ folder."""
# mypy: disable-error-code="attr-defined,misc"

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from opiekun.agents.models import Agent, Team
from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Conversation, Message
from opiekun.core import clock
from opiekun.inboxes.models import Inbox
from opiekun.shops.models import Shop

PASSWORD = "correct-horse-battery"  # noqa: S105 — test fixtures only


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    sender_email = factory.LazyAttribute(lambda o: f"support@{o.slug}.example")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    user = factory.SubFactory(UserFactory)
    shop = factory.SubFactory(ShopFactory)
    display_name = factory.Sequence(lambda n: f"Agent {n}")
    languages = ["pl", "en"]


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inbox

    shop = factory.SubFactory(ShopFactory)
    kind = "webform"
    name = factory.Sequence(lambda n: f"Inbox {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")

    @factory.post_generation
    def email(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        value = extracted or f"customer{self.pk}@example.org"
        if create:
            Identity.objects.create(
                shop=self.shop, contact=self, kind=Identity.Kind.EMAIL, value=value, is_primary=True
            )


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    shop = factory.SubFactory(ShopFactory)
    contact = factory.SubFactory(ContactFactory, shop=factory.SelfAttribute("..shop"))
    caretaker = factory.LazyAttribute(lambda o: o.contact.caretaker)  # as conversations_create_many copies it
    number = factory.Sequence(lambda n: 10_000 + n)
    subject = factory.Sequence(lambda n: f"Question {n}")
    created_at = factory.LazyFunction(clock.now)
    updated_at = factory.LazyFunction(clock.now)
    last_message_at = factory.LazyFunction(clock.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    shop = factory.SelfAttribute("conversation.shop")
    direction = Message.Direction.INBOUND
    channel = "webform"
    text = factory.Sequence(lambda n: f"Message text {n}")
    created_at = factory.LazyFunction(clock.now)
