"""The chat's HTTP side: the widget script, its settings, uploads, the offline form, file links,
the transcript, the desk's actions and the demo page."""

import io
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from opiekun.conversations.models import Attachment, Conversation, Message
from opiekun.livechat import services, tokens
from opiekun.livechat.models import ChatSession
from opiekun.testing import factories

from .conftest import KEY, ORIGIN, make_widget

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def client():
    return Client(HTTP_ORIGIN=ORIGIN)


def open_session(widget, **kw):
    return services.chat_session_open(widget=widget, key=None, **kw)


def test_the_widget_script_is_cacheable_and_loadable_from_any_site(db, client):
    response = client.get(reverse("livechat:widget"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "public" in response["Cache-Control"] and "max-age=" in response["Cache-Control"]
    assert client.get(reverse("livechat:widget"), HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    body = response.content
    import gzip

    assert len(gzip.compress(body, 9)) < 30 * 1024  # the budget, CSS included
    assert b"attachShadow" in body and b'.innerHTML = "<style>' not in body
    # Text from the network is only ever set as text.
    assert not re.search(rb"innerHTML\s*=\s*[a-z]+\.(text|name|author|message)", body)


def test_the_config_answers_only_allowed_origins(db, widget):
    url = reverse("livechat:config", kwargs={"key": KEY})
    ok = Client(HTTP_ORIGIN=ORIGIN).get(url + "?lang=ru")
    assert ok.status_code == 200 and ok["Access-Control-Allow-Origin"] == ORIGIN
    data = ok.json()
    assert data["online"] is True and data["colour"] == "#2f6f4f" and data["title"] == "Demo Shop"
    assert data["greeting"]  # the default greeting (translated in the livechat catalogue)
    assert data["prechat"] == {"enabled": False, "fields": ["name", "email"], "required": ["email"]}
    refused = Client(HTTP_ORIGIN="https://evil.example").get(url)
    assert refused.status_code == 403 and refused.json() == {"ok": False, "code": "forbidden_origin"}
    assert Client().get(reverse("livechat:config", kwargs={"key": "nosuchwidgetkey0000"})).status_code == 404


def test_the_greeting_is_per_language(db, shop):
    make_widget(shop, greeting={"pl": "Cześć!", "en": "Hi!"})
    url = reverse("livechat:config", kwargs={"key": KEY})
    assert Client(HTTP_ORIGIN=ORIGIN).get(url + "?lang=pl").json()["greeting"] == "Cześć!"
    assert Client(HTTP_ORIGIN=ORIGIN).get(url + "?lang=ru").json()["greeting"] == "Hi!"


def test_an_upload_becomes_a_chat_message_with_its_file(
    db, widget, client, django_capture_on_commit_callbacks
):
    session = open_session(widget)
    token = tokens.session_token(key=session.key, inbox_id=widget.inbox.pk)
    url = reverse("livechat:upload", kwargs={"key": KEY})
    response = client.post(
        url, {"session": token, "client_id": "f1", "file": io.BytesIO(PNG)}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    frame = response.json()["message"]
    assert frame["files"][0]["type"] == "image/png"
    message = Message.objects.get(pk=frame["id"])
    assert message.channel == "livechat" and message.attachments.count() == 1
    # The same client id again (a retried upload) is not stored twice.
    again = client.post(url, {"session": token, "client_id": "f1", "file": io.BytesIO(PNG)})
    assert again.json()["duplicate"] is True and Message.objects.count() == 1
    # The signed link opens the file for this visitor.
    file_response = client.get(frame["files"][0]["url"])
    assert file_response.status_code == 200 and b"".join(file_response.streaming_content) == PNG


def test_uploads_are_checked_before_anything_is_stored(db, widget, client):
    session = open_session(widget)
    token = tokens.session_token(key=session.key, inbox_id=widget.inbox.pk)
    url = reverse("livechat:upload", kwargs={"key": KEY})
    exe = io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200)
    exe.name = "faktura.pdf"
    refused = client.post(url, {"session": token, "client_id": "x", "file": exe})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    assert (
        client.post(url, {"session": "forged", "client_id": "x", "file": io.BytesIO(PNG)}).status_code == 401
    )
    assert (
        Client(HTTP_ORIGIN="https://evil.example")
        .post(url, {"session": token, "file": io.BytesIO(PNG)})
        .status_code
        == 403
    )
    assert Message.objects.count() == 0 and Attachment.objects.count() == 0


def test_a_file_link_opens_only_that_visitors_own_file(db, widget, client):
    a = open_session(widget)
    b = open_session(widget)
    services.chat_message_store(session=b, widget=widget, client_id="b", text="hej")
    upload = reverse("livechat:upload", kwargs={"key": KEY})
    frame = client.post(
        upload,
        {
            "session": tokens.session_token(key=a.key, inbox_id=widget.inbox.pk),
            "client_id": "f",
            "file": io.BytesIO(PNG),
        },
    ).json()["message"]
    own_url = frame["files"][0]["url"]
    attachment = Attachment.objects.get()
    b.refresh_from_db()
    foreign = tokens.file_token(attachment_id=attachment.pk, session_id=b.pk)
    assert client.get(reverse("livechat:file", kwargs={"token": foreign})).status_code == 404
    own_token = own_url.rstrip("/").rsplit("/", 1)[1]
    tampered = tokens.file_token(attachment_id=attachment.pk + 1, session_id=a.pk)[:-4] + own_token[-4:]
    assert client.get(reverse("livechat:file", kwargs={"token": tampered})).status_code == 404
    assert client.get(own_url).status_code == 200


def test_the_offline_form_becomes_an_email_case_and_is_acknowledged(
    db, shop, widget, email_inbox, client, django_capture_on_commit_callbacks
):
    url = reverse("livechat:offline", kwargs={"key": KEY})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "name": "Ola",
                "email": "ola@example.com",
                "message": "Czy macie rozmiar 42?",
                "lang": "pl",
                "page": ORIGIN + "/buty",
            },
        )
    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get(number=response.json()["number"])
    assert conversation.inbox_id == email_inbox.pk
    message = conversation.messages.get()
    assert message.channel == "email" and message.meta["via"] == "livechat_offline"
    assert message.meta["page_url"] == ORIGIN + "/buty"
    assert conversation.contact.identities.filter(kind="email", value="ola@example.com").exists()
    (ack,) = mail.outbox  # the mailbox acknowledges new cases, threaded from its own address
    assert ack.to == ["Ola <ola@example.com>"] and "support@sklep.test" in ack.from_email


def test_the_offline_form_without_a_mailbox_uses_the_contact_form_inbox(db, shop, widget, client):
    response = client.post(
        reverse("livechat:offline", kwargs={"key": KEY}), {"email": "ola@example.com", "message": "Halo"}
    )
    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert conversation.inbox.kind == "webform"


def test_the_offline_form_refuses_bad_input_and_strange_origins(db, widget, client):
    url = reverse("livechat:offline", kwargs={"key": KEY})
    bad = client.post(url, {"email": "nope", "message": "Halo"})
    assert bad.status_code == 400 and bad.json()["field"] == "email"
    assert client.post(url, {"email": "a@example.com", "message": " "}).json()["field"] == "message"
    assert (
        Client(HTTP_ORIGIN="https://evil.example")
        .post(url, {"email": "a@example.com", "message": "x"})
        .status_code
        == 403
    )
    bot = client.post(url, {"email": "a@example.com", "message": "x", "website": "http://spam"})
    assert bot.json() == {"ok": True}
    assert Conversation.objects.count() == 0


def test_the_offline_form_is_rate_limited_per_address(db, widget, client, monkeypatch):
    monkeypatch.setattr(services, "OFFLINE_LIMIT", (2, 600))
    url = reverse("livechat:offline", kwargs={"key": KEY})
    codes = [client.post(url, {"email": f"a{n}@example.com", "message": "x"}).status_code for n in range(3)]
    assert codes == [200, 200, 429] and Conversation.objects.count() == 2


def test_the_transcript_is_mailed_to_the_visitor(db, shop, widget, agent, django_capture_on_commit_callbacks):
    from opiekun.conversations.services import message_send, note_add

    session = open_session(widget, language="pl")
    services.chat_prechat(session=session, widget=widget, name="Ola", email="ola@example.com")
    stored = services.chat_message_store(session=session, widget=widget, client_id="c", text="Gdzie paczka?")
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=stored.message.conversation, agent=agent, text="Jutro u Pani.")
        note_add(conversation=stored.message.conversation, agent=agent, text="TAJNA notatka")
    mail.outbox.clear()
    session.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.chat_transcript_request(session=session) == "ola@example.com"
    (sent,) = mail.outbox
    assert sent.to == ["Ola <ola@example.com>"]
    assert "Gdzie paczka?" in sent.body and "Jutro u Pani." in sent.body and "TAJNA" not in sent.body
    assert "Ola" in sent.body and "Anna Nowak" in sent.body


def test_transcripts_are_limited_per_session(db, widget, monkeypatch):
    monkeypatch.setattr(services, "TRANSCRIPT_LIMIT", (1, 3600))
    session = open_session(widget)
    services.chat_message_store(session=session, widget=widget, client_id="c", text="x")
    services.chat_transcript_request(session=session, email="a@example.com")
    from opiekun.core.errors import RateLimited

    with pytest.raises(RateLimited):
        services.chat_transcript_request(session=session, email="b@example.com")


def test_desk_actions_accept_transfer_and_follow_up(db, shop, widget, agent, email_inbox):
    colleague = factories.AgentFactory(shop=shop, display_name="Piotr Wiśniewski")
    session = open_session(widget)
    conversation = services.chat_message_store(
        session=session, widget=widget, client_id="c", text="Zwrot butów"
    ).message.conversation
    desk = Client()
    desk.force_login(agent.user)
    assert (
        desk.post(reverse("livechat:desk_accept", kwargs={"number": conversation.number})).status_code == 302
    )
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk

    desk.post(
        reverse("livechat:desk_transfer", kwargs={"number": conversation.number}),
        {"to": f"agent:{colleague.pk}", "note": "Klient chce wymiany na 43"},
    )
    conversation.refresh_from_db()
    assert conversation.assignee_id == colleague.pk
    note = conversation.messages.get(is_internal=True)
    assert "wymiany na 43" in note.text and note.author_agent_id == agent.pk

    response = desk.post(
        reverse("livechat:desk_follow_up", kwargs={"number": conversation.number}),
        {"subject": "Wymiana rozmiaru"},
    )
    follow_up = Conversation.objects.get(follow_up_of=conversation)
    assert response["Location"].endswith(f"/c/{follow_up.number}/")
    assert (follow_up.subject, follow_up.assignee_id, follow_up.inbox_id) == (
        "Wymiana rozmiaru",
        agent.pk,
        email_inbox.pk,
    )
    conversation.refresh_from_db()
    assert conversation.status == "resolved"


def test_desk_actions_are_scoped_to_the_agents_shop(db, shop, other_shop, widget):
    session = open_session(widget)
    conversation = services.chat_message_store(
        session=session, widget=widget, client_id="c", text="x"
    ).message.conversation
    stranger = factories.AgentFactory(shop=other_shop)
    desk = Client()
    desk.force_login(stranger.user)
    for name in ("desk_accept", "desk_transfer", "desk_follow_up"):
        assert (
            desk.post(reverse(f"livechat:{name}", kwargs={"number": conversation.number})).status_code == 404
        )
    conversation.refresh_from_db()
    assert (
        conversation.assignee_id is None
        and not Conversation.objects.filter(follow_up_of=conversation).exists()
    )
    anonymous = Client()
    assert (
        anonymous.post(reverse("livechat:desk_accept", kwargs={"number": conversation.number})).status_code
        == 302
    )


def test_the_chat_panel_shows_on_a_chat_conversation(db, shop, widget, agent):
    session = open_session(widget, page_url=ORIGIN + "/koszyk", page_title="Twój koszyk")
    conversation = services.chat_message_store(
        session=session, widget=widget, client_id="c", text="x"
    ).message.conversation
    desk = Client()
    desk.force_login(agent.user)
    page = desk.get(reverse("desk:conversation", kwargs={"number": conversation.number})).content.decode()
    assert 'id="lc-panel"' in page and "Twój koszyk" in page and "Take this chat" in page
    assert 'id="lc-ring"' in page and "desk/livechat.js" in page


def test_the_demo_page_embeds_the_widget(db, shop):
    response = Client().get(reverse("livechat:demo"), HTTP_HOST="127.0.0.1")
    assert response.status_code == 200
    html = response.content.decode()
    widget_inbox = shop.inboxes.get(kind="livechat")
    assert f'data-key="{widget_inbox.config["public_key"]}"' in html and "/chat/widget.js" in html
    assert "http://127.0.0.1" in widget_inbox.config["allowed_origins"]
    assert ChatSession.objects.count() == 0
