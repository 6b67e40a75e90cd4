"""Reads on contacts; each takes the shop, and fetching by id answers NotFound across shops."""

from __future__ import annotations

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from opiekun.core.errors import NotFound

from . import normalise
from .models import Contact, Identity
from .normalise import Address


def _identities() -> Prefetch:
    return Prefetch("identities", queryset=Identity.objects.order_by("-is_primary", "kind", "id"))


def _contacts(shop_id: int) -> QuerySet[Contact]:
    return (
        Contact.objects.filter(shop_id=shop_id)
        .select_related("caretaker", "backup_caretaker")
        .prefetch_related(_identities())
    )


def access_contact(*, shop_id: int, contact_id: int) -> Contact:
    """The shop's contact with identities and caretakers; NotFound for a missing or another shop's id."""
    contact = _contacts(shop_id).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound()
    return contact


def contact_list(*, shop_id: int, q: str = "", limit: int = 50, offset: int = 0) -> list[Contact]:
    """One page of the shop's contacts (merged ones left out), by name; 2 queries whatever the page size.

    `q` matches part of the name or of any address; a phone number matches however it is typed.
    """
    qs = Contact.objects.filter(shop_id=shop_id, merged_into__isnull=True)
    q = q.strip()
    if q:
        match = Q(name__icontains=q) | Q(identities__value__icontains=q.lower())
        try:
            match |= Q(identities__kind=Identity.Kind.PHONE, identities__value=normalise.phone(q))
        except ValueError:
            pass
        ids = qs.filter(match).values("id")
        qs = Contact.objects.filter(pk__in=ids)  # a subquery instead of DISTINCT keeps the ordering simple
    qs = qs.select_related("caretaker", "backup_caretaker").prefetch_related(_identities())
    return list(qs.order_by("name", "id")[offset : offset + limit])


def contact_owning(*, shop_id: int, addresses: list[Address]) -> Contact | None:
    """The (surviving, after merges) contact of the shop that owns one of `addresses`, or None."""
    for address in addresses:
        identity = (
            Identity.objects.filter(shop_id=shop_id, kind=address.kind, value=address.value)
            .select_related("contact")
            .first()
        )
        if identity is not None:
            contact = identity.contact
            seen = {contact.pk}
            while contact.merged_into_id is not None and contact.merged_into_id not in seen:
                seen.add(contact.merged_into_id)
                contact = Contact.objects.get(pk=contact.merged_into_id)
            return contact
    return None


def contact_find_by_address(*, shop_id: int, value: str) -> Contact | None:
    """The shop's contact owning an e-mail address or phone number as typed (normalised), or None."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        kind, norm = (
            (Identity.Kind.EMAIL, normalise.email(value))
            if "@" in value
            else (Identity.Kind.PHONE, normalise.phone(value))
        )
    except ValueError:
        return None
    return contact_owning(shop_id=shop_id, addresses=[Address(kind, norm)])


def contact_addresses(*, contact_id: int) -> dict[str, str]:
    """The contact's address of each kind (e-mail, phone, …): the primary one, else the first added.
    Read on every outbound reply, in SQL written once (the ORM's compiling cost more than the read)."""
    table = connection.ops.quote_name(Identity._meta.db_table)
    with connection.cursor() as cursor:
        # Ascending priority: a later row of the same kind wins the dict below.
        cursor.execute(
            f"SELECT kind, value FROM {table} WHERE contact_id = %s ORDER BY is_primary, id DESC",
            [contact_id],
        )
        return {str(kind): str(value) for kind, value in cursor.fetchall()}
