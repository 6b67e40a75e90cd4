import pytest

from opiekun.agents.models import AuditLog
from opiekun.conversations.models import Conversation, Message, Status
from opiekun.conversations.services import note_add
from opiekun.testing import factories

from .conftest import csrf_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(conversation, agent):
    factories.MessageFactory(conversation=conversation, text="Where is my parcel?")
    note_add(conversation=conversation, agent=agent, text="Checked with the warehouse")
    return conversation


def test_list_messages_includes_notes(api, thread, agent):
    body = api.get(f"conversations/{thread.pk}/messages").json()
    assert [(m["direction"], m["is_internal"], m["text"]) for m in body["items"]] == [
        ("in", False, "Where is my parcel?"),
        ("out", True, "Checked with the warehouse"),
    ]
    assert body["items"][1]["author_agent"] == {"id": agent.pk, "display_name": agent.display_name}
    assert body["items"][1]["channel"] == "note" and body["next_offset"] is None


def test_messages_of_another_shop_are_404(other_api, thread):
    assert other_api.get(f"conversations/{thread.pk}/messages").status_code == 404


def test_message_list_query_count_is_fixed(api, conversation, agent, django_assert_num_queries):
    from opiekun.conversations.attachments import CheckedFile

    for n in range(6):
        note_add(
            conversation=conversation,
            agent=agent,
            text=f"note {n}",
            files=[CheckedFile(f"f{n}.txt", b"hello %d" % n, "text/plain")],
        )
    # token lookup + last_used update, the conversation, messages (authors joined), attachments
    with django_assert_num_queries(5):
        response = api.get(f"conversations/{conversation.pk}/messages", {"limit": 200})
    assert len(response.json()["items"]) == 6
    assert all(len(m["attachments"]) == 1 for m in response.json()["items"])


def test_reply_with_a_token_names_the_agent(
    api, agent, conversation, token, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"conversations/{conversation.pk}/messages", {"text": "It ships today.", "agent_id": agent.pk}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["direction"], body["is_internal"], body["author_agent"]["id"]) == ("out", False, agent.pk)
    message = Message.objects.get(pk=body["id"])
    assert message.delivery_status in ("queued", "sent", "failed")
    conversation.refresh_from_db()
    assert conversation.status == Status.PENDING_CUSTOMER and conversation.assignee == agent
    assert AuditLog.objects.filter(action="message.send", actor=agent).exists()
    api_log = AuditLog.objects.get(action="message.send", actor=None)
    assert api_log.data["token"] == token.name and api_log.data["agent"] == agent.pk


def test_reply_status_after_and_channel(api, agent, conversation):
    response = api.post(
        f"conversations/{conversation.pk}/messages",
        {"text": "Done.", "agent_id": agent.pk, "status_after": "resolved", "channel": "email"},
    )
    assert response.status_code == 201
    assert response.json()["channel"] == "email"
    assert Conversation.objects.get(pk=conversation.pk).status == Status.RESOLVED


def test_token_reply_needs_an_agent_of_the_shop(api, other_shop, conversation):
    missing = api.post(f"conversations/{conversation.pk}/messages", {"text": "Hi"})
    assert missing.status_code == 422 and missing.json()["field"] == "agent_id"
    stranger = factories.AgentFactory(shop=other_shop)
    foreign = api.post(f"conversations/{conversation.pk}/messages", {"text": "Hi", "agent_id": stranger.pk})
    assert foreign.status_code == 422 and foreign.json()["field"] == "agent_id"
    assert not Message.objects.exists()


def test_token_reply_as_a_switched_off_agent_is_refused(api, agent, conversation):
    agent.user.is_active = False
    agent.user.save()
    response = api.post(f"conversations/{conversation.pk}/messages", {"text": "Hi", "agent_id": agent.pk})
    assert response.status_code == 422
    assert not Message.objects.exists()


def test_session_reply_writes_as_the_signed_in_agent(session, agent, shop, conversation):
    response = session.post(
        f"conversations/{conversation.pk}/messages", {"text": "Hello!"}, headers=csrf_headers(session)
    )
    assert response.status_code == 201
    assert response.json()["author_agent"]["id"] == agent.pk
    colleague = factories.AgentFactory(shop=shop)
    impersonate = session.post(
        f"conversations/{conversation.pk}/messages",
        {"text": "x", "agent_id": colleague.pk},
        headers=csrf_headers(session),
    )
    assert impersonate.status_code == 422
    assert Message.objects.count() == 1


def test_session_reply_without_csrf_is_403(session, conversation):
    assert session.post(f"conversations/{conversation.pk}/messages", {"text": "Hello!"}).status_code == 403
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"text": "   "},
        {"text": ""},
        {},
        {"text": "a" * 100_001},
        {"text": "x", "channel": "note"},
        {"text": "x", "status_after": "closed"},
        {"text": 5},
        {"text": "nul\x00"},
    ],
)
def test_reply_validation(api, agent, conversation, body):
    response = api.post(f"conversations/{conversation.pk}/messages", {"agent_id": agent.pk, **body})
    assert response.status_code == 422, response.content
    assert not Message.objects.exists()


def test_reply_to_another_shops_conversation_is_404(other_api, other_shop, conversation):
    stranger = factories.AgentFactory(shop=other_shop)
    response = other_api.post(
        f"conversations/{conversation.pk}/messages", {"text": "x", "agent_id": stranger.pk}
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_add_note(api, agent, conversation, token):
    response = api.post(
        f"conversations/{conversation.pk}/notes", {"text": "Call back Monday", "agent_id": agent.pk}
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["is_internal"], body["channel"], body["delivery_status"]) == (True, "note", "")
    assert AuditLog.objects.filter(action="note.add", actor=None, data__token=token.name).exists()


def test_note_validation_and_isolation(api, other_api, agent, conversation):
    assert api.post(f"conversations/{conversation.pk}/notes", {"text": "x"}).status_code == 422
    assert (
        other_api.post(
            f"conversations/{conversation.pk}/notes", {"text": "x", "agent_id": agent.pk}
        ).status_code
        == 404
    )
    assert not Message.objects.exists()
