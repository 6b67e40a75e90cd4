"""The desk's e-mail operations: mailboxes with health, add/edit, the connection test and the quarantine."""

from __future__ import annotations

import datetime as dt
import socket
from unittest import mock

import pytest
from django.test import Client

from opiekun.agents.models import Agent
from opiekun.core import clock
from opiekun.inboxes import mailstore
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.testing import factories

NO_SENDER = (
    b"From: Someone without an address\r\nTo: support@sklep.test\r\nSubject: Where is my order?\r\n"
    b"Message-ID: <q1@example.org>\r\n\r\nI ordered on Monday.\r\n<script>alert(1)</script>\r\n"
)
GOOD = (
    b"From: Jan Kowalski <jan@example.org>\r\nTo: support@sklep.test\r\nSubject: Parcel\r\n"
    b"Message-ID: <g1@example.org>\r\n\r\nWhere is my parcel?\r\n"
)


def big_attachment_mail(size: int = 1_300_000) -> bytes:
    """A mail whose PDF is larger than 1 MB: quarantined while the inbox's limit is 1 MB."""
    import base64

    pdf = b"%PDF-1.4\n" + b"0" * size
    body = base64.encodebytes(pdf)
    return (
        b"From: Ewa Nowak <ewa@example.org>\r\nTo: support@sklep.test\r\nSubject: Invoice scan\r\n"
        b"Message-ID: <big1@example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe scan is attached.\r\n"
        b'--b1\r\nContent-Type: application/pdf; name="scan.pdf"\r\n'
        b'Content-Disposition: attachment; filename="scan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + body
        + b"\r\n--b1--\r\n"
    )


@pytest.fixture
def admin(shop) -> Agent:  # type: ignore[no-untyped-def]
    return factories.AgentFactory(shop=shop, display_name="Adam Admin", role=Agent.Role.ADMIN)


@pytest.fixture
def admin_client(admin: Agent) -> Client:
    client = Client()  # apart from the `desk` fixture's client: a test may use both people at once
    client.force_login(admin.user)
    return client


@pytest.fixture
def mailbox(shop) -> Inbox:  # type: ignore[no-untyped-def]
    return factories.InboxFactory(
        shop=shop,
        kind="email",
        name="Support mailbox",
        config={"address": "support@sklep.test", "imap_host": "imap.sklep.test", "imap_folder": "INBOX"},
        secrets={"imap_password": "hunter2-secret"},
    )


@pytest.fixture
def quarantined(mailbox) -> RawMail:  # type: ignore[no-untyped-def]
    outcome = mailstore.mail_ingest(inbox=mailbox, raw=NO_SENDER, source=RawMail.Source.FILE)
    assert outcome.outcome == "quarantined"
    return RawMail.objects.get(pk=outcome.raw_id)


# --- who may see what -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/mail/", "/mail/inboxes/new/", "/mail/quarantine/", "/mail/inboxes/{inbox}/", "/mail/raw/{raw}/"],
)
def test_agents_who_are_not_admins_are_refused(desk, url, mailbox, quarantined):
    response = desk.get(url.format(inbox=mailbox.pk, raw=quarantined.pk))
    assert response.status_code == 403


@pytest.mark.django_db
def test_non_admin_cannot_retry_or_test(desk, mailbox, quarantined):
    with mock.patch("opiekun.inboxes.fetching.test_inbox") as tested:
        assert desk.post(f"/mail/inboxes/{mailbox.pk}/test/").status_code == 403
    tested.assert_not_called()
    assert desk.post(f"/mail/raw/{quarantined.pk}/retry/").status_code == 403
    quarantined.refresh_from_db()
    assert (quarantined.state, quarantined.attempts) == (RawMail.State.QUARANTINED, 1)


@pytest.mark.django_db
def test_logged_out_is_sent_to_login(client, quarantined):
    response = client.get(f"/mail/raw/{quarantined.pk}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_another_shops_admin_gets_404_for_our_mail_and_inbox(client, other_shop, mailbox, quarantined):
    stranger = factories.AgentFactory(shop=other_shop, role=Agent.Role.ADMIN)
    client.force_login(stranger.user)
    for url in (
        f"/mail/raw/{quarantined.pk}/",
        f"/mail/raw/{quarantined.pk}/download/",
        f"/mail/inboxes/{mailbox.pk}/",
        f"/mail/quarantine/?inbox={mailbox.pk}",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/mail/raw/{quarantined.pk}/retry/").status_code == 404
    assert client.post(f"/mail/inboxes/{mailbox.pk}/", {"name": "Hijacked"}).status_code == 404
    assert client.post(f"/mail/inboxes/{mailbox.pk}/test/").status_code == 404
    quarantined.refresh_from_db()
    mailbox.refresh_from_db()
    assert quarantined.attempts == 1 and mailbox.name == "Support mailbox"
    # Their own lists do not show our mail or our mailbox either.
    assert "Support mailbox" not in client.get("/mail/").content.decode()
    assert "Where is my order?" not in client.get("/mail/quarantine/").content.decode()


@pytest.mark.django_db
def test_posts_need_the_csrf_token(admin, mailbox, quarantined):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    assert client.post(f"/mail/raw/{quarantined.pk}/retry/").status_code == 403
    assert client.post(f"/mail/inboxes/{mailbox.pk}/test/").status_code == 403
    assert client.post("/mail/inboxes/new/", {"name": "X", "address": "x@sklep.test"}).status_code == 403
    quarantined.refresh_from_db()
    assert quarantined.attempts == 1
    assert not Inbox.objects.filter(name="X").exists()


# --- mailboxes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_mailboxes_show_the_health_line(admin_client, mailbox, quarantined):
    now = clock.now()
    Inbox.objects.filter(pk=mailbox.pk).update(
        last_fetch_at=now - dt.timedelta(minutes=3),
        last_error="Cannot connect to imap.sklep.test:993: connection refused",
        last_error_at=now - dt.timedelta(hours=2),
    )
    html = admin_client.get("/mail/").content.decode()
    assert "support@sklep.test" in html and "IMAP imap.sklep.test:993" not in html  # no port stored
    assert "IMAP imap.sklep.test" in html and "folder INBOX" in html
    assert "Last fetch 3\xa0minutes ago" in html
    assert "1 in quarantine" in html
    # The error is older than the last good fetch: history, not a current failure.
    assert "Earlier error (fetching works again)" in html and "connection refused" in html
    assert 'data-health="warn"' in html
    assert "hunter2-secret" not in html


@pytest.mark.django_db
def test_a_current_error_turns_the_health_line_red(admin_client, mailbox):
    now = clock.now()
    Inbox.objects.filter(pk=mailbox.pk).update(
        last_fetch_at=now - dt.timedelta(hours=1), last_error="login refused", last_error_at=now
    )
    html = admin_client.get("/mail/").content.decode()
    assert 'data-health="error"' in html and "Last error" in html and "login refused" in html


@pytest.mark.django_db
def test_add_a_mailbox_keeps_the_password_secret(admin_client, shop):
    team = factories.TeamFactory(shop=shop, name="Obsługa")
    response = admin_client.post(
        "/mail/inboxes/new/",
        {
            "name": "Sklep support",
            "address": "Support@Sklep.TEST",
            "aliases": "sklep@sklep.test, info@sklep.test",
            "display_name": "Sklep — obsługa",
            "team": team.pk,
            "send_acknowledgment": "on",
            "is_active": "on",
            "max_message_mb": "20",
            "arrival": "imap",
            "imap_host": "imap.sklep.test",
            "imap_port": "993",
            "imap_security": "ssl",
            "imap_username": "support",
            "imap_password": "s3cret-imap",
            "imap_folder": "INBOX",
            "imap_after": "move",
            "imap_history": "all",
            "imap_move_to": "Done",
            "smtp_host": "smtp.sklep.test",
            "smtp_port": "587",
            "smtp_security": "starttls",
            "smtp_username": "support",
            "smtp_password": "s3cret-smtp",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    inbox = Inbox.objects.get(shop=shop, name="Sklep support")
    assert inbox.kind == "email" and inbox.team == team
    assert inbox.config["address"] == "support@sklep.test"
    assert inbox.config["aliases"] == ["sklep@sklep.test", "info@sklep.test"]
    assert inbox.config["imap_after"] == "move" and inbox.config["max_message_mb"] == 20
    assert inbox.config["imap_history"] == "all"
    assert inbox.secrets == {"imap_password": "s3cret-imap", "smtp_password": "s3cret-smtp"}
    assert "imap_password" not in inbox.config and "smtp_password" not in inbox.config
    edit = admin_client.get(f"/mail/inboxes/{inbox.pk}/").content.decode()
    assert "s3cret" not in edit
    assert "set — leave empty to keep" in edit
    assert "s3cret" not in admin_client.get("/mail/").content.decode()


@pytest.mark.django_db
def test_edit_with_empty_password_keeps_it_and_a_new_one_replaces_it(admin_client, mailbox):
    form = {
        "name": "Support",
        "address": "support@sklep.test",
        "max_message_mb": "5",
        "is_active": "on",
        "arrival": "imap",
        "imap_host": "imap2.sklep.test",
        "imap_security": "ssl",
        "imap_after": "seen",
        "smtp_security": "starttls",
        "imap_password": "",
    }
    assert admin_client.post(f"/mail/inboxes/{mailbox.pk}/", form).status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.name == "Support" and mailbox.config["imap_host"] == "imap2.sklep.test"
    assert mailbox.config["imap_history"] == "unread"  # the safe default when the form leaves it out
    assert mailbox.secrets["imap_password"] == "hunter2-secret"
    assert (
        admin_client.post(f"/mail/inboxes/{mailbox.pk}/", {**form, "imap_password": "new-one"}).status_code
        == 302
    )
    mailbox.refresh_from_db()
    assert mailbox.secrets["imap_password"] == "new-one"


@pytest.mark.django_db
def test_switch_to_intake_and_off(admin_client, mailbox):
    form = {
        "name": "Support mailbox",
        "address": "support@sklep.test",
        "max_message_mb": "50",
        "arrival": "intake",
        "imap_host": "imap.sklep.test",  # left in the hidden fields: ignored for an intake mailbox
        "imap_security": "ssl",
        "imap_after": "seen",
        "smtp_security": "starttls",
    }
    assert admin_client.post(f"/mail/inboxes/{mailbox.pk}/", form).status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.config["imap_host"] == "" and mailbox.is_active is False
    html = admin_client.get("/mail/").content.decode()
    assert "Through the SMTP intake or imports" in html and "Switched off" in html
    assert 'data-action="test-connection"' not in html


@pytest.mark.django_db
def test_invalid_mailbox_settings_come_back_next_to_the_field(admin_client, shop, mailbox):
    bad = {"name": "Support mailbox", "address": "not-an-address", "max_message_mb": "50", "arrival": "imap"}
    response = admin_client.post("/mail/inboxes/new/", {**bad, "imap_security": "ssl", "imap_after": "seen"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter the mailbox&#x27;s e-mail address" in html
    assert "Enter the IMAP server" in html
    # A duplicate name is refused by the service, shown on the form.
    response = admin_client.post(
        "/mail/inboxes/new/",
        {**bad, "address": "b@sklep.test", "arrival": "intake", "imap_security": "ssl", "imap_after": "seen"},
    )
    assert response.status_code == 422
    assert "already has an inbox with this name" in response.content.decode()
    assert Inbox.objects.filter(shop=shop, kind="email").count() == 1


@pytest.mark.django_db
def test_connection_test_shows_ok_or_the_reason(admin_client, mailbox, hx):
    with mock.patch("opiekun.inboxes.fetching.test_inbox", return_value=None) as tested:
        response = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", headers=hx)
    assert tested.call_args.args[0].pk == mailbox.pk
    assert response.status_code == 200 and "Connection works" in response.content.decode()
    reason = "The server refused the login for support: check the user name and password"
    with mock.patch("opiekun.inboxes.fetching.test_inbox", return_value=reason):
        response = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", headers=hx)
    assert "refused the login" in response.content.decode() and "mail-test-bad" in response.content.decode()
    # Without htmx: back to the mailboxes with the result as a message.
    with mock.patch("opiekun.inboxes.fetching.test_inbox", return_value=reason):
        response = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", follow=True)
    assert "refused the login" in response.content.decode()


@pytest.mark.django_db
def test_connection_test_logs_in_to_the_mailboxs_smtp_server_without_sending(
    admin_client, mailbox, hx, smtp_sink
):
    Inbox.objects.filter(pk=mailbox.pk).update(
        config={
            **mailbox.config,
            "imap_host": "",
            "smtp_host": smtp_sink.host,
            "smtp_port": smtp_sink.port,
            "smtp_security": "none",
        }
    )
    html = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", headers=hx).content.decode()
    assert 'data-part="sending"' in html and "Sending works" in html and "mail-test-bad" not in html
    assert smtp_sink.messages == []  # a test, not a mail
    with socket.socket() as s:  # now a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    Inbox.objects.filter(pk=mailbox.pk).update(
        config={
            **mailbox.config,
            "imap_host": "",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
        }
    )
    html = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", headers=hx).content.decode()
    assert "Sending (SMTP) failed:" in html and "mail-test-bad" in html


@pytest.mark.django_db
def test_a_mailbox_with_no_servers_of_its_own_says_there_is_nothing_to_test(admin_client, mailbox, hx):
    Inbox.objects.filter(pk=mailbox.pk).update(config={**mailbox.config, "imap_host": "", "smtp_host": ""})
    with (
        mock.patch("opiekun.inboxes.fetching.test_inbox") as imap,
        mock.patch("opiekun.inboxes.fetching.test_sending") as smtp,
    ):
        html = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", headers=hx).content.decode()
    imap.assert_not_called()
    smtp.assert_not_called()
    assert "no servers of its own to test" in html


@pytest.mark.django_db
def test_connection_test_does_not_hang_the_page(admin_client, mailbox, hx, monkeypatch):
    import threading

    from opiekun.ui.desk.views import mail

    release = threading.Event()
    monkeypatch.setattr(mail, "TEST_WAIT_SECONDS", 0.2)
    with mock.patch("opiekun.inboxes.fetching.test_inbox", side_effect=lambda inbox: release.wait(5)):
        response = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", headers=hx)
    release.set()
    assert "did not answer within" in response.content.decode()


@pytest.mark.django_db
def test_connection_test_of_a_real_unreachable_server_says_why(admin_client, mailbox, hx):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    Inbox.objects.filter(pk=mailbox.pk).update(
        config={**mailbox.config, "imap_host": "127.0.0.1", "imap_port": port, "imap_security": "none"}
    )
    response = admin_client.post(f"/mail/inboxes/{mailbox.pk}/test/", headers=hx)
    assert "connection refused" in response.content.decode()


# --- quarantine -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_quarantine_lists_the_reason(admin_client, quarantined, mailbox):
    mailstore.mail_ingest(inbox=mailbox, raw=GOOD, source=RawMail.Source.FILE)  # processed: not listed
    html = admin_client.get("/mail/quarantine/").content.decode()
    assert "We need an address to answer you." in html
    assert "Where is my order?" in html and "Support mailbox" in html
    assert html.count("data-raw-id=") == 1


@pytest.mark.django_db
def test_raw_mail_is_shown_as_text_never_html(admin_client, quarantined):
    html = admin_client.get(f"/mail/raw/{quarantined.pk}/").content.decode()
    assert "We need an address to answer you." in html
    assert "Message-ID" in html and "&lt;q1@example.org&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html


@pytest.mark.django_db
def test_download_is_the_exact_eml(admin_client, quarantined):
    response = admin_client.get(f"/mail/raw/{quarantined.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"mail-{quarantined.pk}.eml" in response["Content-Disposition"]
    assert response.content == NO_SENDER


@pytest.mark.django_db
def test_retry_after_the_cause_is_fixed_opens_the_case(admin_client, shop):
    inbox = factories.InboxFactory(
        shop=shop, kind="email", name="Mail", config={"address": "support@sklep.test", "max_message_mb": 1}
    )
    outcome = mailstore.mail_ingest(inbox=inbox, raw=big_attachment_mail(), source=RawMail.Source.FILE)
    assert outcome.outcome == "quarantined" and "too large" in outcome.reason
    page = admin_client.get(f"/mail/raw/{outcome.raw_id}/").content.decode()
    assert "scan.pdf is too large" in page
    # Still too large: the retry says so and the mail stays in quarantine.
    response = admin_client.post(f"/mail/raw/{outcome.raw_id}/retry/", follow=True)
    assert "Still in quarantine" in response.content.decode()
    assert RawMail.objects.get(pk=outcome.raw_id).attempts == 2
    # The admin raises the limit; the retry now opens a conversation and links to it.
    Inbox.objects.filter(pk=inbox.pk).update(config={**inbox.config, "max_message_mb": 5})
    response = admin_client.post(f"/mail/raw/{outcome.raw_id}/retry/", follow=True)
    html = response.content.decode()
    row = RawMail.objects.get(pk=outcome.raw_id)
    assert row.state == RawMail.State.PROCESSED and row.outcome == "created" and row.conversation
    assert f"it opened conversation #{row.conversation.number}" in html
    assert f'href="/c/{row.conversation.number}/"' in html
    # A processed mail cannot be retried again.
    response = admin_client.post(f"/mail/raw/{outcome.raw_id}/retry/", follow=True)
    assert "Only a mail in quarantine can be retried." in response.content.decode()
    assert RawMail.objects.get(pk=outcome.raw_id).attempts == row.attempts


@pytest.mark.django_db
def test_nav_shows_mailboxes_with_the_quarantine_badge_to_admins_only(admin_client, desk, quarantined):
    html = admin_client.get("/").content.decode()
    assert 'id="nav-mailboxes"' in html
    badge = admin_client.get("/mail/badge/").content.decode()
    assert ">1<" in badge
    assert 'id="nav-mailboxes"' not in desk.get("/").content.decode()
    assert desk.get("/mail/badge/").content.decode().strip() == ""


# --- the thread: folded quote, failed delivery, bounced address -----------------------------------

QUOTED_REPLY = (
    b"From: Jan Kowalski <jan@example.org>\r\nTo: support@sklep.test\r\nSubject: Re: Parcel\r\n"
    b"Message-ID: <r1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Thank you, the parcel arrived today.\r\n\r\n"
    b"On Mon, 1 Dec 2026 at 10:00, Sklep <support@sklep.test> wrote:\r\n"
    b"> Your parcel left our warehouse.\r\n> <b>Tracking</b>: 123\r\n"
)


def dsn_for(message_id: str, recipient: str) -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: support@sklep.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        b"Message-ID: <dsn1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        b"Final-Recipient: rfc822; " + recipient.encode() + b"\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        b"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + message_id.encode() + b">\r\n"
        b"--r--\r\n"
    )


@pytest.mark.django_db
def test_thread_folds_the_quote_as_text_and_shows_a_bounce(
    admin_client, mailbox, admin, django_capture_on_commit_callbacks
):
    from opiekun.conversations import services

    outcome = mailstore.mail_ingest(inbox=mailbox, raw=QUOTED_REPLY, source=RawMail.Source.FILE)
    assert outcome.outcome == "created", outcome
    row = RawMail.objects.select_related("conversation", "message").get(pk=outcome.raw_id)
    assert row.message is not None and row.message.quoted  # the parser split the history off
    with django_capture_on_commit_callbacks(execute=True):  # the delivery task sends it (locmem mail)
        reply = services.message_send(conversation=row.conversation, agent=admin, text="Glad to hear it!")
    reply.refresh_from_db()
    assert reply.rfc_message_id and reply.delivery_status == "sent"
    bounce = mailstore.mail_ingest(
        inbox=mailbox, raw=dsn_for(reply.rfc_message_id, "jan@example.org"), source=RawMail.Source.FILE
    )
    assert bounce.outcome == "bounce", bounce
    html = admin_client.get(f"/c/{row.conversation.number}/").content.decode()
    body = html.split('class="thread-list"', 1)[1]
    assert "Thank you, the parcel arrived today." in body
    # The quote is there, folded (<details> without open) and escaped, never rendered as HTML.
    assert '<details class="msg-quoted">' in body and "Show quoted text" in body
    assert "&lt;b&gt;Tracking&lt;/b&gt;" in body and "<b>Tracking</b>" not in body
    # The reply failed with the reason, and the bounced address is marked in the customer panel.
    assert "Not delivered:" in body and "User unknown" in body and "send the reply again" in body
    assert 'class="is-flagged" data-flagged="true"' in html and "bounced" in html


# --- the formatted e-mail -----------------------------------------------------------------------------


def _html_mail() -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Klient <klient@example.org>"
    msg["To"] = "support@sklep.test"
    msg["Subject"] = "Zamówienie z logo"
    msg["Message-ID"] = "<html-1@example.org>"
    msg.set_content("Dzień dobry, w załączeniu tabela.")
    msg.add_alternative(
        "<p>Dzień dobry, <b>tabela</b>:</p><table><tr><td>SD-10477</td><td>2 szt.</td></tr></table>"
        '<img src="cid:logo@klient"><img src="https://tracker.example/open.gif?id=42">'
        '<script>alert("x")</script><a href="https://klient.example/sklep" onclick="steal()">sklep</a>',
        subtype="html",
    )
    msg.get_payload()[1].add_related(
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        maintype="image",
        subtype="png",
        cid="<logo@klient>",
        filename="logo.png",
    )
    return msg.as_bytes()


@pytest.mark.django_db
def test_an_html_mail_can_be_seen_formatted_in_a_sandbox_with_only_its_own_images(desk, mailbox):
    import html as html_lib
    import re

    from opiekun.conversations.models import Attachment

    outcome = mailstore.mail_ingest(inbox=mailbox, raw=_html_mail(), source=RawMail.Source.FILE)
    assert outcome.outcome == "created", outcome
    page = desk.get(f"/c/{outcome.conversation_number}/").content.decode()
    frame = re.search(r'<iframe class="msg-html-frame"[^>]*>', page)
    assert frame, "no formatted view"
    tag = frame.group(0)
    sandbox = re.search(r'sandbox="([^"]*)"', tag).group(1).split()
    assert "allow-scripts" not in sandbox and "allow-same-origin" in sandbox
    document = html_lib.unescape(re.search(r'srcdoc="([^"]*)"', tag).group(1))
    assert "Content-Security-Policy" in document and "img-src 'self' data:" in document
    logo = Attachment.objects.get(
        message__conversation__number=outcome.conversation_number, content_id__icontains="logo"
    )
    assert f'src="/attachments/{logo.pk}/"' in document  # the inline image, from our own store
    assert "<td>SD-10477</td>" in document
    assert "<script" not in document and "onclick" not in document and "steal()" not in document
    # The tracking pixel is still in the markup but the frame's policy never loads it.
    assert "tracker.example" in document


@pytest.mark.django_db
def test_a_plain_text_mail_has_no_formatted_view(desk, mailbox):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "support@sklep.test", "Tylko tekst"
    msg.set_content("Zwykły tekst.")
    outcome = mailstore.mail_ingest(inbox=mailbox, raw=msg.as_bytes(), source=RawMail.Source.FILE)
    assert "msg-html-frame" not in desk.get(f"/c/{outcome.conversation_number}/").content.decode()
