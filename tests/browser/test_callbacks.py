"""The Callbacks view in a real browser: the demo's overdue, escalated callback and the due ones, moving
through them with the keyboard and logging attempts until one is done."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import screenshot

pytestmark = pytest.mark.browser


def test_callbacks_view_shows_due_and_overdue_and_logs_attempts(server, new_page, login):
    page = login(new_page(), "piotr")
    badge = page.locator("#nav-callbacks #count-callbacks")
    expect(badge).to_have_text("3")  # three open callbacks in the demo shop
    page.locator("#nav-callbacks").click()
    expect(page.locator("#callbacks-page h1")).to_have_text("Callbacks")
    # Opens on the overdue ones: the number that called twice, escalated to the team lead.
    expect(page.locator("#tab-overdue")).to_have_attribute("aria-current", "page")
    overdue = page.locator("#callbacks-table tr.callback-row")
    expect(overdue).to_have_count(1)
    row = overdue.first
    expect(row).to_contain_text("+48601555204")
    expect(row).to_contain_text("2 missed calls")
    expect(row).to_contain_text("escalated to")
    expect(row).to_be_focused()  # the keyboard starts on the first callback
    page.locator("#tab-due").click()
    due = page.locator("#callbacks-table tr.callback-row")
    expect(due).to_have_count(2)
    expect(due.first).to_contain_text("+48733410118")
    expect(due.first).to_contain_text("1 voicemail")
    expect(due.nth(1)).to_contain_text("0048 22 000")  # kept raw: the number could not be parsed
    screenshot(page, "desk-callbacks.png")

    # j moves to the second callback, 1 logs "no answer" on it.
    page.keyboard.press("j")
    expect(due.nth(1)).to_be_focused()
    page.keyboard.press("1")
    row = page.locator("#callbacks-table tr.callback-row", has_text="0048 22 000")
    expect(row.locator(".attempts")).to_contain_text("No answer")
    expect(row).to_be_focused()  # back on the same callback after the page reloads

    # A note and "Reached" with the mouse on the voicemail: it leaves the due list for "done".
    first = page.locator("#callbacks-table tr.callback-row", has_text="+48733410118")
    first.locator("input[name=note]").fill("Oddzwoniono, reklamacja przyjęta.")
    first.locator("button[value=reached]").click()
    expect(page.locator("#callbacks-table tr.callback-row", has_text="+48733410118")).to_have_count(0)
    expect(page.locator("#nav-callbacks #count-callbacks")).to_have_text("2")
    page.locator("#tab-done").click()
    done = page.locator("#callbacks-table tr.callback-row", has_text="+48733410118")
    expect(done).to_contain_text("Reached")
    expect(done).to_contain_text("Oddzwoniono, reklamacja przyjęta.")
    expect(done).to_contain_text("Piotr")


def test_sms_case_counts_segments_while_typing(server, new_page, login):
    page = login(new_page(), "olga")
    page.goto(f"{server.url}/callbacks/?view=overdue")
    row = page.locator("#callbacks-table tr.callback-row", has_text="+48601555204")
    row.locator("a[href^='/c/']").click()  # the customer's case, where their text message arrived
    counter = page.locator("#sms-counter")
    expect(counter).to_be_visible()
    area = page.locator("#reply-text")
    area.fill("a" * 161)
    expect(counter.locator("[data-encoding]")).to_have_text("GSM-7")
    expect(counter.locator("[data-segments]")).to_have_text("2")
    area.fill("Zażółć gęślą jaźń")
    expect(counter.locator("[data-encoding]")).to_have_text("UCS-2")
    expect(counter.locator("[data-units]")).to_have_text("17")
    expect(counter.locator("[data-remaining]")).to_have_text("53")
    expect(page.locator("#phone-panel")).to_contain_text("+48601555204")
    screenshot(page, "desk-sms-counter.png")
    # The composer's counter and the driver's count agree (the JavaScript twin of segments.py).
    from opiekun.inboxes.drivers.sms import segments

    samples = [
        "",
        "a" * 160,
        "a" * 161,
        "€" * 81,
        "[x]" * 60,
        "Zażółć",
        "ż" * 71,
        "Привет" * 12,
        "😀" * 35,
        "Paczka SD-10452 wyjechała dziś; numer przesyłki w mailu.",
        "line\nbreak ~ ^ |",
    ]
    for text in samples:
        js = page.evaluate("t => window.opiekunSmsSegments(t)", text)
        py = segments.count(text)
        assert (js["encoding"], js["units"], js["segments"], js["remaining"]) == (
            py.encoding,
            py.units,
            py.segments,
            py.remaining,
        ), text


def test_customer_page_shows_the_phone_panel_and_call_timeline(server, new_page, login):
    page = login(new_page(), "piotr")
    page.goto(f"{server.url}/callbacks/?view=overdue")
    page.locator("#callbacks-table tr.callback-row", has_text="+48601555204").locator(
        "a[href^='/contacts/']"
    ).click()
    expect(page.locator("#phone-panel")).to_contain_text("+48601555204")
    expect(page.locator("#phone-panel")).to_contain_text("Callback due by")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Missed call from +48601555204")
    expect(timeline).to_contain_text("Callback overdue: escalated to")
    page.locator("button[lang=pl]").click()
    expect(page.locator(".timeline")).to_contain_text("Nieodebrane połączenie od +48601555204")
    expect(page.locator("#nav-callbacks")).to_contain_text("Oddzwonienia")
    screenshot(page, "desk-contact-phone.png")
    # The language is remembered on the agent: give Piotr his English back for the tests after this one.
    page.locator("button[lang=en]").click()
    expect(page.locator("#nav-callbacks")).to_contain_text("Callbacks")
