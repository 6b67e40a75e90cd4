import pytest

from opiekun.agents.models import AuditLog
from opiekun.contacts.models import Contact
from opiekun.conversations.models import Conversation, Message, Status
from opiekun.testing import factories

from .conftest import csrf_headers

pytestmark = pytest.mark.django_db


def test_list_shows_only_this_shops_conversations(api, conversation, other_conversation):
    body = api.get("conversations").json()
    assert [c["id"] for c in body["items"]] == [conversation.pk]
    item = body["items"][0]
    assert item["contact"] == {"id": conversation.contact_id, "name": "Jan Kowalski"}
    assert (item["status"], item["priority"], item["number"]) == ("new", "normal", conversation.number)
    assert item["created_at"].endswith(("Z", "+00:00"))


def test_list_filters_like_the_desk(api, shop, agent, contact, inbox):
    team = factories.TeamFactory(shop=shop)
    urgent = factories.ConversationFactory(
        shop=shop, contact=contact, priority=3, status=Status.OPEN, team=team
    )
    mine = factories.ConversationFactory(
        shop=shop, contact=contact, assignee=agent, status=Status.OPEN, inbox=inbox
    )
    done = factories.ConversationFactory(
        shop=shop, contact=contact, status=Status.RESOLVED, subject="Refund please"
    )
    other_contact = factories.ContactFactory(shop=shop, name="Zofia")
    zofia = factories.ConversationFactory(shop=shop, contact=other_contact, status=Status.PENDING_CUSTOMER)

    def ids(**params):
        response = api.get("conversations", params)
        assert response.status_code == 200, response.content
        return {c["id"] for c in response.json()["items"]}

    assert ids() == {urgent.pk, mine.pk, done.pk, zofia.pk}
    assert ids(view="open") == {urgent.pk, mine.pk, zofia.pk}
    assert ids(view="unassigned") == {urgent.pk, zofia.pk}
    assert ids(view="resolved") == {done.pk}
    assert ids(priority="urgent") == {urgent.pk}
    assert ids(status="pending_customer") == {zofia.pk}
    assert ids(team_id=team.pk) == {urgent.pk}
    assert ids(assignee_id=agent.pk) == {mine.pk}
    assert ids(channel="webform") == {mine.pk}
    assert ids(contact_id=other_contact.pk) == {zofia.pk}
    assert ids(q="refund") == {done.pk}
    assert ids(q=f"#{zofia.number}") == {zofia.pk}
    assert ids(q="zofia") == {zofia.pk}
    numbers = [c["number"] for c in api.get("conversations", {"sort": "number"}).json()["items"]]
    assert numbers == sorted(numbers, reverse=True)


def test_list_by_tag(api, shop, contact):
    from opiekun.conversations.services import conversation_tag

    tagged = factories.ConversationFactory(shop=shop, contact=contact)
    factories.ConversationFactory(shop=shop, contact=contact)
    conversation_tag(conversation=tagged, add=["VIP"], actor=None)
    body = api.get("conversations", {"tag": "vip"}).json()
    assert [c["id"] for c in body["items"]] == [tagged.pk] and body["items"][0]["tags"] == ["vip"]


def test_agent_views_need_a_session(api, session, agent, shop, contact):
    assigned = factories.ConversationFactory(shop=shop, contact=contact, assignee=agent, status=Status.OPEN)
    factories.ConversationFactory(shop=shop, contact=contact, status=Status.OPEN)
    response = api.get("conversations", {"view": "mine"})
    assert response.status_code == 422 and response.json()["field"] == "view"
    assert [c["id"] for c in session.get("conversations", {"view": "mine"}).json()["items"]] == [assigned.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"view": "everything"},
        {"status": "lost"},
        {"priority": "2"},
        {"channel": "pigeon"},
        {"sort": "random"},
        {"team_id": "-3"},
        {"q": "\u00b2"},
        {"q": "9" * 30},
        {"assignee_id": "x"},
        {"limit": 1000},
    ],
)
def test_list_rejects_unknown_filter_values(api, params):
    response = api.get("conversations", params)
    assert response.status_code == 422, response.content


def test_list_query_count_is_fixed(api, shop, agent, django_assert_num_queries):
    from opiekun.conversations.services import conversation_tag

    team = factories.TeamFactory(shop=shop)
    inbox = factories.InboxFactory(shop=shop)
    for _ in range(8):
        conv = factories.ConversationFactory(shop=shop, assignee=agent, team=team, inbox=inbox)
        conversation_tag(conversation=conv, add=["a", "b"], actor=None)
    # token lookup + last_used update, conversations (contact, assignee, team, inbox joined), tags
    with django_assert_num_queries(4):
        response = api.get("conversations", {"limit": 200})
    assert len(response.json()["items"]) == 8


def test_get_conversation_with_contact_and_tags(api, conversation):
    from opiekun.conversations.services import conversation_tag

    conversation_tag(conversation=conversation, add=["delivery", "vip"], actor=None)
    body = api.get(f"conversations/{conversation.pk}").json()
    assert body["tags"] == ["delivery", "vip"]
    assert body["contact"]["identities"][0]["value"] == "jan@example.org"
    assert body["inbox"]["kind"] == "webform"


def test_another_shops_conversation_is_404_like_a_missing_one(other_api, conversation):
    foreign = other_api.get(f"conversations/{conversation.pk}")
    assert foreign.status_code == 404
    assert foreign.json() == other_api.get("conversations/987654").json()
    assert other_api.patch(f"conversations/{conversation.pk}", {"status": "closed"}).status_code == 404
    conversation.refresh_from_db()
    assert conversation.status == Status.NEW


def test_create_conversation_for_a_new_customer(api, shop, inbox, token):
    response = api.post(
        "conversations",
        {
            "name": "Marta",
            "email": "marta@example.org",
            "subject": "Return",
            "text": "I want to return the shoes.",
            "order_ref": "ORD-77",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    conv = Conversation.objects.get(pk=body["id"])
    assert (conv.shop, conv.inbox, conv.subject, conv.order_ref) == (shop, inbox, "Return", "ORD-77")
    assert conv.waiting_since is not None and body["contact"]["name"] == "Marta"
    message = conv.messages.get()
    assert (message.direction, message.channel, message.meta["via"]) == ("in", "webform", "api")
    log = AuditLog.objects.get(action="conversation.create")
    assert log.actor is None and log.data["token"] == token.name


def test_create_conversation_for_a_known_contact(api, contact, inbox):
    response = api.post("conversations", {"contact_id": contact.pk, "text": "Hello again"})
    assert response.status_code == 201
    assert response.json()["contact"]["id"] == contact.pk
    by_address = api.post("conversations", {"email": "JAN@example.org", "text": "Me again"})
    assert by_address.json()["contact"]["id"] == contact.pk
    assert Contact.objects.count() == 1


def test_create_with_another_shops_contact_is_refused(api, inbox, other_contact):
    response = api.post("conversations", {"contact_id": other_contact.pk, "text": "hi"})
    assert response.status_code == 422 and response.json()["field"] == "contact_id"
    assert not Conversation.objects.filter(shop=inbox.shop).exists()


def test_external_id_makes_create_idempotent(api, inbox):
    first = api.post("conversations", {"email": "a@example.org", "text": "one", "external_id": "ext-1"})
    again = api.post("conversations", {"email": "a@example.org", "text": "one", "external_id": "ext-1"})
    assert first.status_code == 201
    assert again.status_code == 409 and again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"email": "a@example.org"}, "text"),
        ({"email": "a@example.org", "text": ""}, "text"),
        ({"text": "who am I?"}, "email"),
        ({"email": "broken", "text": "x"}, "email"),
        ({"email": "a@example.org", "text": "x\x00y"}, "text"),
        ({"email": "a@example.org", "text": "x", "order_ref": "o" * 65}, "order_ref"),
        ({"email": "a@example.org", "text": "x", "contact_id": "seven"}, "contact_id"),
    ],
)
def test_create_validation(api, inbox, body, field):
    response = api.post("conversations", body)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert not Conversation.objects.exists()


def test_create_without_a_contact_form_inbox_is_422(api, shop):
    response = api.post("conversations", {"email": "a@example.org", "text": "x"})
    assert response.status_code == 422
    assert not Conversation.objects.exists()


def test_update_status_priority_assignee_team_tags_order(api, shop, agent, conversation, token):
    team = factories.TeamFactory(shop=shop)
    response = api.patch(
        f"conversations/{conversation.pk}",
        {
            "assignee_id": agent.pk,
            "team_id": team.pk,
            "priority": "high",
            "status": "pending_internal",
            "tags": ["Warehouse", "vip"],
            "order_ref": "ORD-1",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["assignee"]["id"] == agent.pk and body["team"]["id"] == team.pk
    assert (body["priority"], body["status"], body["tags"], body["order_ref"]) == (
        "high",
        "pending_internal",
        ["vip", "warehouse"],
        "ORD-1",
    )
    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.team, conversation.priority) == (agent, team, 2)
    assert AuditLog.objects.filter(action="conversation.update", actor=None, data__token=token.name).exists()
    cleared = api.patch(
        f"conversations/{conversation.pk}", {"assignee_id": None, "remove_tags": ["vip"]}
    ).json()
    assert (
        cleared["assignee"] is None and cleared["team"]["id"] == team.pk and cleared["tags"] == ["warehouse"]
    )


def test_invalid_transition_is_422_with_a_message_and_changes_nothing(api, shop, contact):
    closed = factories.ConversationFactory(shop=shop, contact=contact, status=Status.CLOSED)
    response = api.patch(f"conversations/{closed.pk}", {"priority": "urgent", "status": "pending_customer"})
    assert response.status_code == 422
    assert response.json()["field"] == "status" and "cannot" in response.json()["detail"]
    closed.refresh_from_db()
    assert (closed.status, closed.priority) == (Status.CLOSED, 1)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "archived"},
        {"priority": 5},
        {"assignee_id": -1},
        {"tags": ["a"], "add_tags": ["b"]},
        {"tags": [""]},
        {"tags": "vip"},
        {"order_ref": "x" * 100},
    ],
)
def test_update_validation(api, conversation, body):
    assert api.patch(f"conversations/{conversation.pk}", body).status_code == 422


def test_assignee_from_another_shop_is_refused(api, other_shop, conversation):
    stranger = factories.AgentFactory(shop=other_shop)
    response = api.patch(f"conversations/{conversation.pk}", {"assignee_id": stranger.pk})
    assert response.status_code == 422 and response.json()["field"] == "assignee_id"
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_session_update_is_audited_by_the_services_as_the_agent(session, agent, conversation):
    response = session.patch(
        f"conversations/{conversation.pk}", {"status": "open"}, headers=csrf_headers(session)
    )
    assert response.status_code == 200
    log = AuditLog.objects.get(action="conversation.status")
    assert log.actor == agent
    assert not AuditLog.objects.filter(action="conversation.update").exists()
