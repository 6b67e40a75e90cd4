"""The demo shop's orders (`opiekun demo`): a WooCommerce connection and the orders the demo cases talk about.

Written through the real path (`ingest.orders_upsert` with OrderRecords as the WooCommerce normaliser
makes them), so the panel, the timeline events and the macros show what a connected shop would. Each
order the demo stories name gets lines, a payment and — depending on its story — a shipment on its way,
a late one, a delivered one or a refund; a few customers get an older delivered order too.
"""

# Demo texts are Polish, Russian and English: Cyrillic letters are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import Macro
from opiekun.shops.models import Shop

from .ingest import orders_upsert
from .models import Connector, OrderStatus, PaymentState, ShipmentStatus
from .records import (
    Customer,
    InvoiceRecord,
    LineRecord,
    OrderRecord,
    PaymentRecord,
    ReturnRecord,
    ShipmentRecord,
)
from .services import connector_create

LABEL = "Sklep Demo (WooCommerce)"
PRODUCTS = [
    ("CZ-GLASS-17", "Czajnik elektryczny Glass 1,7 l", "149.00"),
    ("KUB-300", "Kubek termiczny 300 ml", "59.00"),
    ("PAT-26", "Patelnia granitowa 26 cm", "129.00"),
    ("NOZ-5", "Zestaw noży kuchennych (5 szt.)", "219.00"),
    ("ROB-700", "Robot kuchenny 700 W", "499.00"),
    ("DESKA-BAM", "Deska do krojenia, bambus", "45.00"),
    ("FLT-01", "Filtr do czajnika", "19.90"),
    ("MLY-ELE", "Młynek do kawy elektryczny", "179.00"),
]
TRACK = "https://inpost.pl/sledzenie-przesylek?number={}"
# Macros with the order's variables, in the customer's language (docs/commerce/overview.md).
TRACKING = {
    "pl": "Przesyłkę {{ order.carrier }} można śledzić tutaj: {{ order.tracking_link }}",
    "en": "You can follow the {{ order.carrier }} parcel here: {{ order.tracking_link }}",
    "ru": "Отследить посылку {{ order.carrier }} можно здесь: {{ order.tracking_link }}",
}
EXPECTED = {
    "pl": "Przewoźnik zapowiada doręczenie do {{ order.expected_delivery }}.",
    "en": "The carrier expects to deliver it by {{ order.expected_delivery }}.",
    "ru": "Перевозчик обещает доставить её до {{ order.expected_delivery }}.",
}
REF = "{% if conversation.order_ref %}{{ conversation.order_ref }}{% else %}{{ order.number }}{% endif %}"
OPENING = {
    "pl": "Dzień dobry {{ contact.first_name }},\n\nzamówienie " + REF + " ma status: {{ order.status }}.",
    "en": "Hello {{ contact.first_name }},\n\norder " + REF + " is: {{ order.status }}.",
    "ru": "Здравствуйте, {{ contact.first_name }}!\n\nСтатус заказа " + REF + ": {{ order.status }}.",
}
CLOSING = {
    "pl": "{% if order.invoice_link %}\n"
    "Faktura {{ order.invoice_number }}: {{ order.invoice_link }}{% endif %}\n\nPozdrawiam\n{{ agent.name }}",
    "en": "\n\nBest regards\n{{ agent.name }}",
    "ru": "\n\nС уважением,\n{{ agent.name }}",
}
MACROS = [
    (
        name,
        lang,
        OPENING[lang]
        + "{% if order.tracking_link %} "
        + TRACKING[lang]
        + "{% endif %}"
        + "{% if order.expected_delivery %} "
        + EXPECTED[lang]
        + "{% endif %}"
        + CLOSING[lang],
    )
    for name, lang in (
        ("Status zamówienia i przesyłki", "pl"),
        ("Order and parcel status", "en"),
        ("Статус заказа и посылки", "ru"),
    )
]
# What happened to the order each demo story is about (the others are delivered).
SCENARIO = {
    "SD-10452": "stuck",  # Jan: "Where is my parcel?" — shipped yesterday, no scan since
    "SD-10498": "paid",  # Katarzyna wants to change the address: paid, not shipped yet
    "SD-10477": "late",
    "SD-10433": "refunded",
    "SD-10491": "shipped",
}


def _pick(number: str, n: int) -> int:
    return int(hashlib.sha256(number.encode()).hexdigest()[:8], 16) % n


def _record(
    number: str,
    contact: Contact,
    email: str,
    phone: str,
    placed: dt.datetime,
    scenario: str,
    began: dt.datetime,
) -> OrderRecord:
    first = _pick(number, len(PRODUCTS))
    picks = [PRODUCTS[first], PRODUCTS[(first + 3) % len(PRODUCTS)]][: 1 + _pick(number + "n", 2)]
    if number == "SD-10452":  # Jan's kettle, as his message says
        picks = [PRODUCTS[0], PRODUCTS[6]]
    lines = tuple(
        LineRecord(
            name=name, sku=sku, quantity=Decimal(q), unit_price=Decimal(price), total=Decimal(price) * q
        )
        for (sku, name, price), q in zip(picks, (1, 2), strict=False)
    )
    shipping = Decimal("14.99")
    total = sum((line.total for line in lines), Decimal(0)) + shipping
    paid_at = placed + dt.timedelta(minutes=3)
    tracking = f"6200{int(hashlib.sha256(number.encode()).hexdigest()[:12], 16) % 10**18:018d}"
    shipped_at = placed + dt.timedelta(hours=20)
    shipment = None
    status, payment = OrderStatus.DELIVERED, PaymentState.PAID
    if scenario == "paid":
        status = OrderStatus.PROCESSING
    elif scenario in ("stuck", "shipped", "late"):
        status = OrderStatus.SHIPPED
        promised = shipped_at + dt.timedelta(days=2 if scenario != "late" else 1)
        if scenario == "stuck":  # shipped yesterday, the courier promised it for tomorrow
            shipped_at = began - dt.timedelta(days=1)
            promised = began + dt.timedelta(days=1)
        shipment = ShipmentRecord(
            external_id=tracking,
            status=ShipmentStatus.SHIPPED,
            carrier="InPost",
            tracking_number=tracking,
            tracking_url=TRACK.format(tracking),
            shipped_at=shipped_at,
            promised_at=promised,
        )
    else:
        shipment = ShipmentRecord(
            external_id=tracking,
            status=ShipmentStatus.DELIVERED,
            carrier="InPost",
            tracking_number=tracking,
            tracking_url=TRACK.format(tracking),
            shipped_at=shipped_at,
            promised_at=shipped_at + dt.timedelta(days=2),
            delivered_at=shipped_at + dt.timedelta(days=1, hours=3),
        )
    payments = [PaymentRecord(amount=total, method="Przelewy24", paid_at=paid_at)]
    returns: tuple[ReturnRecord, ...] = ()
    if scenario == "refunded":
        status, payment = OrderStatus.REFUNDED, PaymentState.REFUNDED
        refund_at = placed + dt.timedelta(days=5)
        payments.append(PaymentRecord(amount=total, method="Zwrot", is_refund=True, paid_at=refund_at))
        returns = (
            ReturnRecord(
                external_id="R-" + number,
                status="refunded",
                reason="Uszkodzony w transporcie",
                amount=total,
                created_at=refund_at,
            ),
        )
    invoice = InvoiceRecord(
        number=f"FV/{placed:%Y}/{placed:%m}/{number[-4:]}",
        issued_at=paid_at,
        pdf_url=f"https://sklep-demo.localhost/faktury/{number}.pdf",
    )
    return OrderRecord(
        external_id=number.removeprefix("SD-"),
        number=number,
        status=status,
        payment_state=payment,
        placed_at=placed,
        updated_at=placed + dt.timedelta(days=1),
        platform_status={"processing": "processing", "shipped": "completed"}.get(status, "completed"),
        currency="PLN",
        total=total,
        shipping_total=shipping,
        paid_at=paid_at,
        customer=Customer(email=email, phone=phone, name=contact.name, language=contact.language),
        admin_url=f"https://sklep-demo.localhost/wp-admin/post.php?post={number.removeprefix('SD-')}&action=edit",
        lines=lines,
        shipments=(shipment,) if shipment else (),
        payments=tuple(payments),
        invoices=(invoice,),
        returns=returns,
    )


def seed(*, shop: Shop, orders: list[tuple[Contact, str, dt.datetime]]) -> Connector:
    """The demo connection and an order per (customer, number, when the case began); idempotent."""
    connector = Connector.objects.filter(shop=shop, label=LABEL).first() or connector_create(
        shop=shop,
        platform="woocommerce",
        label=LABEL,
        base_url="",  # the demo shop is not on the internet: nothing to catch up from
        credentials={"consumer_key": "ck_demo", "consumer_secret": "cs_demo"},
    )
    addresses: dict[int, dict[str, str]] = {}
    for identity in Identity.objects.filter(contact__in=[c for c, _, _ in orders]).order_by(
        "-is_primary", "id"
    ):
        addresses.setdefault(identity.contact_id, {}).setdefault(identity.kind, identity.value)
    records = []
    for i, (contact, number, began) in enumerate(orders):
        known = addresses.get(contact.pk, {})
        email, phone = known.get("email", ""), known.get("phone", "")
        placed = began - dt.timedelta(days=2 + _pick(number, 3), hours=_pick(number + "h", 9))
        records.append(
            _record(number, contact, email, phone, placed, SCENARIO.get(number, "delivered"), began)
        )
        if i % 3 == 0:  # an older order, delivered long ago: a returning customer
            older = f"SD-{int(number[3:]) - 600 - i:05d}"
            older_at = placed - dt.timedelta(days=70 + i)
            records.append(_record(older, contact, email, phone, older_at, "delivered", older_at))
    orders_upsert(connector=connector, records=records)
    for name, language, body in MACROS:
        Macro.objects.update_or_create(shop=shop, name=name, language=language, defaults={"body": body})
    return connector
