from __future__ import annotations

import datetime as dt
import time
from unittest import mock

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from opiekun.contacts.portal import portal_token
from opiekun.conversations.models import Attachment, Conversation, Message, Status
from opiekun.conversations.services import conversation_set_status, message_send, note_add
from opiekun.inboxes import pipeline
from opiekun.inboxes.base import InboundAttachment, InboundMessage, SenderHints
from opiekun.testing import factories

from .conftest import EXE, PDF, portal_link_from, stored_blobs, upload

pytestmark = pytest.mark.django_db


def new_case(inbox, email="jan@example.org", text="Where is my parcel?", files=()):  # type: ignore[no-untyped-def]
    result = pipeline.process(
        inbox=inbox,
        message=InboundMessage(
            sender=SenderHints(name="Jan Kowalski", email=email),
            text=text,
            attachments=tuple(InboundAttachment(name, content) for name, content in files),
        ),
    )
    assert result.outcome == pipeline.CREATED
    return result.conversation


def signed_in(contact) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    response = client.get(reverse("portal:enter", kwargs={"token": portal_token(contact)}))
    assert response.status_code == 302
    return client


def test_magic_link_signs_in_rotates_the_session_and_follows_next(client, inbox):
    case = new_case(inbox)
    client.get("/portal/link/")  # an earlier anonymous session
    client.session.save()
    old_key = client.session.session_key
    token = portal_token(case.contact)
    response = client.get(f"/portal/t/{token}/?next={case.number}")
    assert response.status_code == 302 and response["Location"] == f"/portal/c/{case.number}/"
    assert client.session.session_key != old_key
    assert client.session["portal_contact_id"] == case.contact.pk
    assert client.get(f"/portal/t/{token}/?next=//evil.example")["Location"] == "/portal/"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        signing.dumps({"c": 1, "s": 1}, salt="opiekun.portal.v1", key="not-our-secret"),
        signing.dumps(
            {"c": 1, "s": 1}, salt="opiekun.webform.receipt.v1"
        ),  # signed by us, for another purpose
    ],
)
def test_forged_or_other_purpose_tokens_are_refused(client, inbox, token):
    new_case(inbox)
    response = client.get(f"/portal/t/{token}/")
    assert response.status_code == 400
    assert "This link has expired or is not valid" in response.content.decode()
    assert 'action="/portal/link/"' in response.content.decode()
    assert "portal_contact_id" not in client.session
    assert client.get("/portal/").status_code == 302


def test_expired_token_is_refused(client, inbox, settings):
    case = new_case(inbox)
    age = settings.OPIEKUN_PORTAL_LINK_MAX_AGE + 60
    with mock.patch("django.core.signing.time.time", return_value=time.time() - age):
        old_token = portal_token(case.contact)
    response = client.get(f"/portal/t/{old_token}/")
    assert response.status_code == 400 and "portal_contact_id" not in client.session
    fresh = client.get(f"/portal/t/{portal_token(case.contact)}/")
    assert fresh.status_code == 302


def test_home_lists_only_the_visitors_own_cases_in_plain_words(inbox, agent):
    mine = new_case(inbox, text="First question")
    second = new_case(inbox, text="Second question")
    conversation_set_status(conversation=second, status=Status.PENDING_CUSTOMER, actor=agent)
    theirs = new_case(inbox, email="ola@example.org", text="Ola's secret question")
    client = signed_in(mine.contact)
    html = client.get("/portal/").content.decode()
    assert f"#{mine.number}" in html and f"#{second.number}" in html
    assert "Ola&#x27;s secret question" not in html and "secret question" not in html
    assert f"#{theirs.number}" not in html
    assert "Waiting for your reply" in html and "Received" in html


def test_other_customers_and_other_shops_cases_are_404(inbox, other_shop):
    mine = new_case(inbox)
    theirs = new_case(inbox, email="ola@example.org")
    other_inbox = factories.InboxFactory(shop=other_shop)
    for i in range(2):
        new_case(other_inbox, email=f"someone{i}@example.org")
    elsewhere = new_case(other_inbox, email="jan@example.org", text="Other shop")  # same address, other shop
    assert elsewhere.number == 3 and not Conversation.objects.filter(shop=inbox.shop, number=3).exists()
    client = signed_in(mine.contact)
    assert client.get(f"/portal/c/{mine.number}/").status_code == 200
    assert client.get(f"/portal/c/{theirs.number}/").status_code == 404
    assert client.get(f"/portal/c/{elsewhere.number}/").status_code == 404
    assert client.get("/portal/c/999999/").status_code == 404
    assert "Other shop" not in client.get("/portal/").content.decode()
    theirs_client = signed_in(theirs.contact)
    assert theirs_client.get(f"/portal/c/{mine.number}/").status_code == 404


def test_attachments_of_others_are_404_and_own_download_safely(inbox, other_shop):
    mine = new_case(inbox, files=[("skan.pdf", PDF)])
    theirs = new_case(inbox, email="ola@example.org", files=[("ola.pdf", PDF + b"ola")])
    other_inbox = factories.InboxFactory(shop=other_shop)
    elsewhere = new_case(other_inbox, email="jan@example.org", files=[("x.pdf", PDF + b"x")])
    own = Attachment.objects.get(message__conversation=mine)
    client = signed_in(mine.contact)
    response = client.get(f"/portal/files/{own.pk}/")
    assert response.status_code == 200
    assert (
        response["Content-Disposition"].startswith("attachment;")
        and "skan.pdf" in response["Content-Disposition"]
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF
    for conversation in (theirs, elsewhere):
        other = Attachment.objects.get(message__conversation=conversation)
        assert client.get(f"/portal/files/{other.pk}/").status_code == 404
    assert Client().get(f"/portal/files/{own.pk}/").status_code == 302  # not signed in


def test_internal_notes_and_their_files_never_reach_the_portal(inbox, agent):
    case = new_case(inbox)
    note = note_add(conversation=case, agent=agent, text="INTERNAL: customer is difficult")
    Attachment.objects.create(
        shop=case.shop,
        message=note,
        sha256="0" * 64,
        filename="internal.pdf",
        mime_type="application/pdf",
        size=1,
    )
    message_send(conversation=case, agent=agent, text="Your parcel left today.")
    client = signed_in(case.contact)
    html = client.get(f"/portal/c/{case.number}/").content.decode()
    assert "Your parcel left today." in html and "Anna Nowak" in html
    assert "INTERNAL" not in html and "internal.pdf" not in html
    hidden = Attachment.objects.get(filename="internal.pdf")
    assert client.get(f"/portal/files/{hidden.pk}/").status_code == 404


def test_logged_contacts_stay_in_the_desk(inbox, note_inbox, agent):
    case = new_case(inbox)
    Message.objects.create(
        shop=case.shop,
        conversation=case,
        direction="out",
        channel="note",
        inbox=note_inbox,
        author_agent=agent,
        text="Called, customer was angry",
        created_at=case.created_at,
    )
    html = signed_in(case.contact).get(f"/portal/c/{case.number}/").content.decode()
    assert "customer was angry" not in html


def test_script_in_messages_is_shown_as_text(inbox, agent):
    case = new_case(inbox, text='<script>alert("boom")</script> and <img src=x onerror=alert(1)>')
    html = signed_in(case.contact).get(f"/portal/c/{case.number}/").content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;boom&quot;)&lt;/script&gt;" in html


def test_html_only_message_is_shown_without_its_markup(inbox, agent):
    case = new_case(inbox)
    Message.objects.create(
        shop=case.shop,
        conversation=case,
        direction="in",
        channel="email",
        text="",
        html="<p>Hi <b>there</b></p><script>alert(1)</script>",
        created_at=case.created_at,
    )
    html = signed_in(case.contact).get(f"/portal/c/{case.number}/").content.decode()
    assert "Hi there" in html and "<script>alert(1)" not in html


def test_reply_appends_to_the_case_and_reopens_it(inbox, agent):
    case = new_case(inbox)
    conversation_set_status(conversation=case, status=Status.RESOLVED, actor=agent)
    client = signed_in(case.contact)
    response = client.post(
        f"/portal/c/{case.number}/",
        {
            "message": "It still has not arrived.",
            "attachments": [upload("photo.pdf", PDF, "application/pdf")],
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.OPEN and case.resolved_at is None
    reply = case.messages.order_by("-id").first()
    assert response["Location"] == f"/portal/c/{case.number}/#m{reply.pk}"
    assert reply.text == "It still has not arrived." and reply.author_contact == case.contact
    assert reply.meta == {"via": "portal"} and reply.channel == "webform"
    assert reply.attachments.get().filename == "photo.pdf"
    assert Conversation.objects.count() == 1


def test_bad_reply_keeps_text_and_stores_nothing(inbox):
    case = new_case(inbox)
    client = signed_in(case.contact)
    before = (Message.objects.count(), len(stored_blobs()))
    response = client.post(
        f"/portal/c/{case.number}/", {"message": "keep this", "attachments": [upload("a.pdf", EXE)]}
    )
    assert response.status_code == 400 and "keep this" in response.content.decode()
    assert "not an allowed file type" in response.content.decode()
    response = client.post(f"/portal/c/{case.number}/", {"message": "  "})
    assert response.status_code == 400 and "Please write your reply." in response.content.decode()
    assert (Message.objects.count(), len(stored_blobs())) == before


def test_reply_to_someone_elses_case_is_404(inbox):
    mine = new_case(inbox)
    theirs = new_case(inbox, email="ola@example.org")
    client = signed_in(mine.contact)
    assert client.post(f"/portal/c/{theirs.number}/", {"message": "hijack"}).status_code == 404
    assert not Message.objects.filter(text="hijack").exists()


def test_portal_forms_need_csrf(inbox):
    case = new_case(inbox)
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("portal:enter", kwargs={"token": portal_token(case.contact)}))
    assert client.post(f"/portal/c/{case.number}/", {"message": "no token"}).status_code == 403
    assert client.post("/portal/logout/").status_code == 403
    assert client.post("/portal/link/", {"email": "jan@example.org", "shop": "demo"}).status_code == 403
    assert not Message.objects.filter(text="no token").exists()


def test_logout_forgets_the_visitor(inbox):
    case = new_case(inbox)
    client = signed_in(case.contact)
    assert client.post("/portal/logout/").status_code == 302
    assert client.get(f"/portal/c/{case.number}/").status_code == 302


def test_merged_contact_link_opens_the_survivors_cases(inbox, agent):
    from opiekun.contacts.services import contact_merge

    old = new_case(inbox, email="old@example.org")
    survivor = new_case(inbox, email="new@example.org")
    contact_merge(source=old.contact, target=survivor.contact, actor=agent)
    client = signed_in(old.contact)
    html = client.get("/portal/").content.decode()
    assert f"#{old.number}" in html and f"#{survivor.number}" in html


# "Send me a new link" ----------------------------------------------------------------------------


def test_request_link_mails_a_known_address_and_answers_the_same_for_unknown(
    client, inbox, django_capture_on_commit_callbacks
):
    case = new_case(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post("/portal/link/", {"email": "JAN@example.org", "shop": "demo"})
        unknown = client.post("/portal/link/", {"email": "nobody@example.org", "shop": "demo"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r, e: r.content.decode().replace(e, "EMAIL")  # noqa: E731
    assert strip(known, "JAN@example.org") == strip(unknown, "nobody@example.org")
    assert "a link to your cases is on its way" in known.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["Jan Kowalski <jan@example.org>"]
    link = portal_link_from(mail.outbox[0].body)
    portal = Client()
    assert portal.get(link)["Location"] == "/portal/"
    assert f"#{case.number}" in portal.get("/portal/").content.decode()


def test_request_link_is_rate_limited(client, inbox):
    new_case(inbox)
    for _ in range(5):
        client.post("/portal/link/", {"email": "x@example.org", "shop": "demo"})
    response = client.post("/portal/link/", {"email": "x@example.org", "shop": "demo"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_request_link_for_another_shops_customer_sends_nothing(
    client, inbox, other_shop, django_capture_on_commit_callbacks
):
    new_case(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/portal/link/", {"email": "jan@example.org", "shop": "other"})
    assert not mail.outbox


def test_portal_link_mails_are_limited_per_contact(client, inbox, django_capture_on_commit_callbacks):
    new_case(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(4):
            Client(REMOTE_ADDR=f"10.0.0.{i}").post(
                "/portal/link/", {"email": "jan@example.org", "shop": "demo"}
            )
    assert len(mail.outbox) == 3


def test_timesince_and_dates_render(inbox):
    case = new_case(inbox)
    Conversation.objects.filter(pk=case.pk).update(
        last_message_at=case.last_message_at - dt.timedelta(hours=3)
    )
    assert "Updated 3" in signed_in(case.contact).get("/portal/").content.decode()


def test_case_list_is_one_query_whatever_its_length(inbox, django_assert_num_queries):
    from opiekun.ui.public.access import PortalVisitor, portal_conversations

    first = new_case(inbox)
    for i in range(4):
        new_case(inbox, text=f"More {i}")
    visitor = PortalVisitor(contact=first.contact, shop=first.shop)
    with django_assert_num_queries(1):
        cases = portal_conversations(visitor=visitor)
    assert len(cases) == 5 and cases[0].subject == "More 3"
