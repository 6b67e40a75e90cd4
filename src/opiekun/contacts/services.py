"""Writes on contacts: identify (find or create by address), identities, caretakers, merge."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from opiekun.agents.models import Agent
from opiekun.agents.services import audit_record
from opiekun.conversations.models import Conversation, Event, Message
from opiekun.conversations.services import conversations_follow_caretaker
from opiekun.conversations.timeline import event_append
from opiekun.core.bulk import bulk_insert
from opiekun.core.errors import ValidationFailed
from opiekun.core.events import publish
from opiekun.shops.models import Shop

from . import normalise
from .events import ContactChanged
from .models import Contact, Identity
from .normalise import Address
from .selectors import contact_owning


def addresses_from(
    *, email: str = "", phone: str = "", chat_session: str = "", messenger_id: str = ""
) -> list[Address]:
    """Normalised addresses; a malformed phone is dropped here (the caller keeps the raw text)."""
    found: list[Address] = []
    if email:
        found.append(Address(Identity.Kind.EMAIL, normalise.email(email)))
    if phone:
        try:
            found.append(Address(Identity.Kind.PHONE, normalise.phone(phone)))
        except ValueError:
            pass
    if chat_session:
        found.append(Address(Identity.Kind.CHAT, chat_session))
    if messenger_id:
        found.append(Address(Identity.Kind.MESSENGER, messenger_id))
    return found


def contact_identify(
    *, shop: Shop, addresses: list[Address], name: str = "", language: str = ""
) -> tuple[Contact, bool]:
    """Find the contact owning any of `addresses` in `shop`, or create one; add the addresses it lacks.

    Writes Contact/Identity rows. Safe under concurrency: the unique (shop, kind, value) constraint
    decides who created an identity first; the loser re-reads it.
    """
    if not addresses:
        raise ValidationFailed("A contact needs at least one address.")
    contact = contact_owning(shop_id=shop.pk, addresses=addresses)
    created = False
    if contact is None:
        with transaction.atomic():
            contact = Contact.objects.create(shop=shop, name=name.strip()[:200], language=language)
            created = True
    elif name and not contact.name:
        contact.name = name.strip()[:200]
        contact.save(update_fields=["name"])
    for address in addresses:
        try:
            with transaction.atomic():
                Identity.objects.create(
                    shop=shop,
                    contact=contact,
                    kind=address.kind,
                    value=address.value,
                    is_primary=not contact.identities.filter(kind=address.kind).exists(),
                )
        except IntegrityError:
            owner = Identity.objects.select_related("contact").get(
                shop=shop, kind=address.kind, value=address.value
            )
            if created and owner.contact_id != contact.pk:
                # Someone else created this address a moment ago: their contact is the customer.
                contact.delete()
                return owner.contact, False
    return contact, created


@dataclass(frozen=True)
class Identify:
    """One `contacts_identify_many` request: the addresses a message came from, and who it says it is."""

    addresses: list[Address]
    name: str = ""
    language: str = ""


def contacts_identify_many(*, shop: Shop, requests: list[Identify]) -> list[Contact]:
    """`contact_identify` for a batch (one message each), with a handful of queries for the whole batch.

    Two requests with the same new address get the same new contact. When another process creates
    one of the addresses at the same moment, the batch falls back to `contact_identify` one by one.
    """
    if any(not r.addresses for r in requests):
        raise ValidationFailed("A contact needs at least one address.")
    try:
        with transaction.atomic():
            return _identify_many(shop, requests)
    except IntegrityError:
        return [
            contact_identify(shop=shop, addresses=r.addresses, name=r.name, language=r.language)[0]
            for r in requests
        ]


def _identify_many(shop: Shop, requests: list[Identify]) -> list[Contact]:
    wanted: dict[str, set[str]] = {}
    for request in requests:
        for address in request.addresses:
            wanted.setdefault(address.kind, set()).add(address.value)
    owners: dict[tuple[str, str], Contact] = {}
    for kind, values in wanted.items():
        for identity in Identity.objects.filter(shop=shop, kind=kind, value__in=values).select_related(
            "contact"
        ):
            owners[(identity.kind, identity.value)] = _surviving(identity.contact)
    kinds: dict[int, set[str]] = {}
    if owners:
        for contact_id, kind in Identity.objects.filter(
            contact_id__in={c.pk for c in owners.values()}
        ).values_list("contact_id", "kind"):
            kinds.setdefault(contact_id, set()).add(kind)
    new_kinds: dict[int, set[str]] = {}  # by id() of contacts not saved yet
    results: list[Contact] = []
    new_contacts: list[Contact] = []
    renamed: list[Contact] = []
    new_identities: list[Identity] = []
    for request in requests:
        contact = next(
            (owners[(a.kind, a.value)] for a in request.addresses if (a.kind, a.value) in owners), None
        )
        if contact is None:
            contact = Contact(shop=shop, name=request.name.strip()[:200], language=request.language)
            new_contacts.append(contact)
        elif request.name and not contact.name:
            contact.name = request.name.strip()[:200]
            renamed.append(contact)
        has = kinds.setdefault(contact.pk, set()) if contact.pk else new_kinds.setdefault(id(contact), set())
        for address in request.addresses:
            if (address.kind, address.value) in owners:
                continue
            owners[(address.kind, address.value)] = contact
            new_identities.append(
                Identity(
                    shop=shop,
                    contact=contact,
                    kind=address.kind,
                    value=address.value,
                    is_primary=address.kind not in has,
                )
            )
            has.add(address.kind)
        results.append(contact)
    bulk_insert(new_contacts)
    bulk_insert(new_identities)
    if renamed:
        Contact.objects.bulk_update({c.pk: c for c in renamed}.values(), ["name"])
    return results


def _surviving(contact: Contact) -> Contact:
    seen = {contact.pk}
    while contact.merged_into_id is not None and contact.merged_into_id not in seen:
        seen.add(contact.merged_into_id)
        contact = Contact.objects.get(pk=contact.merged_into_id)
    return contact


def identity_add(*, contact: Contact, kind: str, value: str, actor: Agent | None = None) -> Identity:
    """Add an address to `contact`; a clear error when another contact of the shop already has it."""
    if kind not in Identity.Kind.values:
        raise ValidationFailed("Unknown kind of address.", field="kind")
    try:
        if kind == Identity.Kind.EMAIL:
            value = normalise.email(value)
        elif kind == Identity.Kind.PHONE:
            value = normalise.phone(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="value") from None
    value = value.strip()
    if not value or len(value) > 320:
        raise ValidationFailed("Enter an address (at most 320 characters).", field="value")
    try:
        with transaction.atomic():
            identity = Identity.objects.create(
                shop_id=contact.shop_id, contact=contact, kind=kind, value=value
            )
            if actor:
                audit_record(
                    actor=actor, action="identity.add", obj=contact, data={"kind": kind, "value": value}
                )
    except IntegrityError:
        raise ValidationFailed(
            "Another contact already has this address; merge the two contacts instead.", field="value"
        ) from None
    publish(ContactChanged(shop_id=contact.shop_id, contact_id=contact.pk))
    return identity


def identity_flag(*, shop_id: int, kind: str, value: str, reason: str) -> Identity | None:
    """Mark an address as suspect (a permanent bounce), with the reason agents see; None when unknown."""
    try:
        value = normalise.email(value) if kind == Identity.Kind.EMAIL else value.strip()
    except ValueError:
        return None
    identity = Identity.objects.filter(shop_id=shop_id, kind=kind, value=value).first()
    if identity is None:
        return None
    Identity.objects.filter(pk=identity.pk).update(flagged=reason[:200])
    identity.flagged = reason[:200]
    event_append(
        shop_id=shop_id,
        contact=identity.contact,
        kind="identity_flagged",
        data={"value": value, "reason": reason},
    )
    publish(ContactChanged(shop_id=shop_id, contact_id=identity.contact_id))
    return identity


def contact_update(
    *,
    contact: Contact,
    actor: Agent | None,
    name: str | None = None,
    language: str | None = None,
    notes: str | None = None,
) -> Contact:
    limits = {"name": 200, "language": 8, "notes": 20_000}
    changed = []
    for field, value in (("name", name), ("language", language), ("notes", notes)):
        if value is not None and len(value) > limits[field]:
            raise ValidationFailed(f"At most {limits[field]} characters.", field=field)
        if value is not None and getattr(contact, field) != value:
            setattr(contact, field, value)
            changed.append(field)
    if changed:
        with transaction.atomic():
            contact.save(update_fields=changed)
            if actor:
                audit_record(actor=actor, action="contact.update", obj=contact, data={"fields": changed})
        publish(ContactChanged(shop_id=contact.shop_id, contact_id=contact.pk))
    return contact


def contact_set_caretaker(
    *, contact: Contact, caretaker: Agent | None, backup: Agent | None, actor: Agent | None
) -> Contact:
    """Name the contact's caretaker and backup (agents of the same shop, not the same person)."""
    for agent in (caretaker, backup):
        if agent is not None and agent.shop_id != contact.shop_id:
            raise ValidationFailed("The caretaker must be an agent of this shop.")
    if caretaker is not None and backup is not None and caretaker.pk == backup.pk:
        raise ValidationFailed(
            "The backup must be someone other than the caretaker.", field="backup_caretaker"
        )
    with transaction.atomic():
        contact.caretaker, contact.backup_caretaker = caretaker, backup
        contact.save(update_fields=["caretaker", "backup_caretaker"])
        conversations_follow_caretaker(contact=contact)
        event_append(
            shop_id=contact.shop_id,
            contact=contact,
            kind="caretaker_set",
            actor=actor,
            data={
                "caretaker": caretaker.display_name if caretaker else None,
                "backup": backup.display_name if backup else None,
            },
        )
        if actor:
            audit_record(
                actor=actor,
                action="contact.caretaker",
                obj=contact,
                data={"caretaker": caretaker and caretaker.pk, "backup": backup and backup.pk},
            )
    publish(ContactChanged(shop_id=contact.shop_id, contact_id=contact.pk))
    return contact


def contact_merge(*, source: Contact, target: Contact, actor: Agent | None) -> Contact:
    """Fold `source` into `target`: identities, conversations and timeline move; nothing is lost.

    The source row stays with merged_into set, so old references and the audit trail still resolve.
    """
    if source.pk == target.pk or source.shop_id != target.shop_id:
        raise ValidationFailed("Pick two different contacts of the same shop.")
    if source.merged_into_id is not None:
        raise ValidationFailed("This contact was already merged.")
    with transaction.atomic():
        Identity.objects.filter(contact=source).update(contact=target, is_primary=False)
        Conversation.objects.filter(contact=source).update(contact=target)
        Event.objects.filter(contact=source).update(contact=target)
        Message.objects.filter(author_contact=source).update(author_contact=target)
        fields = []
        for field in ("caretaker", "backup_caretaker"):
            if getattr(target, f"{field}_id") is None and getattr(source, f"{field}_id") is not None:
                setattr(target, f"{field}_id", getattr(source, f"{field}_id"))
                fields.append(field)
        if not target.name and source.name:
            target.name = source.name
            fields.append("name")
        if source.notes:
            target.notes = (target.notes + "\n\n" + source.notes).strip()
            fields.append("notes")
        if fields:
            target.save(update_fields=fields)
        conversations_follow_caretaker(contact=target)  # the source's cases now follow the target's
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        event_append(
            shop_id=target.shop_id,
            contact=target,
            kind="contact_merged",
            actor=actor,
            data={"from_contact": source.pk, "from_name": source.name},
        )
        if actor:
            audit_record(actor=actor, action="contact.merge", obj=target, data={"source": source.pk})
    publish(ContactChanged(shop_id=target.shop_id, contact_id=target.pk))
    return target


# --- Reads the agent desk needs (added with the desk; no contacts/selectors.py exists yet) ----------
