"""Keeping orders attached: an order number in a customer's message links the case to that order, with
nobody clicking; a merged customer's orders move to the survivor.

Subscribed to batches of MessageCreated (after commit; `subscribe_many`: one look-up for a batch).
Only inbound, public messages of a case that has no order yet are read, and only in shops with a
connector (remembered per process for a minute), so mail ingest of shops without a shop platform pays
nothing. The inbound paths put the text on the event: a message that mentions no order number costs
no query (a chat line at 200 a second). The contact
form's "order number" field is stored on the case directly (Conversation.order_ref) and the panel
matches it the same way.
"""

from __future__ import annotations

import time

from opiekun.contacts.events import ContactChanged
from opiekun.conversations.events import ConversationChanged, MessageCreated
from opiekun.conversations.models import OPEN_STATUSES, Conversation, Message
from opiekun.conversations.services import conversation_link_order
from opiekun.core.events import publish

from .events import OrdersChanged
from .models import Connector, Order
from .selectors import order_number_candidates, orders_by_numbers

REMEMBER = 60.0
_has_connector: dict[int, tuple[float, bool]] = {}


def shop_has_connector(shop_id: int) -> bool:
    now = time.monotonic()
    hit = _has_connector.get(shop_id)
    if hit is not None and now - hit[0] < REMEMBER:
        return hit[1]
    found = Connector.objects.filter(shop_id=shop_id).exists()
    _has_connector[shop_id] = (now, found)
    return found


def forget() -> None:
    _has_connector.clear()


def forget_shop(shop_id: int) -> None:
    _has_connector.pop(shop_id, None)


def link_mentioned_orders(events: list[MessageCreated]) -> None:
    """The messages of one commit (a batch of chat lines, one e-mail): the cases they mention an order
    of are linked to it. One query for all the numbers a shop's messages mention, whatever the batch's
    size; a case is linked once (its first mention wins)."""
    mentions: dict[int, list[tuple[MessageCreated, Conversation | None, list[str]]]] = {}
    for event in events:
        if (
            event.direction != Message.Direction.INBOUND
            or event.is_internal
            or not shop_has_connector(event.shop_id)
        ):
            continue
        conversation: Conversation | None = None
        if event.text is None or event.order_ref is None:  # the publisher did not say: read it
            message = (
                Message.objects.filter(pk=event.message_id, shop_id=event.shop_id)
                .select_related("conversation")
                .first()
            )
            if message is None:
                continue
            conversation = message.conversation
            subject, text, order_ref = conversation.subject, message.text, conversation.order_ref
        else:  # the usual case on the inbound paths: no query unless a number is mentioned
            subject, text, order_ref = event.subject or "", event.text, event.order_ref
        if order_ref:
            continue
        candidates = order_number_candidates(f"{subject}\n{text}")
        if candidates:
            mentions.setdefault(event.shop_id, []).append((event, conversation, candidates))
    for shop_id, mentioned in mentions.items():
        found = orders_by_numbers(shop_id=shop_id, numbers=[n for _e, _c, ns in mentioned for n in ns])
        linked: set[int] = set()
        for event, conversation, candidates in mentioned:
            orders = [o for n in candidates for o in found.get(n.lstrip("#"), ())]
            if not orders or event.conversation_id in linked:
                continue
            if conversation is None:
                conversation = Conversation.objects.filter(pk=event.conversation_id, shop_id=shop_id).first()
                if conversation is None or conversation.order_ref:
                    continue
            # The customer's own order first; another customer's number is still linked (a gift).
            orders.sort(key=lambda o: o.contact_id != conversation.contact_id)
            conversation_link_order(conversation=conversation, order_ref=orders[0].number, actor=None)
            linked.add(event.conversation_id)


def orders_follow_merges(event: ContactChanged) -> None:
    """After a contact merge the absorbed customer's orders belong to the survivor (one UPDATE)."""
    Order.objects.filter(shop_id=event.shop_id, contact__merged_into_id=event.contact_id).update(
        contact_id=event.contact_id
    )


# A webhook touches a few customers; a backfill touches hundreds per page and nobody is looking at them.
LIVE_CONTACTS = 50
LIVE_CASES = 20


def refresh_open_cases(event: OrdersChanged) -> None:
    """Desks showing an open case of a customer whose orders just changed re-fetch it (the panel and the
    timeline follow), through the ordinary ConversationChanged frames; skipped for large batches."""
    if not event.contact_ids or len(event.contact_ids) > LIVE_CONTACTS:
        return
    cases = Conversation.objects.filter(
        shop_id=event.shop_id, contact_id__in=event.contact_ids, status__in=OPEN_STATUSES
    ).values_list("pk", "number")[:LIVE_CASES]
    for pk, number in cases:
        publish(ConversationChanged(shop_id=event.shop_id, conversation_id=pk, what="orders", number=number))
