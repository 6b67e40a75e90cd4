"""The customer 360 panel in a real browser: the demo customer's orders, a shipment with its tracking
link, an invoice, the link to the case, and linking another order with one click."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from .conftest import screenshot

pytestmark = pytest.mark.browser


def jan(server) -> dict:  # type: ignore[no-untyped-def]
    """Jan Kowalski's "Where is my parcel?" case and his orders, as the server stored them."""
    out = server.opiekun("commerce", "orders", "--email", "jan.kowalski@example.com", "--json").stdout
    return next(json.loads(line) for line in out.splitlines() if line.strip())


def link(page: Page, number: str) -> None:
    """Open the order in the panel and press its link button (the panel may re-render meanwhile)."""
    order = page.locator(f'#customer-orders [data-order="{number}"]')
    for _ in range(5):
        if order.get_attribute("open") is None:
            order.locator("summary").click()
        try:
            order.locator('[data-action="link-order"]').click(timeout=2000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"could not press 'Link to this case' on {number}")


def test_the_panel_shows_orders_and_shipments_and_links_an_order_with_one_click(server, new_page, login):
    facts = jan(server)
    number = facts["conversations"]["SD-10452"]
    older = next(o for o in facts["orders"] if o["number"] != "SD-10452")
    page = login(new_page(), "anna")
    page.goto(f"{server.url}/c/{number}/")
    panel = page.locator("#customer-orders")
    expect(panel).to_be_visible()
    current = panel.locator('[data-order="SD-10452"]')
    expect(current).to_have_class("c360-order is-linked")
    expect(current.locator(".c360-linked")).to_contain_text("Linked to this case")
    expect(current.locator(".c360-status")).to_contain_text("Shipped")
    track = current.locator("a.c360-track")
    expect(track).to_have_attribute(
        "href", f"https://inpost.pl/sledzenie-przesylek?number={facts['orders'][0]['tracking']}"
    )
    expect(current.locator(".c360-ship-status")).to_contain_text("On its way")
    expect(current.locator(".c360-invoice")).to_contain_text("FV/")
    expect(current.locator(".c360-lines li").first).to_be_visible()
    # The timeline in the side panel tells the order's story too.
    expect(page.locator(".mini-timeline")).to_contain_text("Order SD-10452 shipped")
    panel.scroll_into_view_if_needed()
    screenshot(page, "desk-customer360.png")

    # The older order: open it from the keyboard, link it with one click; the panel follows.
    other = panel.locator(f'[data-order="{older["number"]}"]')
    other.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(other.locator('[data-action="link-order"]')).to_be_visible()
    link(page, older["number"])
    expect(page.locator(f'#customer-orders [data-order="{older["number"]}"]')).to_have_class(
        "c360-order is-linked"
    )
    expect(page.locator("#thread")).to_contain_text(f"Linked to order {older['number']}")
    # And back, so the demo case keeps its order for the other tests.
    link(page, "SD-10452")
    expect(page.locator('#customer-orders [data-order="SD-10452"]')).to_have_class("c360-order is-linked")

    # The contact page shows the same panel and the order events on the timeline.
    page.goto(f"{server.url}/contacts/{facts['contact_id']}/")
    expect(page.locator("#customer-orders [data-order='SD-10452']")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Order SD-10452 placed")


def test_shop_connections_show_health_and_connect_a_shop(server, new_page, login):
    page = login(new_page(), "anna")
    page.goto(server.url + "/")
    page.locator("#nav-commerce").click()
    expect(page).to_have_url(f"{server.url}/shop-connections/")
    demo = page.locator('[data-platform="woocommerce"]')
    expect(demo).to_contain_text("Sklep Demo (WooCommerce)")
    expect(demo.locator("code")).to_contain_text(f"{server.url}/hooks/")
    expect(demo.locator(".health")).to_have_attribute("data-health", "ok")

    page.select_option("select[name=platform]", "generic-commerce")
    page.fill("input[name=label]", "ERP Subiekt")
    page.fill("input[name=api_token]", "erp-token-123")
    page.locator("#connector-create").click()
    created = page.locator("#connector-created")
    expect(created).to_be_visible()
    url = page.locator("#created-url").inner_text()
    secret = page.locator("#created-secret").inner_text()
    assert url.startswith(f"{server.url}/hooks/") and len(secret) >= 32
    expect(page.locator('[data-platform="generic-commerce"]')).to_contain_text("ERP Subiekt")
    assert "erp-token-123" not in page.content()
    screenshot(page, "desk-shop-connections.png")
    # Reloaded, the secret is gone for good.
    page.goto(server.url + "/shop-connections/")
    expect(page.locator("#connector-created")).to_have_count(0)
    assert secret not in page.content()

    # A signed generic webhook on the new address lands as an order of that customer.
    import hashlib
    import hmac
    import json
    import time
    import urllib.request
    from pathlib import Path

    event = json.loads(
        (
            Path(__file__).resolve().parents[2] / "src/opiekun/commerce/fixtures/generic/order.updated.json"
        ).read_text()
    )
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(  # noqa: S310 — loopback
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Opiekun-Timestamp": stamp,
            "X-Opiekun-Signature": f"sha256={signature}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 — loopback
        assert json.loads(answer.read()) == {"ok": True, "duplicate": False}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = server.opiekun("commerce", "orders", "--email", "ewa.zielinska@example.org", "--json").stdout
        if '"5531"' in out:
            break
        time.sleep(0.3)
    assert '"5531"' in out, out
