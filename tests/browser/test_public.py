"""The customer's side in a real browser: contact form with a PDF, the acknowledgment mail over SMTP,
the magic link into the portal, a reply; and the form embedded on a shop's page on another origin."""

from __future__ import annotations

import http.server
import re
import threading
import uuid
from email.message import EmailMessage

import pytest

from .conftest import screenshot

pytestmark = pytest.mark.browser


AGENT_REPLY = """
from opiekun.agents.models import Agent
from opiekun.conversations.models import Conversation
from opiekun.conversations.services import message_send
case = Conversation.objects.get(shop__slug="demo", number={number})
anna = Agent.objects.get(shop=case.shop, user__username="anna")
message_send(conversation=case, agent=anna,
             text="We are so sorry about the mug! A new one leaves our warehouse "
             "today, and you do not need to send the broken one back.")
"""


def real_pdf(text: str = "Faktura 2024/10/123") -> bytes:
    """A small but complete PDF (one page of text, a correct xref table)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def portal_link(mail: EmailMessage) -> str:
    match = re.search(r"https?://\S+/portal/t/[^/\s]+/\?next=\d+", text_of(mail))
    assert match, text_of(mail)
    return match.group(0)


def fill_form(page, email: str, message: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Your name").fill("Ewa Zielińska")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Phone").fill("601 234 567")
    page.get_by_label("Order number").fill("2024/10/123")
    page.get_by_label("How can we help?").fill(message)


def test_contact_form_mail_portal_and_reply(server, new_page):
    email = f"ewa.{uuid.uuid4().hex[:8]}@example.org"
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/contact/demo/")
    assert "Sklep Demo" in page.locator(".brand__name").inner_text()
    fill_form(
        page,
        email,
        "The parcel came damaged: the box was crushed and the mug inside is broken.\n"
        "I attach the invoice. Can you send a new one?",
    )
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "faktura.pdf", "mimeType": "application/pdf", "buffer": real_pdf()}],
    )
    page.locator(".file-item__name", has_text="faktura.pdf").wait_for()
    screenshot(page, "contact-form.png")

    # The first message a fresh server stores may take long (search dictionaries load once per process).
    page.get_by_role("button", name="Send message").click(no_wait_after=True)
    page.wait_for_url(re.compile(r"/contact/demo/done/"), timeout=60_000)
    number = page.locator(".case-number strong").inner_text().lstrip("#")
    assert number.isdigit()
    screenshot(page, "contact-done.png")
    assert email in page.locator("main").inner_text()
    assert "/portal/t/" not in page.content()

    ack = server.wait_for_mail(lambda m: email in str(m["To"]) and f"[#{number}]" in str(m["Subject"]))
    assert ack["Auto-Submitted"] == "auto-replied"
    assert "The parcel came damaged" in text_of(ack)

    portal = new_page(viewport={"width": 1280, "height": 900})
    portal.goto(portal_link(ack))
    portal.wait_for_url(re.compile(rf"/portal/c/{number}/$"))
    assert "The parcel came damaged" in portal.locator(".thread").inner_text()
    assert "faktura.pdf" in portal.locator(".attachments").inner_text()
    with portal.expect_download() as download:
        portal.locator(".attachment", has_text="faktura.pdf").click()
    assert download.value.suggested_filename == "faktura.pdf"

    # An agent answers from the desk's side (the service the desk calls); the customer is told by e-mail.
    server.opiekun("shell", "-c", AGENT_REPLY.format(number=number))
    notice = server.wait_for_mail(lambda m: email in str(m["To"]) and "so sorry" in text_of(m))
    assert f"[#{number}]" in str(notice["Subject"])
    portal.reload()
    agent_message = portal.locator(".msg--theirs", has_text="so sorry")
    assert "Anna Nowak" in agent_message.inner_text()

    portal.get_by_label("Your reply").fill("Thank you! One more photo of the box is attached.")
    portal.set_input_files(
        "input[name=attachments]",
        files=[{"name": "box.pdf", "mimeType": "application/pdf", "buffer": real_pdf("Box photo")}],
    )
    portal.get_by_role("button", name="Send reply").click()
    portal.locator(".msg--mine", has_text="One more photo").wait_for()
    assert "box.pdf" in portal.locator(".msg--mine", has_text="One more photo").inner_text()
    assert portal.locator(".msg--mine").count() == 2
    portal.evaluate("window.scrollTo(0, 0)")
    screenshot(portal, "portal.png")

    portal.get_by_role("link", name="All your cases").click()
    portal.locator(".case__link", has_text=f"#{number}").wait_for()
    screenshot(portal, "portal-home.png")


def test_form_errors_keep_text_and_are_announced(server, new_page):
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/contact/demo/")
    fill_form(page, "not-an-address", "Please keep this text")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "virus.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" + b"\x00" * 200}],
    )
    page.get_by_role("button", name="Send message").click()
    summary = page.get_by_role("alert")
    summary.wait_for()
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert "Enter an e-mail address" in summary.inner_text()
    assert page.get_by_label("How can we help?").input_value() == "Please keep this text"
    assert page.get_by_label("E-mail").get_attribute("aria-invalid") == "true"
    screenshot(page, "contact-form-errors.png")


def test_mobile_contact_form(server, new_page):
    page = new_page(
        viewport={"width": 390, "height": 844},
        locale="pl-PL",
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    page.goto(server.url + "/contact/demo/")
    assert page.locator("html").get_attribute("lang") == "pl"
    screenshot(page, "contact-form-mobile.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sideways on a phone


@pytest.fixture
def shop_site():  # type: ignore[no-untyped-def]
    """A page of "the shop's own site" on another origin (localhost vs 127.0.0.1: another site too),
    served for real: Chromium refuses a faked public page loading scripts from loopback."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{httpd.server_address[1]}", pages
    httpd.shutdown()
    httpd.server_close()


def test_embedded_form_on_another_origin_posts_without_cookies(server, new_page, shop_site):
    base, pages = shop_site
    pages["/kontakt"] = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
        <title>Sklep Demo - Kontakt</title></head>
        <body style="font-family:Georgia,serif;background:#f3efe8;margin:0;color:#2b2620">
        <header style="background:#2f6f4f;color:#fff;padding:18px 32px;font-size:22px">
          Sklep Demo · ceramika</header>
        <div style="max-width:760px;margin:24px auto;padding:0 16px">
          <h1 style="font-weight:400">Contact us</h1><p>Questions about an order? Write to us below.</p>
          <script src="{server.url}/contact/demo/embed.js" async></script>
          <p id="after">Shop footer text</p>
        </div></body></html>""".encode()
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(base + "/kontakt")
    page.locator("iframe").wait_for()
    frame = page.frame_locator("iframe")
    frame.get_by_label("Your name").wait_for()
    # auto-height: the iframe grows to its content, so nothing scrolls inside it
    page.wait_for_function("document.querySelector('iframe').getBoundingClientRect().height > 700")
    email = f"embed.{uuid.uuid4().hex[:8]}@example.org"
    frame.get_by_label("Your name").fill("Marek Embed")
    frame.get_by_label("E-mail").fill(email)
    frame.get_by_label("How can we help?").fill("Sent from the form on your page.")
    screenshot(page, "contact-embed.png")
    frame.get_by_role("button", name="Send message").click(no_wait_after=True)
    frame.locator(".case-number strong").wait_for(timeout=60_000)
    number = frame.locator(".case-number strong").inner_text().lstrip("#")
    ack = server.wait_for_mail(lambda m: email in str(m["To"]))
    assert f"[#{number}]" in str(ack["Subject"])
    assert page.locator("#after").is_visible()
    assert not [c for c in page.context.cookies() if c["domain"] == "127.0.0.1"]


def test_a_bad_link_offers_a_new_one_by_mail(server, new_page):
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/portal/t/not-a-real-token/")
    assert "This link has expired or is not valid" in page.locator("h1").inner_text()
    page.get_by_label("Your e-mail address").fill("jan.kowalski@example.com")
    screenshot(page, "portal-link.png")
    page.get_by_role("button", name="Send me a link").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    # Jan's language is Polish, so is his mail
    mail = server.wait_for_mail(
        lambda m: "jan.kowalski@example.com" in str(m["To"]) and "Twój link do spraw" in str(m["Subject"])
    )
    link = re.search(r"https?://\S+/portal/t/[^/\s]+/", text_of(mail))
    assert link
    page.goto(link.group(0))
    page.wait_for_url(re.compile(r"/portal/$"))
    assert page.locator(".case").count() >= 1
