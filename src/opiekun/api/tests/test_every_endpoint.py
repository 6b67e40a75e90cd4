"""Rules every operation keeps: credentials required, revoked tokens refused, CSRF for session writes,
and another shop's ids answering 404 without touching anything."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opiekun.agents.models import AuditLog
from opiekun.api.root import api as ninja_api
from opiekun.api.services import api_token_revoke
from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Attachment, Conversation, Message
from opiekun.conversations.services import note_add

from .conftest import ApiClient

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def objects(shop, contact, conversation, agent, settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path
    from opiekun.conversations.attachments import CheckedFile

    note = note_add(
        conversation=conversation, agent=agent, text="n", files=[CheckedFile("a.pdf", PDF, "application/pdf")]
    )
    return {
        "contact": contact.pk,
        "conversation": conversation.pk,
        "attachment": note.attachments.get().pk,
        "agent": agent.pk,
    }


def calls(ids):
    c, v, a, g = ids["contact"], ids["conversation"], ids["attachment"], ids["agent"]
    return [
        ("get", "contacts", None),
        ("post", "contacts", {"email": "new@example.org"}),
        ("get", f"contacts/{c}", None),
        ("patch", f"contacts/{c}", {"name": "Changed"}),
        ("post", f"contacts/{c}/identities", {"kind": "email", "value": "more@example.org"}),
        ("put", f"contacts/{c}/caretaker", {"caretaker_id": g}),
        ("post", f"contacts/{c}/merge", {"source_id": c}),
        ("get", "conversations", None),
        ("post", "conversations", {"email": "new@example.org", "text": "hi"}),
        ("get", f"conversations/{v}", None),
        ("patch", f"conversations/{v}", {"status": "open"}),
        ("get", f"conversations/{v}/messages", None),
        ("post", f"conversations/{v}/messages", {"text": "hi", "agent_id": g}),
        ("post", f"conversations/{v}/notes", {"text": "hi", "agent_id": g}),
        ("upload", f"conversations/{v}/attachments", {"text": "hi", "agent_id": g}),
        ("get", f"attachments/{a}", None),
        ("get", f"attachments/{a}/download", None),
    ]


def send(client: ApiClient, method, path, data, headers=None):
    if method == "upload":
        body = {**data, "files": [SimpleUploadedFile("x.pdf", PDF)]}
        return client.client.post(f"/api/{path}", body, headers={**client.headers, **(headers or {})})
    return getattr(client, method)(path, data, headers=headers or {})


def snapshot():
    return (
        Contact.objects.count(),
        Identity.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
        Attachment.objects.count(),
        AuditLog.objects.count(),
        list(Contact.objects.values_list("name", "caretaker_id", "merged_into_id").order_by("pk")),
        list(Conversation.objects.values_list("status", "assignee_id").order_by("pk")),
    )


def test_the_list_covers_every_operation(objects):
    schema = ninja_api.get_openapi_schema(path_prefix="/api/")
    operations = sum(len(methods) for methods in schema["paths"].values())
    assert len(calls(objects)) == operations


def test_every_operation_needs_credentials(anonymous, objects):
    before = snapshot()
    for method, path, data in calls(objects):
        assert send(anonymous, method, path, data).status_code == 401, (method, path)
    assert snapshot() == before


def test_every_operation_refuses_a_revoked_token(api, token, objects):
    api_token_revoke(token=token)
    before = snapshot()
    for method, path, data in calls(objects):
        assert send(api, method, path, data).status_code == 401, (method, path)
    assert snapshot() == before


def test_every_session_write_needs_csrf(session, objects):
    before = snapshot()
    for method, path, data in calls(objects):
        if method != "get":
            assert send(session, method, path, data).status_code == 403, (method, path)
    assert snapshot() == before


def test_another_shop_sees_nothing_and_changes_nothing(other_api, other_shop, objects):
    from opiekun.testing import factories

    stranger = factories.AgentFactory(shop=other_shop)
    before = snapshot()
    for method, path, data in calls(objects):
        if path in ("contacts", "conversations"):  # lists and creates have no id to misuse
            continue
        if data and "agent_id" in data:
            data = {**data, "agent_id": stranger.pk}
        assert send(other_api, method, path, data).status_code == 404, (method, path)
    assert other_api.get("contacts").json()["items"] == []
    assert other_api.get("conversations").json()["items"] == []
    assert snapshot() == before
