"""Two agents at their desks: what one does shows up on the other's screen without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot

pytestmark = pytest.mark.browser


def count(page, key: str) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator(f'#desk [data-count="{key}"]').first.inner_text())


def live(page):  # type: ignore[no-untyped-def]
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    # Anything that reloads the page wipes this marker; the live desk never needs to.
    page.evaluate("window.__stillTheSamePage = true")
    return page


def test_assignment_and_note_reach_the_other_desk_live(server, new_page, login):
    anna = login(new_page(), "anna")
    anna.goto(server.url + "/?view=mine")
    live(anna)
    mine_before = count(anna, "mine")
    refetches: list[str | None] = []
    anna.on("request", lambda request: refetches.append(request.headers.get("x-opiekun-live")))

    piotr = login(new_page(), "piotr")
    piotr.goto(server.url + "/?view=unassigned")
    live(piotr)
    unassigned_before = count(piotr, "unassigned")
    row = piotr.locator("#conversation-list .conv-item").first
    number = row.get_attribute("data-number")
    assert number, "the demo shop has unassigned conversations"
    expect(anna.locator(f'#conversation-list [data-number="{number}"]')).to_have_count(0)

    # Piotr gives the case to Anna…
    row.click()
    expect(piotr.locator("#thread")).to_have_attribute("data-number", number)
    to_anna = piotr.locator("#assign-select option", has_text="Anna Nowak").get_attribute("value")
    piotr.select_option("#assign-select", value=to_anna)

    # …and Anna's desk shows it: the row appears in her list, her badges and tab title count it.
    arrived = anna.locator(f'#conversation-list [data-number="{number}"]')
    expect(arrived).to_be_visible()
    expect(arrived).to_have_class(re.compile(r"\bis-live-updated\b"))  # flashed briefly
    expect(anna.locator('#desk [data-count="mine"]').first).to_have_text(str(mine_before + 1))
    expect(anna.locator('#desk [data-count="unassigned"]').first).to_have_text(str(unassigned_before - 1))
    expect(anna).to_have_title(re.compile(rf"^\({mine_before + 1}\) "))
    assert "1" in refetches  # the list was re-fetched because of the socket, and said so
    # Piotr's own desk got the pushed counts too.
    expect(piotr.locator('#desk [data-count="unassigned"]').first).to_have_text(str(unassigned_before - 1))

    # Anna opens the case; Piotr leaves an internal note on it; it appears in Anna's open thread.
    anna.locator(f'#conversation-list [data-number="{number}"]').click()
    expect(anna.locator("#thread")).to_have_attribute("data-number", number)
    piotr.locator("label.tab-note").click()
    note = "Klient dzwonił jeszcze raz — oddzwonić po 15:00."
    piotr.fill("#reply-text", note)
    piotr.locator("#compose-form button[type=submit]").click()
    # Generous: the first message a fresh server stores loads the lemma dictionaries for search.
    expect(piotr.locator("#thread")).to_contain_text(note, timeout=60_000)
    expect(anna.locator("#thread")).to_contain_text(note)
    screenshot(anna, "live-desk-note-arrived.png")

    assert anna.evaluate("window.__stillTheSamePage") is True
    assert piotr.evaluate("window.__stillTheSamePage") is True


RECORD_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    window.__sockets.push(ws);
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""


def test_desk_reconnects_by_itself_after_the_socket_drops(server, new_page, login):
    anna = new_page()
    anna.context.add_init_script(RECORD_SOCKETS)
    login(anna, "anna")
    anna.goto(server.url + "/?view=mine")
    live(anna)
    anna.evaluate("""() => {
        window.__states = [];
        const dot = document.getElementById("live-status");
        new MutationObserver(() => window.__states.push(dot.dataset.state))
            .observe(dot, { attributes: true, attributeFilter: ["data-state"] });
        window.__sockets.forEach((ws) => ws.close());  // as a network blip or a server restart would
        // (the desk's chat socket, /ws/desk/chat/, drops with it and comes back on its own)
    }""")
    # First the drop must be noticed (until then the dot still says "live"), then the socket comes back.
    anna.wait_for_function("window.__states.includes('reconnecting')", timeout=15_000)
    expect(anna.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15_000)
    states = anna.evaluate("window.__states")
    assert "reconnecting" in states and states[-1] == "live", states
    desk_sockets = "window.__sockets.filter((ws) => new URL(ws.url).pathname === '/ws/desk/').length"
    assert anna.evaluate(desk_sockets) == 2  # the first and the one that reconnected
    assert anna.evaluate("window.__stillTheSamePage") is True
