"""The scheduled catch-up against loopback stand-ins of the platforms' APIs: pagination, 429 with
Retry-After, 5xx with backoff, resuming from the saved cursor, nothing lost, nothing written twice."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from opiekun.commerce.connectors.base import ApiClient
from opiekun.commerce.models import Order, OrderStatus
from opiekun.commerce.services import connector_create
from opiekun.commerce.sync import connector_sync
from opiekun.conversations.models import Event

from .conftest import payload
from .standins import BaseLinkerStandIn, ShopifyStandIn, WooCommerceStandIn

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def woo_orders(n: int, start: int = 1) -> list[dict]:
    base = payload("woocommerce/order.json")
    orders = []
    for i in range(start, start + n):
        o = copy.deepcopy(base)
        stamp = (T0 + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S")
        o.update(id=5000 + i, number=str(5000 + i), date_modified_gmt=stamp, date_created_gmt=stamp)
        o["billing"].update(email=f"klient{i % 40}@example.pl", phone="")
        orders.append(o)
    return orders


def second_before(stamp: str) -> str:
    return (dt.datetime.fromisoformat(stamp) - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def woo_connector(shop, url: str):  # type: ignore[no-untyped-def]
    return connector_create(
        shop=shop,
        platform="woocommerce",
        base_url=url,
        credentials={"consumer_key": "ck_test", "consumer_secret": "cs_test"},
    )


def test_woocommerce_catch_up_pages_through_429_and_5xx_and_stores_every_order_once(shop, sleeps):
    with WooCommerceStandIn(woo_orders(250)) as api:
        connector = woo_connector(shop, api.url)
        api.fail(429, Retry_After="7")
        api.fail(503, times=2)
        result = connector_sync(connector=connector, http=ApiClient(sleep=sleeps))
    # Keyset pages: the last second of each page is read again (2 orders here), never skipped.
    assert (result.error, result.pages, result.created) == ("", 3, 250)
    assert result.orders == 252
    assert sleeps == [7.0, 2.0, 4.0]  # Retry-After as the platform said, then exponential backoff
    assert Order.objects.filter(connector=connector).count() == 250
    assert connector.cursor == {"modified_after": second_before(woo_orders(1, 250)[0]["date_modified_gmt"])}
    requested = [p for m, p in api.requests if "page=" in p]
    assert all("orderby=modified" in p and "order=asc" in p and "page=1&" in p + "&" for p in requested)
    assert Event.objects.filter(kind="order.placed").count() == 250


def test_woocommerce_catch_up_that_gives_up_resumes_from_its_cursor(shop, sleeps):
    orders = woo_orders(250)
    with WooCommerceStandIn(orders) as api:
        connector = woo_connector(shop, api.url)
        http = ApiClient(sleep=sleeps, attempts=3)
        # Page 1 answers; page 2 stays at 500 for every attempt: the run stops, page 1 is kept.
        original = api.answer
        calls = {"n": 0}

        def flaky(method, path, headers, body):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if 2 <= calls["n"] <= 4:  # the second page, on every attempt
                return 500, {"code": "internal_server_error"}, {}
            return original(method, path, headers, body)

        api.answer = flaky  # type: ignore[method-assign]
        first = connector_sync(connector=connector, http=http)
        assert first.error.startswith("gave up after 3 attempts: 500")
        assert (first.pages, Order.objects.count()) == (1, 100)
        connector.refresh_from_db()
        assert connector.last_error == first.error and connector.last_error_at is not None
        assert connector.cursor == {"modified_after": second_before(orders[99]["date_modified_gmt"])}
        second = connector_sync(connector=connector, http=ApiClient(sleep=sleeps))
    # 150 to go, and the last second of each page read again (orders[99], orders[198]): 152 reads.
    assert second.error == "" and second.orders == 152 and Order.objects.count() == 250
    assert Order.objects.count() == 250
    assert Event.objects.filter(kind="order.placed").count() == 250  # nothing twice
    connector.refresh_from_db()
    assert connector.last_error == ""
    # The resumed run asked only for what came after the cursor.
    resumed_at = second_before(orders[99]["date_modified_gmt"]).replace(":", "%3A")
    assert f"modified_after={resumed_at}" in api.requests[-2][1]


def test_an_order_changed_during_the_catch_up_shifts_nothing_out_of_reach(shop, sleeps):
    orders = woo_orders(250)
    with WooCommerceStandIn(orders) as api:
        connector = woo_connector(shop, api.url)
        original = api.answer
        served = {"n": 0}

        def meanwhile(method, path, headers, body):  # type: ignore[no-untyped-def]
            answer = original(method, path, headers, body)
            served["n"] += 1
            if served["n"] == 1:  # the shop edits an order of page 1: it moves to the end of the list
                moved = copy.deepcopy(orders.pop(50))  # the page already answered keeps its copy
                moved["date_modified_gmt"] = (T0 + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
                orders.append(moved)
            return answer

        api.answer = meanwhile  # type: ignore[method-assign]
        result = connector_sync(connector=connector, http=ApiClient(sleep=sleeps))
    assert result.error == "" and Order.objects.count() == 250  # numbered pages would have lost one
    assert Order.objects.get(external_id=str(orders[-1]["id"])).source_updated_at == T0 + dt.timedelta(
        days=30
    )


def test_catch_up_refused_credentials_fail_at_once_without_retrying(shop, sleeps):
    with WooCommerceStandIn(woo_orders(3), secret="other") as api:
        connector = woo_connector(shop, api.url)
        result = connector_sync(connector=connector, http=ApiClient(sleep=sleeps))
    assert result.error.startswith("401") and sleeps == [] and len(api.requests) == 1
    assert not Order.objects.exists()


def shopify_nodes(n: int) -> list[dict]:
    nodes = []
    for i in range(n):
        stamp = (T0 + dt.timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
        nodes.append(
            {
                "id": f"gid://shopify/Order/{7000 + i}",
                "name": f"#{1000 + i}",
                "email": f"buyer{i}@example.com",
                "phone": None,
                "createdAt": stamp,
                "updatedAt": stamp,
                "processedAt": stamp,
                "cancelledAt": None,
                "statusPageUrl": "https://shop.example/orders/x",
                "displayFinancialStatus": "PAID",
                "displayFulfillmentStatus": "FULFILLED" if i % 2 else "UNFULFILLED",
                "currencyCode": "EUR",
                "totalPriceSet": {"shopMoney": {"amount": "42.50", "currencyCode": "EUR"}},
                "totalShippingPriceSet": {"shopMoney": {"amount": "4.50"}},
                "customer": {
                    "firstName": "Anna",
                    "lastName": f"K{i}",
                    "email": f"buyer{i}@example.com",
                    "phone": None,
                    "locale": "pl-PL",
                },
                "lineItems": {
                    "nodes": [
                        {
                            "name": "Mug",
                            "sku": "M-1",
                            "quantity": 2,
                            "originalUnitPriceSet": {"shopMoney": {"amount": "19.00"}},
                        }
                    ]
                },
                "fulfillments": [
                    {
                        "id": f"gid://shopify/Fulfillment/{9000 + i}",
                        "status": "SUCCESS",
                        "displayStatus": "IN_TRANSIT",
                        "createdAt": stamp,
                        "updatedAt": stamp,
                        "deliveredAt": None,
                        "estimatedDeliveryAt": "2099-01-01T00:00:00Z",
                        "trackingInfo": [
                            {"company": "DHL", "number": f"JD{i:08d}", "url": f"https://dhl.example/{i}"}
                        ],
                    }
                ]
                if i % 2
                else [],
                "refunds": [],
            }
        )
    return nodes


def test_shopify_graphql_catch_up_follows_cursors_and_waits_when_throttled(shop, sleeps):
    with ShopifyStandIn(shopify_nodes(130)) as api:
        connector = connector_create(
            shop=shop, platform="shopify", base_url=api.url, credentials={"access_token": "shpat_test"}
        )
        api.throttle_next = 1
        api.fail(502)
        result = connector_sync(connector=connector, http=ApiClient(sleep=sleeps))
    assert (result.error, result.pages, result.orders) == ("", 2, 130)
    # The 502 backed off a second; THROTTLED waited for the bucket to refill (at least a second).
    assert sleeps == [1.0, 1.0]
    order = Order.objects.get(external_id="7001")
    assert (order.number, order.status, order.contact.language) == ("#1001", OrderStatus.SHIPPED, "pl")
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.tracking_number) == ("DHL", "JD00000001")
    connector.refresh_from_db()
    assert connector.cursor == {"updated_at": shopify_nodes(130)[-1]["updatedAt"]}


def test_baselinker_backfills_by_id_then_follows_the_journal(shop, sleeps):
    base = payload("baselinker/getOrders.json")["orders"][0]
    orders = {}
    for i in range(150):
        o = copy.deepcopy(base)
        o.update(
            order_id=1630000 + i,
            shop_order_id=2000 + i,
            email=f"kupujacy{i}@example.pl",
            phone="",
            delivery_package_nr="",
            order_status_id=6624,
        )
        orders[o["order_id"]] = o
    with BaseLinkerStandIn(orders) as api:
        connector = connector_create(
            shop=shop,
            platform="baselinker",
            base_url=api.url + "/connector.php",
            credentials={"api_token": "bl-test-token"},
        )
        first = connector_sync(connector=connector, http=ApiClient(sleep=sleeps))
        assert (first.error, first.orders) == ("", 150)
        assert Order.objects.filter(status=OrderStatus.PAID).count() == 150  # payment_done 50 >= 2 * 20 + 10
        orders[1630005].update(order_status_id=6625, delivery_package_nr="0042348723648234")
        api.journal += payload("baselinker/getJournalList.json")["logs"]
        for log in api.journal:
            log["order_id"] = 1630005
        second = connector_sync(connector=connector, http=ApiClient(sleep=sleeps))
    assert (second.error, second.orders) == ("", 1)
    order = Order.objects.get(external_id="1630005")
    assert (order.status, order.platform_status, order.number) == (OrderStatus.SHIPPED, "Wysłane", "2005")
    assert order.shipments.get().carrier == "DPD"
    connector.refresh_from_db()
    assert connector.cursor["last_log_id"] == 456270 and connector.cursor["backfilled"] is True
    assert Event.objects.filter(kind="order.shipped", data__order="2005").count() == 1


def test_baselinker_nudge_webhook_checks_the_url_secret(shop):
    from opiekun.webhooks.models import Delivery

    from .conftest import post

    connector = connector_create(
        shop=shop, platform="baselinker", credentials={"api_token": "x"}, webhook_secret="nudge-s3cret"
    )
    path = connector.endpoint.url_path
    assert (
        post(path + "?secret=wrong", b"order_id=1", {}, "application/x-www-form-urlencoded").status_code
        == 401
    )
    assert post(path, b"order_id=1", {}, "application/x-www-form-urlencoded").status_code == 401
    assert not Delivery.objects.exists()
    ok = post(path + "?secret=nudge-s3cret", b"order_id=1630473", {}, "application/x-www-form-urlencoded")
    assert ok.status_code == 200 and Delivery.objects.get().topic == "nudge"
