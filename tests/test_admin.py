"""The Django admin: staff only, scoped to the staff agent's shop, histories read-only, secrets hidden."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from opiekun.agents.models import Agent
from opiekun.agents.services import agent_create
from opiekun.inboxes.models import Inbox
from opiekun.testing import factories

PASSWORD = "zielona-herbata-7"


@pytest.fixture
def staff(shop):  # type: ignore[no-untyped-def]
    return agent_create(shop=shop, username="boss", password=PASSWORD, display_name="Szefowa", role="admin")


@pytest.fixture
def records(shop, other_shop, inbox):  # type: ignore[no-untyped-def]
    mine = factories.ConversationFactory(shop=shop, subject="Nasza sprawa", inbox=inbox)
    theirs = factories.ConversationFactory(shop=other_shop, subject="Cudza sprawa")
    factories.MessageFactory(conversation=mine, text="Wiadomość")
    inbox.secrets = {"api_key": "SECRET-API-KEY-42"}
    inbox.config = {"intro": "Napisz do nas"}
    inbox.save()
    foreign_inbox = Inbox.objects.create(shop=other_shop, kind="webform", name="Cudzy formularz")
    return {"mine": mine, "theirs": theirs, "inbox": inbox, "foreign_inbox": foreign_inbox}


def _url(model, action="changelist", *args):  # type: ignore[no-untyped-def]
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.django_db
def test_admin_role_makes_staff_and_other_roles_are_kept_out(client, shop, staff):
    agent = agent_create(shop=shop, username="zwykly", password=PASSWORD, display_name="Zwykły Agent")
    assert staff.user.is_staff and not agent.user.is_staff

    client.login(username="zwykly", password=PASSWORD)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    client.login(username="boss", password=PASSWORD)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_every_opiekun_model_is_registered_and_opens(client, staff, records):
    client.login(username="boss", password=PASSWORD)
    ours = [m for m in admin.site._registry if m.__module__.startswith("opiekun.")]
    labels = {m._meta.label for m in ours}
    for label in (
        "shops.Shop",
        "shops.ApiToken",
        "agents.Agent",
        "agents.Team",
        "agents.Absence",
        "agents.AuditLog",
        "contacts.Contact",
        "contacts.Identity",
        "conversations.Conversation",
        "conversations.Message",
        "conversations.Attachment",
        "conversations.Event",
        "conversations.Tag",
        "conversations.Macro",
        "inboxes.Inbox",
    ):
        assert label in labels
    for model in ours:
        assert client.get(_url(model)).status_code == 200, model
        assert client.get(_url(model) + "?q=sprawa").status_code == 200, model


@pytest.mark.django_db
def test_staff_see_only_their_own_shop(client, staff, records):
    client.login(username="boss", password=PASSWORD)
    listing = client.get(_url(type(records["mine"]))).content.decode()
    assert "Nasza sprawa" in listing and "Cudza sprawa" not in listing
    assert (
        client.get(_url(type(records["theirs"]), "change", records["theirs"].pk)).status_code == 302
    )  # not found
    assert client.get(_url(Inbox, "change", records["foreign_inbox"].pk)).status_code == 302
    # Forms offer only the own shop's rows to point at.
    form = client.get(_url(Inbox, "add")).content.decode()
    assert "Demo Shop" in form and "Other Shop" not in form


@pytest.mark.django_db
def test_filters_offer_nothing_from_other_shops(client, staff, records, other_shop):
    stranger = factories.AgentFactory(shop=other_shop, display_name="Obcy Konsultant")
    records["theirs"].assignee = stranger
    records["theirs"].save()
    factories.AgentFactory(shop=staff.shop, display_name="Nasza Konsultantka")
    records["mine"].assignee = staff
    records["mine"].save()
    client.login(username="boss", password=PASSWORD)
    for model in (type(records["mine"]), Inbox, Agent):
        page = client.get(_url(model)).content.decode()
        assert "Other Shop" not in page and "Obcy Konsultant" not in page, model
    assert "Szefowa" in client.get(_url(type(records["mine"]))).content.decode()  # the filter still works


@pytest.mark.django_db
def test_a_superuser_sees_every_shop(client, django_user_model, records):
    django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD)
    client.login(username="root", password=PASSWORD)
    listing = client.get(_url(type(records["mine"]))).content.decode()
    assert "Nasza sprawa" in listing and "Cudza sprawa" in listing


@pytest.mark.django_db
def test_inbox_secrets_are_never_displayed(client, staff, records):
    client.login(username="boss", password=PASSWORD)
    inbox = records["inbox"]
    for url in (_url(Inbox), _url(Inbox, "change", inbox.pk), _url(Inbox) + "?q=Contact"):
        content = client.get(url).content.decode()
        assert "SECRET-API-KEY-42" not in content and "secrets" not in content
    assert "Napisz do nas" in client.get(_url(Inbox, "change", inbox.pk)).content.decode()  # config is shown

    # Saving the form keeps the secrets (they are not in it, so they cannot be blanked either).
    response = client.post(
        _url(Inbox, "change", inbox.pk),
        {
            "shop": inbox.shop_id,
            "name": "Formularz",
            "kind": "webform",
            "team": "",
            "config": '{"intro": "Hej"}',
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.name == "Formularz" and inbox.secrets == {"api_key": "SECRET-API-KEY-42"}


@pytest.mark.django_db
def test_histories_are_read_only(client, staff, records):
    client.login(username="boss", password=PASSWORD)
    conversation = records["mine"]
    change = _url(type(conversation), "change", conversation.pk)
    page = client.get(change)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = client.post(change, {"subject": "Zmieniona", "status": "closed"})
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.subject == "Nasza sprawa"
    assert (
        client.post(_url(type(conversation), "delete", conversation.pk), {"post": "yes"}).status_code == 403
    )
    assert client.get(_url(type(conversation), "add")).status_code == 403


@pytest.mark.django_db
def test_changing_the_role_in_the_admin_keeps_is_staff_in_step(client, shop, staff):
    agent = agent_create(shop=shop, username="awans", password=PASSWORD, display_name="Awans")
    client.login(username="boss", password=PASSWORD)
    response = client.post(
        _url(Agent, "change", agent.pk),
        {
            "user": agent.user_id,
            "shop": shop.pk,
            "display_name": "Awans",
            "role": "admin",
            "languages": '["pl"]',
            "signature": "",
            "sender_email": "",
            "capacity": 0,
            "ui_language": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    agent.refresh_from_db()
    assert agent.role == "admin" and agent.user.is_staff


@pytest.mark.django_db
def test_a_caretaker_named_in_the_admin_reaches_my_customers(client, shop, staff):
    from opiekun.contacts.models import Contact

    conversation = factories.ConversationFactory(shop=shop)
    contact = conversation.contact
    client.login(username="boss", password=PASSWORD)
    response = client.post(
        _url(Contact, "change", contact.pk),
        {
            "shop": shop.pk,
            "name": contact.name,
            "language": "",
            "caretaker": staff.pk,
            "backup_caretaker": "",
            "notes": "",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
            "identities-MIN_NUM_FORMS": "0",
            "identities-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    conversation.refresh_from_db()
    assert conversation.caretaker_id == staff.pk
