"""E-mail operations in a real browser: Mailboxes with health, quarantine (raw text, retry after a fix),
and an e-mail conversation whose quoted history is folded and whose bounced reply is shown to the agent."""

from __future__ import annotations

import base64
import re
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import free_port, screenshot
from .test_public import text_of

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
INBOX = "Zamówienia"
ADDRESS = "zamowienia@sklep-demo.localhost"


def big_invoice_mail(path: Path) -> Path:
    """A customer's mail with a 1.3 MB PDF: quarantined while the mailbox allows 1 MB attachments."""
    pdf = b"%PDF-1.4\n% scanned invoice\n" + b"0" * 1_300_000
    head = (
        f"From: Ewa Nowak <ewa.nowak@example.pl>\r\nTo: {ADDRESS}\r\n"
        "Subject: =?utf-8?q?Skan_faktury_do_reklamacji?=\r\nDate: Tue, 01 Dec 2026 08:02:11 +0100\r\n"
        "Message-ID: <scan-4471@example.pl>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nW załączniku skan faktury.\r\n"
        '--b1\r\nContent-Type: application/pdf; name="faktura-skan.pdf"\r\n'
        'Content-Disposition: attachment; filename="faktura-skan.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    path.write_bytes(head.encode() + base64.encodebytes(pdf) + b"\r\n--b1--\r\n")
    return path


def bounce_for(sent: EmailMessage, path: Path) -> Path:
    """A real-looking DSN (RFC 3464) saying our reply to the customer bounced."""
    recipient = str(sent["To"]).split("<")[-1].strip("> ")
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.pl>\r\nTo: " + ADDRESS + "\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        "Message-ID: <dsn-77@mx.example.pl>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.pl.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.pl\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <" + recipient + ">: Recipient address rejected: User unknown\r\n"
        "--r\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {sent['Message-ID']}\r\nSubject: {sent['Subject']}\r\n"
        "--r--\r\n"
    )
    path.write_bytes(raw.encode())
    return path


def import_mail(server, *files: Path) -> str:  # type: ignore[no-untyped-def]
    try:
        done = server.opiekun("mail", "import", "--shop", "demo", "--inbox", INBOX, *map(str, files))
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"opiekun mail import failed:\n{exc.stdout}\n{exc.stderr}") from None
    return done.stdout


def set_attachment_limit(page: Page, server, mb: int, shot: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url + "/mail/")
    page.locator(".mailbox", has_text=INBOX).get_by_role("link", name="Edit").click()
    expect(page.locator("h1")).to_have_text(INBOX)
    page.fill("input[name=max_message_mb]", str(mb))
    if shot:
        screenshot(page, shot)
    page.click("#save-mailbox")
    expect(page).to_have_url(re.compile(r"/mail/#mailbox-\d+$"))


def test_admin_mailboxes_quarantine_retry_and_agent_thread(server, new_page, login, tmp_path):
    # Replies leave through the mailbox's own SMTP server (here: the harness's sink on loopback).
    sink = (
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        server.env["OPIEKUN_SMTP_PORT"],
        "--smtp-security",
        "none",
    )
    server.opiekun("mail", "add-inbox", "--shop", "demo", "--name", INBOX, "--address", ADDRESS, *sink)
    # A second mailbox pulled over IMAP from a server that is not there: its health line and test say so.
    server.opiekun(
        "mail",
        "add-inbox",
        "--shop",
        "demo",
        "--name",
        "Reklamacje (IMAP)",
        "--address",
        "reklamacje@sklep-demo.localhost",
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        str(free_port()),
        "--imap-security",
        "none",
    )
    server.opiekun("mail", "fetch", "--shop", "demo", "--inbox", "Reklamacje (IMAP)")

    admin = login(new_page(), "anna")
    # --- the admin lowers the attachment limit through the form, then mail arrives ---
    set_attachment_limit(admin, server, 1, shot="desk-mailbox-form.png")
    out = import_mail(
        server,
        FIXTURES / "no-sender.eml",
        big_invoice_mail(tmp_path / "big.eml"),
        FIXTURES / "reply-quoted-pl.eml",
    )
    assert "quarantined: 2" in out and "created: 1" in out, out

    # --- Mailboxes: address, how mail arrives, the health line, the quarantine count ---
    admin.goto(server.url + "/mail/")
    box = admin.locator(".mailbox", has_text=INBOX)
    expect(box).to_contain_text(ADDRESS)
    expect(box).to_contain_text("Through the SMTP intake or imports")
    expect(box).to_contain_text("SMTP 127.0.0.1")
    expect(box.locator(".health")).to_contain_text("Last mail received just now")
    expect(box.locator(".health")).to_contain_text("2 in quarantine")
    expect(box.locator(".health")).to_have_attribute("data-health", "warn")
    imap = admin.locator(".mailbox", has_text="Reklamacje (IMAP)")
    expect(imap.locator(".health")).to_have_attribute("data-health", "error")
    expect(imap.locator(".health-problem")).to_contain_text("connection refused")
    imap.get_by_role("button", name="Test connection").click()
    expect(imap.locator(".mail-test-bad")).to_contain_text("connection refused")
    # The first mailbox sends through its own SMTP server: the test logs in there, nothing is sent.
    sent_before = len(server.mails)
    box.get_by_role("button", name="Test connection").click()
    expect(box.locator(".mail-test-ok")).to_contain_text("Sending works")
    assert len(server.mails) == sent_before
    expect(admin.locator("#nav-mailboxes .count")).to_have_text("2")
    screenshot(admin, "desk-mailboxes.png")

    # --- Quarantine: the reasons, then the raw mail as text ---
    admin.locator("#tab-quarantine").click()
    table = admin.locator("#quarantine-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("We need an address to answer you.")
    expect(table).to_contain_text("faktura-skan.pdf is too large")
    screenshot(admin, "desk-quarantine.png")
    table.locator("tr", has_text="Pytanie o fakturę").get_by_role("link", name="View").click()
    source = admin.locator("#raw-source")
    expect(source).to_contain_text('<script>alert("nie renderuj mnie")</script>')  # shown as text
    assert admin.evaluate("() => document.querySelectorAll('#raw-source script').length") == 0
    expect(admin.locator("#quarantine-reason")).to_contain_text("We need an address to answer you.")
    with admin.expect_download() as download:
        admin.click("#download-eml")
    assert Path(download.value.path()).read_bytes() == (FIXTURES / "no-sender.eml").read_bytes()
    # Retrying a mail that still has no sender keeps it in quarantine, and says so.
    admin.click("#retry-mail")
    expect(admin.locator("#retry-outcome")).to_contain_text("Still in quarantine")

    # --- fix the cause (a larger limit), retry the invoice: it opens a case ---
    set_attachment_limit(admin, server, 10)
    admin.goto(server.url + "/mail/quarantine/")
    admin.locator("tr", has_text="faktura-skan.pdf").get_by_role("link", name="View").click()
    expect(admin.locator("#raw-source")).to_contain_text("Content-Type: multipart/mixed")
    screenshot(admin, "desk-quarantine-mail.png")
    admin.click("#retry-mail")
    outcome = admin.locator("#retry-outcome")
    expect(outcome).to_contain_text(re.compile(r"it opened conversation #\d+"))
    outcome.get_by_role("link", name=re.compile(r"Open #\d+")).click()
    expect(admin.locator("#thread")).to_contain_text("W załączniku skan faktury.")
    expect(admin.locator("#thread .attachment")).to_contain_text("faktura-skan.pdf")

    # --- an agent answers the e-mail case; the reply bounces ---
    number = re.search(r"created #(\d+)", out)
    assert number, out
    agent = login(new_page(), "piotr")
    agent.goto(f"{server.url}/c/{number.group(1)}/")
    thread = agent.locator("#thread")
    expect(thread).to_contain_text("paczka jeszcze nie dotarła")
    quoted = thread.locator("details.msg-quoted").first
    expect(quoted.locator(".quoted-text")).to_be_hidden()
    agent.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a field
    agent.keyboard.press("r")
    expect(agent.locator("#composer textarea")).to_be_focused()
    agent.keyboard.type("Dzień dobry, sprawdzamy przesyłkę u kuriera i wrócimy z odpowiedzią jeszcze dziś.")
    agent.keyboard.press("Control+Enter")
    # Generous: the first message a fresh server indexes loads the lemmatiser's dictionaries.
    expect(thread.locator(".msg-out").last).to_contain_text("sprawdzamy przesyłkę", timeout=40_000)
    sent = server.wait_for_mail(
        lambda m: "katarzyna" in str(m["To"]) and "sprawdzamy przesyłkę" in text_of(m), timeout=30
    )
    import_mail(server, bounce_for(sent, tmp_path / "dsn.eml"))
    agent.reload()
    thread = agent.locator("#thread")
    expect(thread.locator(".delivery-error")).to_contain_text("User unknown")
    side = agent.locator(".identities .is-flagged")
    expect(side).to_contain_text("katarzyna.zielinska@example.pl")
    expect(side).to_contain_text("bounced")
    # The quoted history unfolds from the keyboard (a <details> summary takes focus and Enter).
    summary = thread.locator("details.msg-quoted > summary").first
    summary.focus()
    agent.keyboard.press("Enter")
    expect(thread.locator("details.msg-quoted .quoted-text").first).to_be_visible()
    expect(thread.locator("details.msg-quoted .quoted-text").first).to_contain_text(
        "<b>Przewidywana dostawa</b>: 30.11.2026"
    )
    expect(summary).to_contain_text("Hide quoted text")
    agent.locator("body").click(position={"x": 5, "y": 5})
    thread.locator(".delivery-error").scroll_into_view_if_needed()
    screenshot(agent, "desk-email-thread.png")
    # The customer says the mailbox works again: the same reply goes out once more, in the same thread.
    before = len(server.mails)
    thread.locator(".delivery-error").get_by_role("button", name="Send again").click()
    expect(agent.locator("#toasts")).to_contain_text("The reply is being sent again.")
    again = server.wait_for_mail(
        lambda m: server.mails.index(m) >= before and "sprawdzamy przesyłkę" in text_of(m), timeout=30
    )
    assert again["Message-ID"] == sent["Message-ID"]
    agent.reload()
    expect(agent.locator("#thread .delivery-error")).to_have_count(0)
    # The agent (not an admin) has no Mailboxes link and is refused the page.
    expect(agent.locator("#nav-mailboxes")).to_have_count(0)
    assert agent.request.get(server.url + "/mail/").status == 403


def _png(width: int = 24, height: int = 12) -> bytes:
    """A small real PNG (a green bar), so the browser can show it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x12\xb7\x6a" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_an_html_mail_is_shown_formatted_with_its_inline_image_and_no_tracker(
    server, new_page, login, tmp_path
):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Hurtownia Kwiatek <zamowienia@kwiatek.example.pl>"
    msg["To"] = "pomoc@sklep-demo.localhost"
    msg["Subject"] = "Potwierdzenie dostawy HD-2207"
    msg["Message-ID"] = "<hd-2207@kwiatek.example.pl>"
    msg.set_content("Potwierdzamy dostawę HD-2207: 12 doniczek, 4 konewki.")
    msg.add_alternative(
        "<p>Potwierdzamy dostawę <b>HD-2207</b>:</p>"
        "<table><tr><th>Towar</th><th>Ilość</th></tr><tr><td>Doniczka</td><td>12</td></tr>"
        "<tr><td>Konewka</td><td>4</td></tr></table>"
        '<p><img id="logo" src="cid:logo@kwiatek" alt="Kwiatek"></p>'
        '<img id="pixel" src="http://127.0.0.1:9/open.gif" alt="">',
        subtype="html",
    )
    msg.get_payload()[1].add_related(
        _png(), maintype="image", subtype="png", cid="<logo@kwiatek>", filename="logo.png"
    )
    path = tmp_path / "html.eml"
    path.write_bytes(msg.as_bytes())
    out = server.opiekun("mail", "import", "--shop", "demo", "--inbox", "Poczta", str(path)).stdout
    number = re.search(r"created #(\d+)", out)
    assert number, out

    page = login(new_page(), "anna")
    page.goto(f"{server.url}/c/{number.group(1)}/")
    thread = page.locator("#thread")
    expect(thread).to_contain_text("12 doniczek, 4 konewki")  # the text, as always
    formatted = thread.locator("details.msg-html")
    expect(formatted.locator("iframe")).to_be_hidden()
    formatted.locator("summary").click()
    frame = page.frame_locator("iframe.msg-html-frame")
    expect(frame.locator("table")).to_contain_text("Konewka")
    logo = frame.locator('img[alt="Kwiatek"]')  # ids are cleaned away with everything else
    expect(logo).to_be_visible()
    page.wait_for_function(
        "() => { const d = document.querySelector('iframe.msg-html-frame').contentDocument;"
        " const i = d && d.querySelector('img[alt=Kwiatek]'); return i && i.complete && i.naturalWidth > 0; }"
    )
    # The frame's policy never asks the sender's server for the tracking pixel.
    assert (
        page.evaluate(
            "() => document.querySelector('iframe.msg-html-frame').contentDocument.images[1].naturalWidth"
        )
        == 0
    )
    height = page.evaluate(
        "() => document.querySelector('iframe.msg-html-frame').getBoundingClientRect().height"
    )
    assert 80 <= height < 900  # fitted to the document
    formatted.scroll_into_view_if_needed()
    screenshot(page, "desk-email-formatted.png")
