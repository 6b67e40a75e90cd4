import pytest
from django.test import Client

from opiekun.contacts.models import Identity
from opiekun.conversations.models import Attachment, Conversation, Event, Macro, Message, Status
from opiekun.conversations.services import conversation_assign, note_add
from opiekun.inboxes.models import Inbox
from opiekun.testing import factories

from .conftest import PDF, inbound


def url(conv, action=""):
    return f"/c/{conv.number}/" + (f"{action}/" if action else "")


def kinds(conv):
    return list(Event.objects.filter(conversation=conv).order_by("id").values_list("kind", flat=True))


@pytest.fixture
def conv(inbox):
    return inbound(inbox, text="Where is my parcel? Order 123.", subject="Parcel").conversation


@pytest.mark.django_db
def test_conversation_page_shows_thread_and_customer_panel(desk, conv, agent, inbox):
    note_add(conversation=conv, agent=agent, text="Checked with the warehouse.")
    other = inbound(inbox, text="And a second question", subject="Invoice").conversation
    Conversation.objects.filter(pk=other.pk).update(status=Status.RESOLVED)
    response = desk.get(url(conv), {"view": "open"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Where is my parcel? Order 123." in html
    assert "Checked with the warehouse." in html and "msg-note" in html
    assert "jan@example.org" in html  # identities in the customer panel
    assert f"#{other.number}" in html and "Invoice" in html  # their other conversations
    assert f"Conversation #{conv.number} opened" in html  # timeline events interleaved
    # The live script's hooks.
    assert f'id="thread" class="thread" data-conversation-id="{conv.pk}"' in html
    assert 'hx-trigger="opiekun:refresh"' in html
    assert 'id="live-status"' in html and "desk/live.js" in html
    assert 'id="conversation-list"' in html and f'id="conv-{conv.number}"' in html


@pytest.mark.django_db
def test_pane_fragment_for_htmx(desk, conv):
    response = desk.get(url(conv), headers={"HX-Request": "true", "HX-Target": "pane"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="conv"')
    assert "<html" not in html


@pytest.mark.django_db
def test_thread_fragment_carries_header_and_side_out_of_band(desk, conv):
    html = desk.get(url(conv, "thread"), headers={"HX-Request": "true"}).content.decode()
    assert 'id="conv-header" class="conv-header" hx-swap-oob="true"' in html
    assert 'id="case-side" class="side" hx-swap-oob="true"' in html
    assert "Where is my parcel?" in html


@pytest.mark.django_db
def test_script_in_a_message_is_shown_as_text(desk, inbox):
    conv = inbound(
        inbox,
        text='<script>alert("pwn")</script>\n<b onmouseover="x()">bold</b>',
        name="<img src=x onerror=alert(2)>",
    ).conversation
    html = desk.get(url(conv)).content.decode()
    assert "<script>alert" not in html and "<b onmouseover" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt;<br>&lt;b onmouseover" in html


@pytest.mark.django_db
def test_reply_is_queued_and_shown(desk, conv, agent, hx):
    response = desk.post(
        url(conv, "compose"),
        {"mode": "reply", "text": "It ships today.", "status_after": "pending_customer"},
        headers=hx,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "desk:changed"
    reply = Message.objects.get(conversation=conv, direction="out")
    assert (reply.text, reply.author_agent, reply.is_internal) == ("It ships today.", agent, False)
    assert reply.delivery_status == Message.Delivery.QUEUED
    html = response.content.decode()
    assert "It ships today." in html and "delivery-queued" in html
    assert 'id="composer" class="composer-wrap" hx-swap-oob="true"' in html  # a fresh, empty composer
    conv.refresh_from_db()
    assert conv.status == Status.PENDING_CUSTOMER and conv.assignee == agent


@pytest.mark.django_db
def test_reply_and_resolve(desk, conv):
    desk.post(url(conv, "compose"), {"mode": "reply", "text": "Done!", "status_after": "resolved"})
    conv.refresh_from_db()
    assert conv.status == Status.RESOLVED


@pytest.mark.django_db
def test_reply_without_js_redirects_back_with_filters(desk, conv):
    response = desk.post(
        url(conv, "compose"), {"mode": "reply", "text": "Hello", "_qs": "view=open&q=x&evil=1"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/c/{conv.number}/?view=open&q=x"


@pytest.mark.django_db
def test_empty_reply_shows_the_error_and_sends_nothing(desk, conv, hx):
    response = desk.post(url(conv, "compose"), {"mode": "reply", "text": "   "}, headers=hx)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#composer"
    assert "Write a reply first." in response.content.decode()
    assert not Message.objects.filter(conversation=conv, direction="out").exists()


@pytest.mark.django_db
def test_a_bad_attachment_keeps_the_typed_reply(desk, conv, hx):
    from django.core.files.uploadedfile import SimpleUploadedFile

    empty = SimpleUploadedFile("scan.pdf", b"", content_type="application/pdf")
    response = desk.post(
        url(conv, "compose"),
        {"mode": "reply", "text": "Please see the attached label.", "files": [empty]},
        headers=hx,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "scan.pdf is empty." in html
    assert "Please see the attached label.</textarea>" in html
    assert not Message.objects.filter(conversation=conv, direction="out").exists()
    # Without JS: the whole page, the text still there.
    page = desk.post(
        url(conv, "compose"),
        {
            "mode": "reply",
            "text": "Kept text",
            "files": [SimpleUploadedFile("scan.pdf", b"", content_type="application/pdf")],
        },
    )
    assert page.status_code == 422 and "Kept text</textarea>" in page.content.decode()


@pytest.mark.django_db
def test_reply_with_attachment_and_agent_download(desk, conv):
    from django.core.files.uploadedfile import SimpleUploadedFile

    desk.post(
        url(conv, "compose"),
        {
            "mode": "reply",
            "text": "Your invoice.",
            "files": [SimpleUploadedFile("faktura.pdf", PDF, "application/pdf")],
        },
    )
    attachment = Attachment.objects.get(message__conversation=conv)
    assert (attachment.filename, attachment.mime_type) == ("faktura.pdf", "application/pdf")
    response = desk.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert (
        response["Content-Disposition"].startswith("attachment;")
        and "faktura.pdf" in response["Content-Disposition"]
    )
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_internal_note_is_never_queued(desk, conv, agent, hx):
    response = desk.post(url(conv, "compose"), {"mode": "note", "text": "Customer is a VIP."}, headers=hx)
    assert response.status_code == 200
    note = Message.objects.get(conversation=conv, is_internal=True)
    assert note.text == "Customer is a VIP." and note.delivery_status == ""
    assert not Message.objects.filter(conversation=conv, direction="out", is_internal=False).exists()
    assert "msg-note" in response.content.decode()


@pytest.mark.django_db
def test_assign_to_me_agent_team_and_back(desk, conv, agent, shop):
    colleague = factories.AgentFactory(shop=shop, display_name="Piotr")
    team = factories.TeamFactory(shop=shop, name="Returns")
    desk.post(url(conv, "assign"), {"to": "me"})
    conv.refresh_from_db()
    assert conv.assignee == agent and conv.status == Status.OPEN
    desk.post(url(conv, "assign"), {"to": f"agent:{colleague.pk}"})
    conv.refresh_from_db()
    assert conv.assignee == colleague
    desk.post(url(conv, "assign"), {"to": f"team:{team.pk}"})
    conv.refresh_from_db()
    assert conv.assignee is None and conv.team == team
    desk.post(url(conv, "assign"), {"to": "me"})
    desk.post(url(conv, "assign"), {"to": "none"})
    conv.refresh_from_db()
    assert conv.assignee is None
    events = Event.objects.filter(conversation=conv, kind="assigned").order_by("id")
    assert [e.data.get("assignee") for e in events] == ["Anna Nowak", "Piotr", None, "Anna Nowak", None]
    assert all(e.actor == agent for e in events)


@pytest.mark.django_db
def test_assign_to_another_shops_agent_or_team_is_404(desk, conv, other_shop):
    stranger = factories.AgentFactory(shop=other_shop)
    team = factories.TeamFactory(shop=other_shop)
    assert desk.post(url(conv, "assign"), {"to": f"agent:{stranger.pk}"}).status_code == 404
    assert desk.post(url(conv, "assign"), {"to": f"team:{team.pk}"}).status_code == 404
    conv.refresh_from_db()
    assert conv.assignee is None and conv.team is None


@pytest.mark.django_db
def test_status_change_and_refused_transition(desk, conv, hx):
    response = desk.post(url(conv, "status"), {"status": "resolved"}, headers=hx)
    assert response.status_code == 200
    conv.refresh_from_db()
    assert conv.status == Status.RESOLVED and "status_changed" in kinds(conv)
    refused = desk.post(url(conv, "status"), {"status": "pending_internal"}, headers=hx)
    assert refused.status_code == 422
    assert "cannot become “Waiting internal”" in refused.content.decode()
    conv.refresh_from_db()
    assert conv.status == Status.RESOLVED


@pytest.mark.django_db
def test_priority_tags_and_order(desk, conv):
    desk.post(url(conv, "priority"), {"priority": "3"})
    desk.post(url(conv, "tags"), {"add": "Refund, courier "})
    desk.post(url(conv, "tags"), {"remove": "courier"})
    desk.post(url(conv, "order"), {"order_ref": " ZAM-2024/77 "})
    conv.refresh_from_db()
    assert conv.priority == 3
    assert sorted(conv.tags.values_list("name", flat=True)) == ["refund"]
    assert conv.order_ref == "ZAM-2024/77"
    assert kinds(conv)[-4:] == ["priority_changed", "tags_changed", "tags_changed", "order_linked"]
    page = desk.get(url(conv)).content.decode()
    assert "Linked to order ZAM-2024/77" in page and "Priority: Normal → Urgent" in page


@pytest.mark.django_db
def test_merge_into_another_conversation_by_number(desk, conv, inbox, hx):
    target = inbound(inbox, email="jan@example.org", text="Second mail about the parcel").conversation
    response = desk.post(url(conv, "merge"), {"number": f"#{target.number}"}, headers=hx)
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/c/{target.number}/"
    conv.refresh_from_db()
    assert conv.merged_into == target and conv.status == Status.CLOSED
    assert Message.objects.filter(conversation=target).count() == 2
    assert "merged" in kinds(target)
    # The merged one still opens and points to the survivor.
    assert f"merged into #{target.number}" in desk.get(url(conv)).content.decode()


@pytest.mark.django_db
def test_merge_into_an_unknown_or_foreign_number_is_refused(desk, conv, other_shop, hx):
    foreign = factories.ConversationFactory(shop=other_shop, number=777)
    response = desk.post(url(conv, "merge"), {"number": "777"}, headers=hx)
    assert response.status_code == 422
    assert "There is no conversation #777." in response.content.decode()
    conv.refresh_from_db()
    foreign.refresh_from_db()
    assert conv.merged_into is None and foreign.message_count == 0


@pytest.mark.django_db
def test_macro_fills_in_variables(desk, conv, shop, agent, hx):
    conversation_assign(conversation=conv, agent=agent, actor=agent)
    Conversation.objects.filter(pk=conv.pk).update(order_ref="ZAM-77")
    macro = Macro.objects.create(
        shop=shop,
        name="Shipping",
        body=(
            "Dzień dobry {{ contact.first_name }},\nzamówienie {{ conversation.order_ref }} (sprawa "
            "#{{ conversation.number }}) wysłaliśmy.\n{{ agent.name }}"
        ),
    )
    response = desk.get(url(conv, "macro"), {"macro": macro.pk, "text": ""}, headers=hx)
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        f"Dzień dobry Jan,\nzamówienie ZAM-77 (sprawa #{conv.number}) wysłaliśmy.\nAnna Nowak</textarea>"
        in html
    )
    assert f'<option value="{macro.pk}" selected>' in html


@pytest.mark.django_db
def test_macro_appends_to_what_was_typed(desk, conv, shop, hx):
    macro = Macro.objects.create(shop=shop, name="Thanks", body="Thank you, {{ contact.name }}!")
    html = desk.get(url(conv, "macro"), {"macro": macro.pk, "text": "Hi,"}, headers=hx).content.decode()
    assert "Hi,\n\nThank you, Jan Kowalski!</textarea>" in html


@pytest.mark.django_db
def test_macro_of_another_shop_is_404(desk, conv, other_shop, hx):
    foreign = Macro.objects.create(shop=other_shop, name="Theirs", body="secret {{ shop.name }}")
    assert desk.get(url(conv, "macro"), {"macro": foreign.pk}, headers=hx).status_code == 404


@pytest.mark.django_db
def test_sending_with_a_macro_applies_its_tags_and_status(desk, conv, shop, agent):
    macro = Macro.objects.create(
        shop=shop,
        name="Escalate",
        body="We are checking.",
        add_tags="warehouse, late",
        set_status=Status.PENDING_INTERNAL,
    )
    desk.post(
        url(conv, "compose"),
        {"mode": "reply", "text": "We are checking.", "macro": macro.pk, "status_after": "pending_customer"},
    )
    conv.refresh_from_db()
    assert sorted(conv.tags.values_list("name", flat=True)) == ["late", "warehouse"]
    assert conv.status == Status.PENDING_INTERNAL


@pytest.mark.django_db
def test_log_a_call_with_a_scanned_letter(desk, conv, agent, hx):
    from django.core.files.uploadedfile import SimpleUploadedFile

    assert not Inbox.objects.filter(shop=conv.shop, kind="note").exists()
    response = desk.post(
        url(conv, "compose"),
        {
            "mode": "log",
            "note_kind": "letter",
            "direction": "in",
            "text": "Letter: asks for a refund.",
            "files": [SimpleUploadedFile("list.pdf", PDF, "application/pdf")],
        },
        headers=hx,
    )
    assert response.status_code == 200, response.content.decode()[:500]
    logged = Message.objects.get(conversation=conv, channel="note", is_internal=False)
    assert logged.meta["note_kind"] == "letter" and logged.direction == "in" and logged.author_agent == agent
    assert logged.attachments.get().filename == "list.pdf"
    assert Inbox.objects.get(shop=conv.shop, kind="note") == logged.inbox  # created on first use
    html = response.content.decode()
    assert "Letter · incoming" in html and "msg-logged" in html


@pytest.mark.django_db
def test_log_an_outgoing_call_uses_the_existing_note_inbox(desk, conv, note_inbox):
    desk.post(url(conv, "log"), {"note_kind": "call", "direction": "out", "text": "Called back, all fine."})
    logged = Message.objects.get(conversation=conv, channel="note")
    assert logged.inbox == note_inbox and logged.direction == "out"
    assert Inbox.objects.filter(shop=conv.shop, kind="note").count() == 1


@pytest.mark.django_db
def test_log_needs_text_or_a_file(desk, conv, hx):
    response = desk.post(
        url(conv, "compose"), {"mode": "log", "note_kind": "call", "direction": "in", "text": ""}, headers=hx
    )
    assert response.status_code == 422
    assert not Message.objects.filter(conversation=conv, channel="note").exists()


@pytest.mark.django_db
def test_another_shops_agent_gets_404_everywhere(conv, other_shop, agent):
    note_add(conversation=conv, agent=agent, text="secret")
    from django.core.files.uploadedfile import SimpleUploadedFile

    desk_a = Client()
    desk_a.force_login(agent.user)
    desk_a.post(
        url(conv, "compose"),
        {"mode": "note", "text": "with file", "files": [SimpleUploadedFile("x.pdf", PDF, "application/pdf")]},
    )
    attachment = Attachment.objects.get()
    stranger = factories.AgentFactory(shop=other_shop)
    client = Client()
    client.force_login(stranger.user)
    for path in (
        url(conv),
        url(conv, "thread"),
        url(conv, "macro"),
        f"/attachments/{attachment.pk}/",
        f"/contacts/{conv.contact_id}/",
    ):
        assert client.get(path).status_code == 404, path
    for action, data in (
        ("compose", {"mode": "reply", "text": "hi"}),
        ("status", {"status": "resolved"}),
        ("assign", {"to": "me"}),
        ("tags", {"add": "x"}),
        ("order", {"order_ref": "1"}),
        ("priority", {"priority": "3"}),
        ("merge", {"number": "1"}),
        ("log", {"note_kind": "call", "direction": "in", "text": "x"}),
    ):
        assert client.post(url(conv, action), data).status_code == 404, action
    for path, data in (
        (f"/contacts/{conv.contact_id}/caretaker/", {"caretaker": stranger.pk}),
        (f"/contacts/{conv.contact_id}/merge/", {"other": "1"}),
        (f"/contacts/{conv.contact_id}/log/", {"note_kind": "call", "direction": "in", "text": "x"}),
    ):
        assert client.post(path, data).status_code == 404, path
    conv.refresh_from_db()
    assert conv.status == Status.NEW and conv.assignee is None and not conv.tags.exists()
    assert (
        Message.objects.filter(conversation=conv).count() == 3
    )  # the customer's, the note, the note with file


@pytest.mark.django_db
def test_actions_need_csrf(conv, agent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent.user)
    assert client.post(url(conv, "compose"), {"mode": "reply", "text": "no token"}).status_code == 403
    assert client.post(url(conv, "status"), {"status": "resolved"}).status_code == 403
    assert not Message.objects.filter(conversation=conv, direction="out").exists()
    conv.refresh_from_db()
    assert conv.status == Status.NEW
    # With the token (as the page's forms and the htmx header send it) it works.
    page = client.get(url(conv))
    token = page.context["csrf_token"]
    assert (
        client.post(
            url(conv, "status"), {"status": "resolved"}, headers={"X-CSRFToken": str(token)}
        ).status_code
        == 302
    )


@pytest.mark.django_db
def test_actions_need_post(desk, conv):
    for action in ("compose", "status", "assign", "tags", "order", "priority", "merge", "log"):
        assert desk.get(url(conv, action)).status_code == 405, action


@pytest.mark.django_db
def test_delivery_failure_is_shown_with_its_reason(desk, conv, agent):
    desk.post(url(conv, "compose"), {"mode": "reply", "text": "Hello"})
    Message.objects.filter(direction="out").update(
        delivery_status="failed", delivery_error="550 mailbox unavailable"
    )
    html = desk.get(url(conv)).content.decode()
    assert "delivery-failed" in html and "550 mailbox unavailable" in html


@pytest.mark.django_db
def test_identity_flag_is_visible(desk, conv):
    Identity.objects.filter(contact=conv.contact).update(flagged="bounced twice")
    assert "bounced twice" in desk.get(url(conv)).content.decode()


@pytest.mark.django_db
def test_unknown_number_is_404(desk):
    assert desk.get("/c/99999/").status_code == 404


def _failed_reply(desk, conv):  # type: ignore[no-untyped-def]
    desk.post(url(conv, "compose"), {"mode": "reply", "text": "Your parcel left today."})
    reply = Message.objects.get(conversation=conv, direction="out")
    Message.objects.filter(pk=reply.pk).update(
        delivery_status="failed", delivery_error="550 5.1.1 mailbox unavailable", delivery_attempts=6
    )
    return reply


@pytest.mark.django_db
def test_a_reply_that_was_not_delivered_can_be_sent_again(desk, conv, agent):
    from opiekun.agents.models import AuditLog

    reply = _failed_reply(desk, conv)
    html = desk.get(url(conv)).content.decode()
    assert f'action="/c/{conv.number}/m/{reply.pk}/resend/"' in html and "Send again" in html
    response = desk.post(f"/c/{conv.number}/m/{reply.pk}/resend/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "The reply is being sent again." in response.content.decode()
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.delivery_error, reply.delivery_attempts) == ("queued", "", 0)
    assert reply.text == "Your parcel left today."  # the same reply, not a copy
    assert Message.objects.filter(conversation=conv, direction="out").count() == 1
    assert kinds(conv)[-1] == "delivery_retried"
    assert AuditLog.objects.filter(action="message.resend", actor=agent).exists()
    # Queued again, it is no longer "not delivered": a second click is refused and changes nothing.
    again = desk.post(f"/c/{conv.number}/m/{reply.pk}/resend/", headers={"HX-Request": "true"})
    assert "Only a reply that was not delivered can be sent again." in again.content.decode()
    assert kinds(conv).count("delivery_retried") == 1


@pytest.mark.django_db
def test_only_failed_replies_of_this_conversation_can_be_sent_again(desk, conv, agent, inbox, other_shop):
    reply = _failed_reply(desk, conv)
    note = note_add(conversation=conv, agent=agent, text="internal")
    Message.objects.filter(pk=note.pk).update(delivery_status="failed")
    refused = desk.post(f"/c/{conv.number}/m/{note.pk}/resend/", headers={"HX-Request": "true"})
    assert "Only a reply to the customer can be sent again." in refused.content.decode()
    assert Message.objects.get(pk=note.pk).delivery_status == "failed"
    # Another conversation's message through this one's URL, and another shop's: not found, untouched.
    other = inbound(inbox, text="second case", subject="Other").conversation
    assert desk.post(f"/c/{other.number}/m/{reply.pk}/resend/").status_code == 404
    foreign = factories.MessageFactory(
        conversation=factories.ConversationFactory(shop=other_shop),
        direction="out",
        delivery_status="failed",
    )
    assert desk.post(f"/c/{conv.number}/m/{foreign.pk}/resend/").status_code == 404
    assert Message.objects.get(pk=foreign.pk).delivery_status == "failed"
    assert Message.objects.get(pk=reply.pk).delivery_status == "failed"
    assert desk.get(f"/c/{conv.number}/m/{reply.pk}/resend/").status_code == 405


@pytest.mark.django_db
def test_a_chat_visitors_session_key_is_never_shown(desk, conv):
    key = "dPkCHEtC6yP2v8HgIIKxJKtXtYWv-secret"
    Identity.objects.create(shop=conv.shop, contact=conv.contact, kind=Identity.Kind.CHAT, value=key)
    for page in (url(conv), f"/contacts/{conv.contact_id}/"):
        html = desk.get(page).content.decode()
        assert "Live chat visitor" in html and key not in html, page
