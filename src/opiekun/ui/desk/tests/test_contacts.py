import pytest

from opiekun.contacts.models import Contact
from opiekun.conversations.models import Conversation, Event, Message
from opiekun.testing import factories

from .conftest import PDF, inbound


@pytest.fixture
def jan(inbox):
    first = inbound(inbox, email="jan@example.org", text="First question")
    inbound(inbox, email="jan@example.org", text="Second question")
    return first.contact


@pytest.mark.django_db
def test_contact_page_shows_identities_conversations_and_timeline(desk, jan, agent):
    response = desk.get(f"/contacts/{jan.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Jan Kowalski" in html and "jan@example.org" in html
    assert len(response.context["conversations"]) == 2
    assert "First question" in html and "Second question" in html
    assert "Log a contact" in html and "Merge another contact into this one" in html


@pytest.mark.django_db
def test_set_caretaker_and_backup(desk, jan, shop, agent):
    backup = factories.AgentFactory(shop=shop, display_name="Olga Iwanowa")
    response = desk.post(f"/contacts/{jan.pk}/caretaker/", {"caretaker": agent.pk, "backup": backup.pk})
    assert response.status_code == 302
    jan.refresh_from_db()
    assert (jan.caretaker, jan.backup_caretaker) == (agent, backup)
    assert Event.objects.filter(contact=jan, kind="caretaker_set").exists()
    page = desk.get(f"/contacts/{jan.pk}/").content.decode()
    assert "Caretaker: Anna Nowak · backup: Olga Iwanowa" in page


@pytest.mark.django_db
def test_caretaker_equal_to_backup_is_refused(desk, jan, agent):
    response = desk.post(f"/contacts/{jan.pk}/caretaker/", {"caretaker": agent.pk, "backup": agent.pk})
    assert response.status_code == 422
    assert "someone other than the caretaker" in response.content.decode()
    jan.refresh_from_db()
    assert jan.caretaker is None


@pytest.mark.django_db
def test_caretaker_from_another_shop_is_404(desk, jan, other_shop):
    stranger = factories.AgentFactory(shop=other_shop)
    assert desk.post(f"/contacts/{jan.pk}/caretaker/", {"caretaker": stranger.pk}).status_code == 404
    jan.refresh_from_db()
    assert jan.caretaker is None


@pytest.mark.django_db
def test_merge_another_contact_by_email(desk, jan, inbox):
    dup = inbound(inbox, email="jan.k@example.org", name="J. Kowalski", text="From my other address").contact
    response = desk.post(f"/contacts/{jan.pk}/merge/", {"other": "Jan.K@example.org"})
    assert response.status_code == 302
    dup.refresh_from_db()
    assert dup.merged_into == jan
    assert Conversation.objects.filter(contact=jan).count() == 3
    assert set(jan.identities.values_list("value", flat=True)) == {"jan@example.org", "jan.k@example.org"}
    # The absorbed contact's page leads to the survivor.
    assert desk.get(f"/contacts/{dup.pk}/")["Location"] == f"/contacts/{jan.pk}/"


@pytest.mark.django_db
def test_merge_by_id_and_refusals(desk, jan, inbox, other_shop):
    dup = inbound(inbox, email="other@example.org", text="x").contact
    foreign = factories.ContactFactory(shop=other_shop)
    refused = desk.post(f"/contacts/{jan.pk}/merge/", {"other": str(foreign.pk)})
    assert refused.status_code == 422 and "No contact of this shop matches" in refused.content.decode()
    itself = desk.post(f"/contacts/{jan.pk}/merge/", {"other": str(jan.pk)})
    assert itself.status_code == 422
    foreign.refresh_from_db()
    assert foreign.merged_into is None
    assert desk.post(f"/contacts/{jan.pk}/merge/", {"other": f"#{dup.pk}"}).status_code == 302
    dup.refresh_from_db()
    assert dup.merged_into == jan


@pytest.mark.django_db
def test_log_a_visit_on_the_timeline_opens_a_case(desk, jan, agent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = Conversation.objects.filter(contact=jan).count()
    response = desk.post(
        f"/contacts/{jan.pk}/log/",
        {
            "note_kind": "visit",
            "direction": "in",
            "text": "Came to the shop to return a lamp.",
            "files": [SimpleUploadedFile("receipt.pdf", PDF, "application/pdf")],
        },
    )
    assert response.status_code == 302
    assert Conversation.objects.filter(contact=jan).count() == before + 1
    logged = Message.objects.get(channel="note")
    assert logged.meta == {"note_kind": "visit"} and logged.author_agent == agent
    assert logged.attachments.count() == 1
    page = desk.get(f"/contacts/{jan.pk}/").content.decode()
    assert "Came to the shop to return a lamp." in page and "In-person visit · incoming" in page


@pytest.mark.django_db
def test_log_with_bad_kind_keeps_the_text(desk, jan):
    response = desk.post(
        f"/contacts/{jan.pk}/log/", {"note_kind": "pigeon", "direction": "in", "text": "Coo coo"}
    )
    assert response.status_code == 422
    assert "Coo coo</textarea>" in response.content.decode()
    assert not Message.objects.filter(channel="note").exists()


@pytest.mark.django_db
def test_unknown_contact_is_404(desk):
    assert desk.get("/contacts/424242/").status_code == 404


@pytest.mark.django_db
def test_contact_name_is_text(desk, inbox):
    contact = inbound(inbox, email="x@example.org", name="<script>alert(1)</script>").contact
    html = desk.get(f"/contacts/{contact.pk}/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert Contact.objects.count() == 1
