"""The public side's reads: a shop's contact form inbox, and what one portal visitor may see.

A portal visitor is one contact of one shop (proven by a magic link, then held in the session).
Everything here is scoped to that pair; another customer's or shop's number or id answers NotFound,
exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.sessions.backends.base import SessionBase

from opiekun.contacts import normalise
from opiekun.contacts.models import Contact, Identity
from opiekun.conversations.models import ChannelKind, Conversation
from opiekun.core.errors import NotFound
from opiekun.inboxes.models import Inbox
from opiekun.shops.models import Shop

SESSION_CONTACT = "portal_contact_id"
SESSION_SHOP = "portal_shop_id"

# Followed when a contact was merged into another; a cycle can never be longer than the contacts.
_MAX_MERGE_HOPS = 20


def webform_inbox(*, shop: Shop) -> Inbox:
    """The shop's active contact-form inbox (the oldest when there are several), or NotFound."""
    inbox = Inbox.objects.filter(shop=shop, kind=ChannelKind.WEBFORM, is_active=True).order_by("id").first()
    if inbox is None:
        raise NotFound()
    return inbox


def public_shops() -> list[Shop]:
    """Every shop of the installation, by name (their names are public: each has a contact form)."""
    return list(Shop.objects.order_by("name"))


def surviving_contact(*, shop_id: int, contact_id: int) -> Contact | None:
    """The contact with this id in this shop, following merges to the survivor; None when unknown."""
    contact = Contact.objects.filter(pk=contact_id, shop_id=shop_id).select_related("shop").first()
    hops = 0
    while contact is not None and contact.merged_into_id is not None and hops < _MAX_MERGE_HOPS:
        contact = (
            Contact.objects.filter(pk=contact.merged_into_id, shop_id=shop_id).select_related("shop").first()
        )
        hops += 1
    return contact


def contact_by_email(*, shop: Shop, email: str) -> Contact | None:
    """The shop's contact owning this e-mail address (merges followed), or None. Reads Identity."""
    try:
        value = normalise.email(email)
    except ValueError:
        return None
    contact_id = (
        Identity.objects.filter(shop=shop, kind=Identity.Kind.EMAIL, value=value)
        .values_list("contact_id", flat=True)
        .first()
    )
    if contact_id is None:
        return None
    return surviving_contact(shop_id=shop.pk, contact_id=contact_id)


@dataclass(frozen=True)
class PortalVisitor:
    contact: Contact
    shop: Shop


def portal_visitor(session: SessionBase) -> PortalVisitor | None:
    """Who the session belongs to, re-read on every request (a deleted contact loses access at once)."""
    contact_id, shop_id = session.get(SESSION_CONTACT), session.get(SESSION_SHOP)
    if not isinstance(contact_id, int) or not isinstance(shop_id, int):
        return None
    contact = surviving_contact(shop_id=shop_id, contact_id=contact_id)
    if contact is None:
        return None
    return PortalVisitor(contact=contact, shop=contact.shop)


def portal_conversations(*, visitor: PortalVisitor, limit: int = 100) -> list[Conversation]:
    """The visitor's cases in their shop, latest activity first (merged-away cases left out). One query."""
    return list(
        Conversation.objects.filter(
            shop=visitor.shop, contact=visitor.contact, merged_into__isnull=True
        ).order_by("-last_message_at", "-id")[:limit]
    )


def access_portal_conversation(*, visitor: PortalVisitor, number: int) -> Conversation:
    """The visitor's own case by its number, or NotFound (another customer's or shop's case included)."""
    conversation = (
        Conversation.objects.filter(shop=visitor.shop, contact=visitor.contact, number=number)
        .select_related("shop", "inbox", "merged_into")
        .first()
    )
    if conversation is None:
        raise NotFound()
    return conversation
