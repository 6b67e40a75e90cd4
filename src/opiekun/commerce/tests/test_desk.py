"""The 360 panel in the desk, one-click linking, automatic links from messages, the connections screen,
order events on the timeline and `{{ order.* }}` in macros."""

from __future__ import annotations

import pytest
from django.test import Client

from opiekun.commerce.models import Connector, Order
from opiekun.commerce.services import connector_create
from opiekun.conversations.macros import macro_context, render_text
from opiekun.conversations.models import Event
from opiekun.inboxes import pipeline
from opiekun.inboxes.base import InboundMessage, SenderHints
from opiekun.testing import factories
from opiekun.webhooks.processing import process_pending

from .conftest import SECRET, body_of, payload, post, shopify_headers, wc_headers


@pytest.fixture
def desk(client: Client, agent) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(agent.user)
    return client


@pytest.fixture
def jan_order(woo) -> Order:
    data = payload("woocommerce/order.json")
    data["meta_data"].append(
        {
            "id": 1,
            "key": "_wc_shipment_tracking_items",
            "value": [
                {
                    "tracking_provider": "DPD",
                    "tracking_number": "0000123456789",
                    "date_shipped": "1795640400",
                    "tracking_id": "t1",
                }
            ],
        }
    )
    data.update(status="completed", date_modified_gmt="2026-11-25T09:00:00")
    body = body_of(data)
    assert post(woo.endpoint.url_path, body, wc_headers(body)).status_code == 200
    process_pending()
    return Order.objects.get()


def inbound(inbox, text: str, email: str = "jan.kowalski@example.com", subject: str = "Pytanie"):  # type: ignore[no-untyped-def]
    msg = InboundMessage(sender=SenderHints(email=email, name="Jan Kowalski"), text=text, subject=subject)
    return pipeline.process(inbox=inbox, message=msg)


def test_the_side_panel_shows_the_customers_orders_and_links_one_with_a_click(desk, jan_order, inbox):
    result = inbound(inbox, "Dzień dobry, gdzie jest moja paczka?")
    number = result.conversation.number
    page = desk.get(f"/c/{number}/").content.decode()
    assert 'id="customer-orders"' in page and 'data-order="727"' in page
    assert "Czajnik elektryczny Glass 1,7 l" in page
    assert "https://tracktrace.dpd.com.pl/parcelDetails?typ=1&amp;p1=0000123456789" in page
    assert "FV/2026/11/0042" in page
    assert 'data-action="link-order"' in page
    answer = desk.post(f"/c/{number}/link-order/", {"order": jan_order.pk}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    result.conversation.refresh_from_db()
    assert result.conversation.order_ref == "727"
    assert "Linked to this case" in answer.content.decode()
    assert Event.objects.filter(conversation=result.conversation, kind="order_linked").exists()


def test_linking_another_shops_order_is_not_found_and_changes_nothing(desk, inbox, other_shop):
    theirs = connector_create(shop=other_shop, platform="generic-commerce")
    contact = factories.ContactFactory(shop=other_shop)
    order = Order.objects.create(
        shop=other_shop,
        connector=theirs,
        external_id="1",
        number="X-1",
        contact=contact,
        placed_at="2026-11-01T10:00:00Z",
        synced_at="2026-11-01T10:00:00Z",
    )
    result = inbound(inbox, "Hello")
    answer = desk.post(f"/c/{result.conversation.number}/link-order/", {"order": order.pk})
    assert answer.status_code == 404
    result.conversation.refresh_from_db()
    assert result.conversation.order_ref == ""


def test_an_order_number_in_a_message_links_the_case_automatically(
    jan_order, inbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = inbound(inbox, "Zamówienie nr 727 nie dotarło, numer przesyłki nie działa.")
    result.conversation.refresh_from_db()
    assert result.conversation.order_ref == "727"
    with django_capture_on_commit_callbacks(execute=True):
        other = inbound(inbox, "Mam pytanie o zamówienie 99999", email="someone@example.org")
    other.conversation.refresh_from_db()
    assert other.conversation.order_ref == ""  # no such order: nothing linked


def _said(result):  # type: ignore[no-untyped-def]
    """What a MessageCreated about this inbound message says besides its text."""
    return dict(
        shop_id=result.message.shop_id,
        conversation_id=result.conversation.pk,
        message_id=result.message.pk,
        direction=result.message.direction,
        is_internal=False,
    )


def test_a_message_mentioning_no_order_costs_no_query_and_one_without_text_on_its_event_is_read(
    jan_order, inbox, django_assert_num_queries
):
    from opiekun.commerce.links import link_mentioned_orders
    from opiekun.conversations.events import MessageCreated

    result = inbound(inbox, "Dzień dobry, czy macie sofy w kolorze zielonym?")
    said = _said(result)
    link_mentioned_orders(
        [MessageCreated(**said, text="jeszcze jedno: zamówienie 727", subject="", order_ref="")]
    )
    result.conversation.refresh_from_db()
    assert result.conversation.order_ref == "727"  # the text on the event is what is read
    result.conversation.order_ref = ""
    result.conversation.save(update_fields=["order_ref"])
    with django_assert_num_queries(0):
        link_mentioned_orders([MessageCreated(**said, text="a zielone?", subject="Sofa", order_ref="")])
    with django_assert_num_queries(1):  # no text on the event: the message is read, no number in it
        link_mentioned_orders([MessageCreated(**said)])


def test_order_events_read_as_sentences_on_the_contact_page(desk, jan_order):
    page = desk.get(f"/contacts/{jan_order.contact_id}/").content.decode()
    assert "Order 727 placed · 263.99 PLN" in page
    assert "Order 727 shipped · DPD 0000123456789" in page
    assert 'id="customer-orders"' in page


def test_macro_order_variables_in_the_customers_language(jan_order, inbox):
    result = inbound(inbox, "Gdzie paczka? Zamówienie 727")
    conversation = result.conversation
    conversation.order_ref = "727"
    conversation.language = "pl"
    context = macro_context(conversation=conversation, agent=None)
    text = render_text(
        "Zamówienie {{ order.number }}: {{ order.status }}, {{ order.carrier }} {{ order.tracking_link }}, "
        "faktura {{ order.invoice_number }}, złożone {{ order.placed }}.",
        context,
    )
    assert text == (
        "Zamówienie 727: Wysłane, DPD https://tracktrace.dpd.com.pl/parcelDetails?typ=1&p1=0000123456789, "
        "faktura FV/2026/11/0042, złożone 24 listopada 2026."
    )
    conversation.language = "ru"
    assert render_text(
        "{{ order.status }} {{ order.placed }}", macro_context(conversation=conversation, agent=None)
    ) == ("Отправлен 24 ноября 2026")


def test_the_connections_screen_creates_a_connector_and_shows_its_webhook_address(client, shop):
    admin = factories.AgentFactory(shop=shop, role="admin", user__username="boss")
    client.force_login(admin.user)
    assert client.get("/shop-connections/").status_code == 200
    answer = client.post(
        "/shop-connections/new/",
        {
            "platform": "shopify",
            "label": "Shopify EU",
            "base_url": "https://eu.myshopify.com",
            "access_token": "shpat_1",
        },
    )
    assert answer.status_code == 200
    connector = Connector.objects.get()
    page = answer.content.decode()
    assert connector.endpoint.url_path in page and connector.endpoint.signing_secret in page
    assert "shpat_1" not in page and connector.credentials == {"access_token": "shpat_1"}
    # The credentials are sealed in the database, never stored as typed.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM commerce_connector")
        assert "shpat_1" not in cursor.fetchone()[0]
    assert "shpat_1" not in repr(connector)
    again = client.get("/shop-connections/").content.decode()
    assert connector.endpoint.signing_secret not in again


def test_the_connections_screen_is_for_admins_only(desk):
    assert desk.get("/shop-connections/").status_code == 403


def test_a_shopify_customer_with_a_phone_matches_an_existing_contact(shopify, shop):
    existing = factories.ContactFactory(shop=shop, email="someone-else@example.org")
    from opiekun.contacts.models import Identity

    Identity.objects.create(shop=shop, contact=existing, kind="phone", value="+48600700800")
    body = body_of(payload("shopify/orders-create.json"))
    post(shopify.endpoint.url_path, body, shopify_headers(body, "e-1"))
    process_pending()
    assert Order.objects.get().contact_id == existing.pk
    assert SECRET


def test_a_merged_customers_orders_follow_them(jan_order, shop, django_capture_on_commit_callbacks):
    from opiekun.contacts.services import contact_merge

    survivor = factories.ContactFactory(shop=shop, email="jan.k@work.example")
    with django_capture_on_commit_callbacks(execute=True):
        contact_merge(source=jan_order.contact, target=survivor, actor=None)
    jan_order.refresh_from_db()
    assert jan_order.contact_id == survivor.pk


def test_an_admin_switches_a_connection_off_and_its_webhooks_are_refused(client, woo, shop):
    from opiekun.webhooks import selectors as webhook_selectors
    from opiekun.webhooks.models import Delivery

    admin = factories.AgentFactory(shop=shop, role="admin", user__username="boss")
    client.force_login(admin.user)
    assert client.post(f"/shop-connections/{woo.pk}/active/", {"active": "0"}).status_code == 302
    woo.refresh_from_db()
    assert not woo.is_active and not woo.endpoint.is_active
    assert "Switch on" in client.get("/shop-connections/").content.decode()
    webhook_selectors.forget_tokens()
    body = body_of(payload("woocommerce/order.json"))
    assert post(woo.endpoint.url_path, body, wc_headers(body)).status_code == 404
    assert not Delivery.objects.exists()
    client.post(f"/shop-connections/{woo.pk}/active/", {"active": "1"})
    webhook_selectors.forget_tokens()
    assert post(woo.endpoint.url_path, body, wc_headers(body)).status_code == 200
    # Another shop's admin cannot touch it.
    other = factories.AgentFactory(role="admin", user__username="stranger")
    client.force_login(other.user)
    assert client.post(f"/shop-connections/{woo.pk}/active/", {"active": "0"}).status_code == 404
    woo.refresh_from_db()
    assert woo.is_active


def test_a_changed_order_refreshes_desks_showing_the_customers_open_case(
    woo, inbox, django_capture_on_commit_callbacks
):
    from opiekun.conversations.events import ConversationChanged
    from opiekun.core import events as core_events
    from opiekun.core.events import subscribe

    seen: list[ConversationChanged] = []
    subscribe(ConversationChanged, seen.append)
    try:
        result = inbound(inbox, "Kiedy wyślecie?")
        seen.clear()
        body = body_of(payload("woocommerce/order.json"))
        post(woo.endpoint.url_path, body, wc_headers(body))
        with django_capture_on_commit_callbacks(execute=True):
            process_pending()
    finally:
        core_events._subscribers[ConversationChanged].remove(seen.append)
    assert [(e.conversation_id, e.what) for e in seen] == [(result.conversation.pk, "orders")]


def test_the_order_numbers_of_a_batch_of_messages_are_looked_up_in_one_query(
    jan_order, inbox, django_assert_num_queries
):
    from opiekun.commerce.links import link_mentioned_orders, shop_has_connector
    from opiekun.conversations.events import MessageCreated

    result = inbound(inbox, "Dzień dobry, czy macie sofy w kolorze zielonym?")
    assert shop_has_connector(inbox.shop_id)  # remembered for a minute: not part of the count below
    said = {**_said(result), "subject": "", "order_ref": ""}
    batch = [MessageCreated(**said, text=f"Wiadomość {n}: zamówienie 9{n:04d}?") for n in range(30)]
    with django_assert_num_queries(1):  # thirty mentions, no such orders: one look-up
        link_mentioned_orders(batch)
    link_mentioned_orders(
        [*batch, MessageCreated(**said, text="a 727?"), MessageCreated(**said, text="i 727")]
    )
    result.conversation.refresh_from_db()
    assert result.conversation.order_ref == "727"
