from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Attachment, Conversation, Message
from opiekun.testing import factories
from opiekun.ui.public import signed

from .conftest import EXE, PDF, PNG, form_data, portal_link_from, stored_blobs, upload

pytestmark = pytest.mark.django_db

FORM = "/contact/demo/"
EMBED = "/contact/demo/embed/"


def nothing_stored() -> bool:
    return not (
        Contact.objects.exists()
        or Conversation.objects.exists()
        or Message.objects.exists()
        or Attachment.objects.exists()
    )


def test_form_renders_with_shop_brand_limits_and_csrf(client, shop, inbox):
    shop.brand_color = "#aa3355"
    shop.save()
    response = client.get(FORM)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Demo Shop" in html and "--brand: #aa3355" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "up to 5 files, 10 MB each" in html
    assert response["X-Frame-Options"] == "DENY"


def test_unknown_shop_or_no_active_webform_inbox_is_404(client, shop):
    assert client.get("/contact/nope/").status_code == 404
    assert client.get(FORM).status_code == 404  # the shop exists but has no webform inbox
    factories.InboxFactory(shop=shop, kind="webform", name="Off", is_active=False)
    assert client.get(FORM).status_code == 404
    assert client.post(FORM, form_data()).status_code == 404
    assert nothing_stored()


def test_happy_path_stores_case_and_mails_a_working_portal_link(
    client, shop, inbox, django_capture_on_commit_callbacks
):
    page = client.get(FORM, HTTP_REFERER="https://shop.example/kontakt").content.decode()
    assert 'name="page_url" value="https://shop.example/kontakt"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            FORM,
            form_data(
                phone="600 700 800",
                order_ref="2024/10/123",
                page_url="https://shop.example/kontakt",
                attachments=[
                    upload("skan.pdf", PDF, "application/pdf"),
                    upload("photo.png", PNG, "image/png"),
                ],
            ),
            HTTP_REFERER="http://testserver/contact/demo/",
        )
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    contact = conversation.contact
    assert contact.name == "Jan Kowalski"
    assert set(Identity.objects.filter(contact=contact).values_list("kind", "value")) == {
        ("email", "jan@example.org"),
        ("phone", "+48600700800"),
    }
    assert conversation.order_ref == "2024/10/123" and conversation.language == "en"
    assert conversation.inbox == inbox
    message = conversation.messages.get()
    assert message.text == "Where is my parcel?\nI ordered last week."
    assert message.meta == {
        "page_url": "https://shop.example/kontakt",
        "via": "form",
        "phone": "+48600700800",
    }
    assert sorted(message.attachments.values_list("filename", "mime_type")) == [
        ("photo.png", "image/png"),
        ("skan.pdf", "application/pdf"),
    ]

    done = client.get(response["Location"])
    page = done.content.decode()
    assert done.status_code == 200
    assert f"#{conversation.number}" in page and "jan@example.org" in page
    assert "/portal/t/" not in page  # the link goes only to the mailbox

    assert len(mail.outbox) == 1
    ack = mail.outbox[0]
    assert ack.subject == f"[#{conversation.number}] Where is my parcel?"
    assert ack.to == ["Jan Kowalski <jan@example.org>"]
    assert ack.from_email == "Demo Shop <support@demo.example>"
    assert ack.extra_headers["Auto-Submitted"] == "auto-replied"
    assert "I ordered last week." in ack.body
    link = portal_link_from(ack.body)
    portal = Client()
    entered = portal.get(link)
    assert entered.status_code == 302 and entered["Location"] == f"/portal/c/{conversation.number}/"
    case_page = portal.get(entered["Location"]).content.decode()
    assert "Where is my parcel?" in case_page and "skan.pdf" in case_page


def test_form_language_comes_from_the_browser_and_is_stored(
    client, shop, inbox, django_capture_on_commit_callbacks
):
    page = client.get(FORM, HTTP_ACCEPT_LANGUAGE="pl-PL,pl;q=0.9")
    assert '<html lang="pl">' in page.content.decode()
    assert 'name="language" value="pl"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(FORM, form_data(language="pl"))
    conversation = Conversation.objects.get()
    assert conversation.language == "pl" and conversation.contact.language == "pl"
    assert "Dziękujemy" in mail.outbox[0].body


def test_language_switch_by_query(client, shop, inbox):
    html = client.get(FORM + "?lang=ru").content.decode()
    assert '<html lang="ru">' in html and 'name="language" value="ru"' in html


def test_forbidden_file_type_keeps_text_and_stores_nothing(client, shop, inbox):
    before = len(stored_blobs())
    response = client.post(
        FORM,
        form_data(
            message="My <b>text</b> stays", attachments=[upload("invoice.pdf", EXE, "application/pdf")]
        ),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "invoice.pdf is not an allowed file type" in html
    assert "My &lt;b&gt;text&lt;/b&gt; stays" in html  # kept, and shown as text
    assert 'value="Jan Kowalski"' in html and 'value="jan@example.org"' in html
    assert "choose them again" in html
    assert nothing_stored() and len(stored_blobs()) == before
    assert not mail.outbox


def test_oversized_file_is_refused_while_reading_and_stores_nothing(client, shop, inbox, settings):
    settings.OPIEKUN_UPLOAD_MAX_BYTES = 64 * 1024
    before = len(stored_blobs())
    big = PDF + b"0" * (70 * 1024)
    response = client.post(FORM, form_data(attachments=[upload("big.pdf", big, "application/pdf")]))
    html = response.content.decode()
    assert response.status_code == 400
    assert "big.pdf is too large" in html
    assert "Where is my parcel?" in html
    assert nothing_stored() and len(stored_blobs()) == before


def test_too_many_files_are_refused(client, shop, inbox):
    files = [upload(f"p{i}.pdf", PDF, "application/pdf") for i in range(6)]
    response = client.post(FORM, form_data(attachments=files))
    assert response.status_code == 400
    assert "At most 5 files can be attached." in response.content.decode()
    assert nothing_stored()


def test_a_body_larger_than_all_files_together_is_not_read(rf, shop, inbox):
    from opiekun.ui.public.contact import contact_form

    request = rf.post(FORM, data=form_data())
    request.META["CONTENT_LENGTH"] = str(10**9)
    response = contact_form(request, shop_slug="demo")
    assert response.status_code == 413
    assert nothing_stored()


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"email": "not-an-address"}, "email", "Enter an e-mail address like name@example.com."),
        ({"email": ""}, "email", "We need your e-mail address to answer you."),
        ({"message": "   "}, "message", "Please write your message."),
        ({"name": ""}, "name", "Please tell us your name."),
        ({"phone": "call me maybe"}, "phone", "We could not read this phone number."),
    ],
)
def test_field_errors_keep_the_typed_text(client, shop, inbox, overrides, field, text):
    response = client.post(FORM, form_data(order_ref="A-77", **overrides))
    html = response.content.decode()
    assert response.status_code == 400
    assert text in html
    assert f'id="id_{field}-error"' in html and 'aria-invalid="true"' in html
    assert 'value="A-77"' in html  # the rest of what they typed is still there
    assert nothing_stored()


def test_honeypot_pretends_success_and_creates_nothing(
    client, shop, inbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(FORM, form_data(website="http://spam.example"))
    assert response.status_code == 302 and "/contact/demo/done/" in response["Location"]
    done = client.get(response["Location"])
    assert done.status_code == 200 and "Thank you" in done.content.decode()
    assert nothing_stored() and not mail.outbox


def test_honeypot_is_hidden_from_people_and_screen_readers(client, shop, inbox):
    html = client.get(FORM).content.decode()
    assert '<div class="hp" aria-hidden="true">' in html
    assert 'name="website" tabindex="-1" autocomplete="off"' in html


def test_flooding_answers_429_with_retry_after_and_keeps_the_text(client, shop, inbox, settings):
    settings.OPIEKUN_FORM_RATE_LIMIT = (2, 600)
    for i in range(2):
        assert client.post(FORM, form_data(email=f"a{i}@example.org")).status_code == 302
    response = client.post(FORM, form_data(message="third one", attachments=[upload("a.pdf", PDF)]))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 600
    assert "third one" in response.content.decode()
    assert Conversation.objects.count() == 2
    assert Attachment.objects.count() == 0


def test_rate_limit_is_per_ip(client, shop, inbox, settings):
    settings.OPIEKUN_FORM_RATE_LIMIT = (1, 600)
    assert client.post(FORM, form_data(), REMOTE_ADDR="10.0.0.1").status_code == 302
    assert client.post(FORM, form_data(), REMOTE_ADDR="10.0.0.1").status_code == 429
    # a forwarded-for header does not make a new client
    assert (
        client.post(FORM, form_data(), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4").status_code
        == 429
    )
    assert client.post(FORM, form_data(), REMOTE_ADDR="10.0.0.2").status_code == 302


def test_csrf_is_enforced_on_the_standalone_form(shop, inbox):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(FORM, form_data()).status_code == 403
    assert nothing_stored()
    strict.get(FORM)
    token = strict.cookies["csrftoken"].value
    assert strict.post(FORM, form_data(csrfmiddlewaretoken=token)).status_code == 302


def test_script_in_the_form_is_stored_as_text_and_shown_escaped(client, shop, inbox):
    response = client.post(
        FORM, form_data(name='<script>alert("x")</script>', message="<img src=x onerror=alert(1)>")
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.text == "<img src=x onerror=alert(1)>" and message.html == ""


def test_confirmation_cannot_be_forged_or_walked(client, shop, inbox):
    response = client.get("/contact/demo/done/?r=1234")
    html = response.content.decode()
    assert response.status_code == 200 and "#1234" not in html
    other = factories.ShopFactory(slug="other")
    factories.InboxFactory(shop=other)
    receipt = signed.receipt_dumps(signed.Receipt(number=7, email="x@example.org", mailed=True), other.pk)
    assert "#7" not in client.get(f"/contact/demo/done/?r={receipt}").content.decode()


# Embedded form ---------------------------------------------------------------------------------


def embed_token(client: Client, query: str = "") -> str:
    html = client.get(EMBED + query).content.decode()
    marker = 'name="form_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_embed_allows_framing_and_carries_its_own_token(shop, inbox):
    client = Client(enforce_csrf_checks=True)
    response = client.get(EMBED + "?page=https%3A%2F%2Fshop.example%2Fkontakt&lang=pl")
    html = response.content.decode()
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert 'name="form_token"' in html and "csrfmiddlewaretoken" not in html
    assert 'value="https://shop.example/kontakt"' in html and '<html lang="pl">' in html
    assert not response.cookies  # nothing a third-party iframe could not keep anyway
    assert client.get(FORM)["X-Frame-Options"] == "DENY"  # only the embed may be framed


def test_embed_post_without_cookies_works_with_the_signed_token(
    shop, inbox, django_capture_on_commit_callbacks
):
    browser = Client(enforce_csrf_checks=True)
    token = embed_token(browser, "?page=https%3A%2F%2Fshop.example%2Fkontakt")
    iframe = Client(enforce_csrf_checks=True)  # a cookie-less iframe: no session, no CSRF cookie
    with django_capture_on_commit_callbacks(execute=True):
        response = iframe.post(
            EMBED,
            form_data(form_token=token, page_url="https://shop.example/kontakt"),
            HTTP_ORIGIN="http://testserver",
        )
    assert response.status_code == 302 and "/contact/demo/embed/done/" in response["Location"]
    message = Message.objects.get()
    assert message.meta == {"page_url": "https://shop.example/kontakt", "via": "embed"}
    done = iframe.get(response["Location"])
    assert done.status_code == 200 and "X-Frame-Options" not in done
    assert f"#{message.conversation.number}" in done.content.decode()
    assert len(mail.outbox) == 1


def test_embed_post_without_or_with_a_forged_token_is_refused_keeping_text(client, shop, inbox):
    for token in ("", "forged:token", signed.form_token(shop.pk + 1)):
        response = client.post(EMBED, form_data(form_token=token, message="keep me"))
        html = response.content.decode()
        assert response.status_code == 400
        assert "keep me" in html and 'name="form_token" value="' in html  # a fresh token to try again
    assert nothing_stored()


def test_embed_post_from_a_foreign_origin_is_refused(client, shop, inbox):
    token = embed_token(client)
    for origin in ("https://evil.example", "null"):
        assert client.post(EMBED, form_data(form_token=token), HTTP_ORIGIN=origin).status_code == 403
    assert nothing_stored()


def test_embed_script_inserts_the_iframe(client, shop, inbox):
    response = client.get("/contact/demo/embed.js")
    body = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert 'new URL("/contact/demo/embed/", script.src)' in body
    assert "opiekun:height" in body and "insertBefore" in body
    assert client.get("/contact/nope/embed.js").status_code == 404


def test_done_page_links_back_in_the_same_language(client, shop, inbox):
    response = client.post(FORM + "?lang=ru", form_data(language="ru"))
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["lang"] == ["ru"]
    html = client.get(response["Location"]).content.decode()
    assert '<html lang="ru">' in html


def test_reverse_names_of_the_contract(shop):
    assert reverse("portal:contact_form", kwargs={"shop_slug": "demo"}) == "/contact/demo/"
    assert reverse("portal:contact_embed", kwargs={"shop_slug": "demo"}) == "/contact/demo/embed/"
    assert reverse("portal:contact_done", kwargs={"shop_slug": "demo"}) == "/contact/demo/done/"
    assert reverse("portal:home") == "/portal/"
    assert reverse("portal:enter", kwargs={"token": "abc"}) == "/portal/t/abc/"
    assert reverse("portal:conversation", kwargs={"number": 5}) == "/portal/c/5/"
    assert reverse("portal:request_link") == "/portal/link/"


def test_someone_elses_phone_never_hands_over_their_contact(
    client, shop, inbox, django_capture_on_commit_callbacks
):
    victim = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.org")
    Identity.objects.create(shop=shop, contact=victim, kind="phone", value="+48601234567")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            FORM, form_data(name="Mallory", email="mallory@example.org", phone="601 234 567")
        )
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert conversation.contact != victim and conversation.contact.name == "Mallory"
    assert not Identity.objects.filter(contact=victim, value="mallory@example.org").exists()
    assert not Identity.objects.filter(contact=conversation.contact, kind="phone").exists()
    assert conversation.messages.get().meta["phone"] == "+48601234567"  # the agent still sees it
    assert [m.to for m in mail.outbox] == [["Mallory <mallory@example.org>"]]


def test_a_typed_phone_is_not_added_to_an_existing_contact(client, shop, inbox):
    known = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.org")
    client.post(FORM, form_data(phone="601 234 567"))
    assert Conversation.objects.get().contact == known
    assert not Identity.objects.filter(kind="phone").exists()


def test_acknowledgment_goes_to_the_address_typed(client, shop, inbox, django_capture_on_commit_callbacks):
    known = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.org")
    Identity.objects.create(shop=shop, contact=known, kind="email", value="jan.work@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(FORM, form_data(email="Jan.Work@example.org"))
    assert mail.outbox[0].to == ["Jan Kowalski <jan.work@example.org>"]


def test_every_problem_is_reported_at_once(client, shop, inbox):
    response = client.post(FORM, form_data(email="nope", attachments=[upload("x.pdf", EXE)]))
    html = response.content.decode()
    assert "Enter an e-mail address like name@example.com." in html
    assert "x.pdf is not an allowed file type" in html
    assert nothing_stored()
