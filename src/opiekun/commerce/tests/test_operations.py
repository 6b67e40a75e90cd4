"""Late shipments without any webhook, the BaseLinker nudge, the operator command, the panel's query
count and this app's translations."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from django.core.management import call_command

from opiekun.commerce import links
from opiekun.commerce.models import Order, Shipment
from opiekun.commerce.selectors import contact_orders, order_number_candidates
from opiekun.commerce.services import connector_create, shipments_flag_delays
from opiekun.conversations.models import Event
from opiekun.core import clock
from opiekun.webhooks.processing import process_pending

from .conftest import body_of, payload, post, wc_headers
from .standins import BaseLinkerStandIn

LOCALE = Path(__file__).resolve().parents[1] / "locale"


def _woo_order(woo, **changes):  # type: ignore[no-untyped-def]
    data = payload("woocommerce/order.json")
    data.update(changes)
    body = body_of(data)
    assert post(woo.endpoint.url_path, body, wc_headers(body)).status_code == 200
    process_pending()
    return Order.objects.get(external_id=str(data["id"]))


def test_a_shipment_past_its_promised_date_is_flagged_late_once(woo):
    order = _woo_order(woo)
    shipment = Shipment.objects.create(
        shop=order.shop,
        order=order,
        external_id="s1",
        carrier="InPost",
        tracking_number="1",
        promised_at=clock.now() + dt.timedelta(hours=1),
    )
    assert shipments_flag_delays() == 0
    clock.freeze(clock.now() + dt.timedelta(hours=2))
    try:
        assert shipments_flag_delays() == 1
        assert shipments_flag_delays() == 0
    finally:
        clock.freeze(None)
    shipment.refresh_from_db()
    assert shipment.delay_noted_at is not None
    late = Event.objects.get(kind="order.delayed")
    assert (late.contact_id, late.data["order"], late.data["carrier"]) == (order.contact_id, "727", "InPost")


def test_a_baselinker_nudge_starts_a_catch_up_at_once(shop, django_capture_on_commit_callbacks):
    orders = {o["order_id"]: o for o in payload("baselinker/getOrders.json")["orders"]}
    with BaseLinkerStandIn(orders) as api:
        connector = connector_create(
            shop=shop,
            platform="baselinker",
            base_url=api.url + "/connector.php",
            credentials={"api_token": "bl-test-token"},
            webhook_secret="nudge",
        )
        answer = post(
            connector.endpoint.url_path + "?secret=nudge",
            b"order_id=1630473",
            {},
            "application/x-www-form-urlencoded",
        )
        assert answer.status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            process_pending()
    order = Order.objects.get()
    # "Nowe zamówienia" with a parcel label: paid (50 >= 2 x 20 + 10), the parcel not on its way yet.
    assert (order.number, order.status, order.customer_email) == ("2824", "paid", "test@test.com")
    assert order.shipments.get().status == "preparing"
    assert [line.sku for line in order.lines.all()] == ["LU4235"]


def test_the_operator_command_lists_adds_and_shows_orders_as_json(shop, woo):
    _woo_order(woo)
    out = io.StringIO()
    call_command("commerce", "add", "--platform", "generic-commerce", "--label", "ERP", "--json", stdout=out)
    added = json.loads(out.getvalue())
    assert added["webhook_url"].endswith("/") and len(added["webhook_secret"]) > 20
    out = io.StringIO()
    call_command("commerce", "list", "--json", stdout=out)
    listed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [c["platform"] for c in listed] == ["woocommerce", "generic-commerce"]
    assert "cs_live" not in out.getvalue() and "whsec" not in out.getvalue()
    out = io.StringIO()
    call_command("commerce", "health", "--json", stdout=out)
    first = json.loads(out.getvalue().splitlines()[0])
    assert (first["orders"], first["pending"], first["failed"]) == (1, 0, 0) and first["last_webhook_at"]
    out = io.StringIO()
    call_command("commerce", "orders", "--email", "JAN.kowalski@example.com", "--json", stdout=out)
    assert json.loads(out.getvalue())["orders"][0]["number"] == "727"


def test_the_panel_reads_a_fixed_number_of_queries(woo, django_assert_num_queries):
    order = _woo_order(woo)
    for i in range(4):
        _woo_order(woo, id=800 + i, number=str(800 + i))
    with django_assert_num_queries(6):  # orders, lines, shipments, payments, invoices, returns
        orders = contact_orders(shop_id=order.shop_id, contact_id=order.contact_id)
        for o in orders:
            list(o.lines.all()), list(o.shipments.all()), list(o.invoices.all())
    assert len(orders) == 5


def test_order_number_candidates_and_no_work_for_shops_without_a_connector(shop, django_assert_num_queries):
    text = "Zamówienie SD-10452 i #1001 z 2026-11-05, tel. +48 501 222 333, a@b.pl, paczka 100234567"
    assert order_number_candidates(text) == ["SD-10452", "1001", "100234567"]
    links.forget()
    assert links.shop_has_connector(shop.pk) is False
    with django_assert_num_queries(0):
        assert links.shop_has_connector(shop.pk) is False  # remembered
