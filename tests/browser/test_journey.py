"""The foundation's whole promise in one real-browser journey (issue: Foundation, "Tests").

A customer submits the contact form with a PDF → the agent, logged in in another browser context,
sees the case appear live (no reload) → replies → the customer opens the magic link from the
acknowledgment mail and sees the reply in the portal.
"""

from __future__ import annotations

import re
import uuid

import pytest

from .conftest import screenshot
from .test_public import fill_form, portal_link, real_pdf, text_of

pytestmark = pytest.mark.browser


def test_form_to_live_desk_to_reply_to_portal(server, new_page, login):
    agent = login(new_page(), "anna")
    agent.goto(server.url + "/?view=unassigned")
    agent.locator("#live-status.is-live, #live-status[data-state=live]").wait_for(timeout=15_000)
    before = agent.evaluate("document.querySelectorAll('#conversation-list .conv-item').length")

    email = f"journey.{uuid.uuid4().hex[:8]}@example.org"
    customer = new_page(viewport={"width": 1280, "height": 900})
    customer.goto(server.url + "/contact/demo/")
    fill_form(customer, email, "Paczka przyszła uszkodzona, w załączniku faktura. Proszę o wymianę kubka.")
    customer.set_input_files(
        "form input[type=file]",
        files=[
            {
                "name": "faktura-journey.pdf",
                "mimeType": "application/pdf",
                "buffer": real_pdf("Faktura journey"),
            }
        ],
    )
    customer.get_by_role("button", name="Send message").click(no_wait_after=True)
    customer.wait_for_url(re.compile(r"/contact/demo/done/"), timeout=60_000)
    number = customer.locator(".case-number strong").inner_text().lstrip("#")

    # Live: the new case shows up in the agent's list and the unassigned count moves, without reload.
    row = agent.locator(f"#conv-{number}")
    row.wait_for(timeout=15_000)
    assert agent.evaluate("document.querySelectorAll('#conversation-list .conv-item').length") == before + 1
    assert (
        agent.evaluate("performance.getEntriesByType('navigation').length") == 1
    )  # same document, no reload
    assert "Ewa Zielińska" in row.inner_text()

    row.click()
    thread = agent.locator("#thread")
    thread.get_by_text("Paczka przyszła uszkodzona").wait_for()
    assert "faktura-journey.pdf" in thread.inner_text()
    agent.locator("#reply-text").fill("Dzień dobry, wysyłamy nowy kubek jutro. Przepraszamy za kłopot!")
    agent.keyboard.press("Control+Enter")
    thread.get_by_text("wysyłamy nowy kubek jutro").wait_for()

    # The customer: magic link from the acknowledgment mail → the portal shows the agent's reply.
    ack = server.wait_for_mail(lambda m: email in str(m["To"]) and f"[#{number}]" in str(m["Subject"]))
    portal = new_page(viewport={"width": 1280, "height": 900})
    portal.goto(portal_link(ack))
    portal.wait_for_url(re.compile(rf"/portal/c/{number}/$"))
    portal.get_by_text("wysyłamy nowy kubek jutro").wait_for()
    assert "Anna" in portal.locator(".thread").inner_text()
    # …and the reply also went out by e-mail with a way back into the portal.
    reply_mail = server.wait_for_mail(lambda m: email in str(m["To"]) and "wysyłamy nowy kubek" in text_of(m))
    assert "/portal/t/" in text_of(reply_mail)
    screenshot(portal, "journey-portal-reply.png")
