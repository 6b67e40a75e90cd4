"""Live chat in real Chromium: a visitor on a shop page with the widget, an agent at the desk.

Messages both ways, typing indicators and read receipts on both sides, a dropped connection that
comes back with nothing lost or doubled, the offline form that becomes a case, and a page the widget
is not allowed on. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import threading
import urllib.parse
import zoneinfo
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .conftest import screenshot

pytestmark = pytest.mark.browser

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82"
)

# Records the page's websockets, and can lose the next chat message on the wire (a dying network).
SOCKETS = """
(() => {
  const Native = window.WebSocket;
  const nativeSend = Native.prototype.send;
  window.__sockets = [];
  window.__loseNextMessage = false;
  Native.prototype.send = function (data) {
    if (window.__loseNextMessage && typeof data === "string" && data.includes('"type":"message"')) {
      window.__loseNextMessage = false;
      return;  // gone: the server never sees it, the widget never gets an ack
    }
    return nativeSend.call(this, data);
  };
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    window.__sockets.push(ws);
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""


def widget(page):  # type: ignore[no-untyped-def]
    return page.locator("[data-opiekun-chat]")


def bubbles(page, text: str):  # type: ignore[no-untyped-def]
    return widget(page).locator(".msg .bubble", has_text=text)


def test_visitor_and_agent_chat_live_and_survive_a_dropped_connection(server, new_page, login):
    anna = login(new_page(), "anna")
    anna.goto(server.url + "/?view=unassigned")
    expect(anna.locator("#live-status")).to_have_attribute("data-state", "live")

    visitor = new_page(viewport={"width": 1280, "height": 800})
    visitor.context.add_init_script(SOCKETS)
    visitor.goto(server.url + "/chat-demo/?lang=en")
    chat = widget(visitor)
    chat.locator(".launcher").click()
    expect(chat.locator(".panel")).to_be_visible()
    # The demo widget asks who the visitor is first.
    chat.locator(".pre input[name=name]").fill("Ola Nowak")
    chat.locator(".pre input[name=email]").fill("ola.nowak@example.com")
    chat.locator(".pre button.primary").click()
    question = "Are the Zofia boots available in size 39?"
    chat.locator("textarea#tx").fill(question)
    chat.locator("textarea#tx").press("Enter")
    expect(chat.locator(".msg.v", has_text=question).locator(".state")).to_have_text("Sent")

    # The desk rings; the agent opens the chat from the ring.
    ring = anna.locator("#lc-ring")
    expect(ring).to_be_visible()
    expect(ring).to_contain_text("waiting")
    ring.locator("a").click()
    expect(anna.locator("#thread")).to_contain_text(question)
    panel = anna.locator("#lc-panel")
    expect(panel.locator("[data-lc-online]")).to_have_text("On the page now")
    expect(panel).to_contain_text("live chat demo")  # the page the visitor is on
    # The agent has it open: the visitor sees it was read.
    expect(chat.locator(".msg.v", has_text=question).locator(".state")).to_have_text("Read")

    # Typing, both ways.
    chat.locator("textarea#tx").fill("Also")
    expect(anna.locator("#lc-typing")).to_be_visible()
    expect(anna.locator("#lc-typing")).to_contain_text("The visitor is typing")
    anna.locator("#reply-text").fill("Yes, size 39 is in stock")
    expect(chat.locator(".typing")).to_be_visible()
    expect(chat.locator(".typing")).to_contain_text("Anna is typing")
    chat.locator("textarea#tx").fill("")

    reply = "Yes, size 39 is in stock — it can ship today."
    anna.locator("#reply-text").fill(reply)
    anna.locator("#compose-form button[type=submit]").click()
    expect(bubbles(visitor, reply)).to_have_count(1)
    expect(chat.locator(".typing")).to_be_hidden()
    # The visitor has the chat open, so the desk shows the reply as read.
    expect(anna.locator("#thread li.msg-out", has_text=reply).locator(".delivery")).to_have_text("Read")
    screenshot(visitor, "livechat-widget.png")

    # The network fails: a message is lost on the wire, then the socket drops. The widget keeps it as
    # unacknowledged, reconnects by itself and sends it again; meanwhile the agent answers.
    visitor.evaluate("window.__loseNextMessage = true")
    lost = "Can I pay on delivery?"
    chat.locator("textarea#tx").fill(lost)
    chat.locator("textarea#tx").press("Enter")
    expect(chat.locator(".msg.v", has_text=lost).locator(".state")).to_have_text("Sending…")
    visitor.evaluate("window.__sockets.forEach((ws) => ws.close())")
    while_away = "One moment, checking the payment options."
    anna.locator("#reply-text").fill(while_away)
    anna.locator("#compose-form button[type=submit]").click()
    expect(chat.locator(".msg.v", has_text=lost).locator(".state")).to_have_text(
        re.compile(r"^(Sent|Read)$"), timeout=15_000
    )
    expect(anna.locator("#thread")).to_contain_text(lost)
    expect(bubbles(visitor, while_away)).to_have_count(1)
    assert visitor.evaluate("window.__sockets.length") >= 2
    # Nothing twice, on either side.
    for text in (question, reply, lost, while_away):
        expect(bubbles(visitor, text)).to_have_count(1)
    expect(anna.locator("#thread li.msg", has_text=lost)).to_have_count(1)
    expect(anna.locator("#thread li.msg", has_text=question)).to_have_count(1)

    # A reload keeps the conversation (the session is signed and kept by the widget), still open.
    visitor.reload()
    expect(widget(visitor).locator(".panel")).to_be_visible()
    expect(bubbles(visitor, while_away)).to_have_count(1)
    expect(bubbles(visitor, question)).to_have_count(1)

    # A photo of the receipt: checked by the server, shown on both sides.
    widget(visitor).locator("input.fi").set_input_files(
        files=[{"name": "paragon.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect(widget(visitor).locator(".msg.v img[alt='paragon.png']")).to_be_visible()
    expect(anna.locator("#thread")).to_contain_text("paragon.png")

    # The transcript, mailed to the address from the pre-chat form.
    widget(visitor).locator("button.mb").click()
    widget(visitor).locator('[data-act="transcript"]').click()
    expect(widget(visitor).locator(".trn input[name=email]")).to_have_value("ola.nowak@example.com")
    widget(visitor).locator(".trn button.primary").click()
    expect(widget(visitor).locator(".done")).to_contain_text("on its way to ola.nowak@example.com")
    mail = server.wait_for_mail(lambda m: str(m["Subject"]).startswith("Your chat with Sklep Demo"))
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert question in body and reply in body and lost in body

    anna.locator("#thread").scroll_into_view_if_needed()
    screenshot(anna, "livechat-desk.png")


SHOP_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Sklep testowy</title>
<style>body{{font:18px Georgia;margin:40px;background:#f3efe8}} button{{all:unset}}</style></head>
<body><h1>Sklep testowy</h1><p>Strona sklepu pod innym adresem niż Opiekun.</p>
<script src="{base}/chat/widget.js" data-key="{key}" async></script></body></html>"""


@pytest.fixture(scope="module")
def shop_site(server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A shop's own website on another origin (loopback, so Chromium lets it load from Opiekun):
    `/<anything>?key=<widget key>&lang=pl` is a page embedding that widget."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            body = SHOP_PAGE.format(
                lang=query.get("lang", ["en"])[0], base=server.url, key=query.get("key", [""])[0]
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


MAKE_WIDGET = """
from opiekun.inboxes.models import Inbox
from opiekun.inboxes.services import inbox_create
from opiekun.shops.models import Shop
shop = Shop.objects.get(slug="demo")
Inbox.objects.filter(shop=shop, name="Browser test site").delete()
inbox_create(shop=shop, kind="livechat", name="Browser test site", config={config})
"""


def test_offline_the_widget_takes_a_message_that_becomes_a_case(server, new_page, shop_site):
    key = "browseroffline000000000001"
    # Open only on a weekday that is not today: closed now, whoever is at the desk.
    tomorrow = (dt.datetime.now(zoneinfo.ZoneInfo("Europe/Warsaw")) + dt.timedelta(days=1)).weekday()
    config = {
        "public_key": key,
        "allowed_origins": [shop_site],
        "business_hours": {("mon", "tue", "wed", "thu", "fri", "sat", "sun")[tomorrow]: "08:00-16:00"},
        "colour": "#7a2e5b",
    }
    server.opiekun("shell", "-c", MAKE_WIDGET.format(config=json.dumps(config)))

    visitor = new_page(viewport={"width": 1280, "height": 800})
    visitor.goto(f"{shop_site}/buty?key={key}&lang=pl")
    chat = widget(visitor)
    chat.locator(".launcher").click()
    offline = chat.locator("form.off")
    expect(offline).to_be_visible()
    expect(offline).to_contain_text("Nikt nie może teraz odpowiedzieć")
    expect(chat.locator(".status")).to_contain_text("Chwilowo nas nie ma")
    offline.locator("button.primary").click()  # empty: the form says what is missing, in Polish
    expect(offline.locator("#off-email-e")).to_have_text("Uzupełnij to pole.")
    expect(offline.locator("input[name=email]")).to_be_focused()
    offline.locator("input[name=name]").fill("Marta Lis")
    offline.locator("input[name=email]").fill("marta.lis@example.com")
    offline.locator("textarea[name=message]").fill("Czy wysyłacie do Czech? Proszę o odpowiedź mailem.")
    expect(offline.locator("#off-email-e")).to_have_text("")  # corrected: the error went away
    screenshot(visitor, "livechat-widget-offline.png")
    offline.locator("button.primary").click()
    expect(chat.locator(".done")).to_contain_text("Dziękujemy")

    found = (
        server.opiekun(
            "shell",
            "-c",
            "from opiekun.conversations.models import Message;"
            "m = Message.objects.select_related('conversation__inbox')"
            ".get(text__startswith='Czy wysyłacie do Czech');"
            "print(m.channel, m.conversation.inbox.kind, m.meta.get('via'), m.meta.get('page_url'))",
        )
        .stdout.strip()
        .splitlines()[-1]
        .split()
    )
    assert found == ["email", "email", "livechat_offline", f"{shop_site}/buty?key={key}&lang=pl"]


def test_the_widget_stays_away_from_pages_not_on_its_list(server, new_page, shop_site):
    visitor = new_page()
    first_widget = (
        "from opiekun.inboxes.models import Inbox;"
        "print(Inbox.objects.filter(kind='livechat').order_by('id').first().config['public_key'])"
    )
    key = server.opiekun("shell", "-c", first_widget).stdout.strip().splitlines()[-1]
    # The demo widget allows Opiekun's own address only, not this other site's.
    visitor.goto(f"{shop_site}/?key={key}")
    # The widget removes itself (its settings refuse this origin) and opens no chat.
    expect(widget(visitor)).to_have_count(0, timeout=10_000)


def test_the_open_widget_comes_online_when_an_agent_arrives_and_goes_away_when_they_leave(
    server, new_page, login, shop_site
):
    key = "browserpresence0000000001"
    config = {"public_key": key, "allowed_origins": [shop_site], "offline_when_no_agents": True}
    server.opiekun("shell", "-c", MAKE_WIDGET.format(config=repr(config)))
    # Nobody at the desk (earlier tests' desks are closed and forgotten).
    server.opiekun(
        "shell",
        "-c",
        "from opiekun.livechat.models import AgentPresence; AgentPresence.objects.all().delete()",
    )

    visitor = new_page(viewport={"width": 1280, "height": 800})
    visitor.goto(f"{shop_site}/buty?key={key}&lang=pl")
    chat = widget(visitor)
    chat.locator(".launcher").click()
    expect(chat.locator(".status")).to_contain_text("Chwilowo nas nie ma")
    expect(chat.locator("form.off")).to_be_visible()

    anna = login(new_page(), "anna")  # the desk opens its chat socket: someone is there now
    anna.goto(server.url + "/?view=unassigned")
    expect(chat.locator(".status")).to_contain_text("Jesteśmy dostępni")  # pushed, no reload
    expect(chat.locator("form.off")).to_be_hidden()
    expect(chat.locator("textarea#tx")).to_be_visible()

    anna.context.close()  # the agent leaves: the widget says so and offers the form again
    expect(chat.locator(".status")).to_contain_text("Chwilowo nas nie ma")
    expect(chat.locator("form.off")).to_be_visible()
