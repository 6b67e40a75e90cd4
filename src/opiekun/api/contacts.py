"""/api/contacts — the shop's customers: search, create, read, update, addresses, caretakers, merge."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from opiekun.contacts import services as contacts
from opiekun.core.errors import NotFound, ValidationFailed

from . import selectors
from .auth import caller, client_ip
from .common import addresses, agent_in_shop, normalised_address, page_of
from .errors import Conflict
from .schemas import (
    ERRORS,
    CaretakerSet,
    ConflictError,
    ContactCreate,
    ContactListParams,
    ContactMerge,
    ContactOut,
    ContactPage,
    ContactUpdate,
    Id,
    IdentityCreate,
)
from .services import api_audit, audit_token_call

router = Router(tags=["contacts"])

ContactId = Path[Id]


@router.get(
    "", response={200: ContactPage, **ERRORS}, url_name="contact_list", summary="List and search contacts"
)
def contact_list(request: HttpRequest, params: Query[ContactListParams]) -> dict[str, Any]:
    """Contacts of the shop by name; `q` searches names, e-mail addresses and phone numbers."""
    who = caller(request)
    rows = selectors.contact_list(
        shop_id=who.shop.pk, q=params.q, limit=params.limit + 1, offset=params.offset
    )
    return page_of(rows, params)


@router.post(
    "",
    response={201: ContactOut, 409: ConflictError, **ERRORS},
    url_name="contact_create",
    summary="Create a contact",
)
def contact_create(request: HttpRequest, payload: ContactCreate) -> Status[Any]:
    """Create a contact with an e-mail address and/or a phone number; an address already known answers 409."""
    who = caller(request)
    found = addresses(email=payload.email, phone=payload.phone)
    if not found:
        raise ValidationFailed(_("Give an e-mail address or a phone number."), field="email")
    existing = selectors.contact_owning(shop_id=who.shop.pk, addresses=found)
    if existing is not None:
        raise Conflict(
            _("A contact with this address exists already."), existing_id=existing.pk, field="email"
        )
    with transaction.atomic():
        contact, created = contacts.contact_identify(
            shop=who.shop, addresses=found, name=payload.name, language=payload.language
        )
        if not created:  # created a moment ago by someone else; raising rolls back what identify added
            raise Conflict(
                _("A contact with this address exists already."), existing_id=contact.pk, field="email"
            )
        if payload.notes:
            contacts.contact_update(contact=contact, actor=None, notes=payload.notes)
        api_audit(
            shop=who.shop,
            agent=who.agent,
            token=who.token,
            action="contact.create",
            obj=contact,
            ip=client_ip(request),
        )
    return Status(201, selectors.access_contact(shop_id=who.shop.pk, contact_id=contact.pk))


@router.get(
    "/{contact_id}", response={200: ContactOut, **ERRORS}, url_name="contact_detail", summary="Get a contact"
)
def contact_detail(request: HttpRequest, contact_id: ContactId) -> Any:
    """One contact with its addresses and caretakers."""
    return selectors.access_contact(shop_id=caller(request).shop.pk, contact_id=contact_id)


@router.patch(
    "/{contact_id}",
    response={200: ContactOut, **ERRORS},
    url_name="contact_update",
    summary="Update a contact",
)
def contact_update(request: HttpRequest, payload: ContactUpdate, contact_id: ContactId) -> Any:
    """Change the name, language or notes; fields left out stay as they are."""
    who = caller(request)
    contact = selectors.access_contact(shop_id=who.shop.pk, contact_id=contact_id)
    with transaction.atomic():
        contacts.contact_update(
            contact=contact,
            actor=who.agent,
            name=payload.name,
            language=payload.language,
            notes=payload.notes,
        )
        audit_token_call(
            who,
            action="contact.update",
            obj=contact,
            data={"fields": sorted(payload.model_dump(exclude_none=True))},
            ip=client_ip(request),
        )
    return contact


@router.post(
    "/{contact_id}/identities",
    response={201: ContactOut, 409: ConflictError, **ERRORS},
    url_name="contact_identity_add",
    summary="Add an address to a contact",
)
def identity_add(request: HttpRequest, payload: IdentityCreate, contact_id: ContactId) -> Status[Any]:
    """Add an address (e-mail, phone, chat session, messenger id); one another contact has answers 409."""
    who = caller(request)
    contact = selectors.access_contact(shop_id=who.shop.pk, contact_id=contact_id)
    kind = payload.kind.value
    value = normalised_address(kind, payload.value)
    owner = selectors.contact_owning(shop_id=who.shop.pk, addresses=[contacts.Address(kind, value)])
    if owner is not None:
        raise Conflict(
            _("A contact already has this address; merge the two contacts instead.")
            if owner.pk != contact.pk
            else _("The contact already has this address."),
            existing_id=owner.pk,
            field="value",
        )
    with transaction.atomic():
        try:
            contacts.identity_add(contact=contact, kind=kind, value=value, actor=who.agent)
        except ValidationFailed as exc:  # the unique constraint lost a race to another request
            raise Conflict(exc.message, existing_id=None, field="value") from None
        audit_token_call(
            who,
            action="identity.add",
            obj=contact,
            data={"kind": kind, "value": value},
            ip=client_ip(request),
        )
    return Status(201, selectors.access_contact(shop_id=who.shop.pk, contact_id=contact.pk))


@router.put(
    "/{contact_id}/caretaker",
    response={200: ContactOut, **ERRORS},
    url_name="contact_caretaker",
    summary="Set the caretaker and backup",
)
def caretaker_set(request: HttpRequest, payload: CaretakerSet, contact_id: ContactId) -> Any:
    """Name the contact's caretaker and backup (agent ids of this shop; null for none)."""
    who = caller(request)
    contact = selectors.access_contact(shop_id=who.shop.pk, contact_id=contact_id)
    caretaker = (
        agent_in_shop(who.shop, payload.caretaker_id, field="caretaker_id") if payload.caretaker_id else None
    )
    backup = (
        agent_in_shop(who.shop, payload.backup_caretaker_id, field="backup_caretaker_id")
        if payload.backup_caretaker_id
        else None
    )
    with transaction.atomic():
        contacts.contact_set_caretaker(contact=contact, caretaker=caretaker, backup=backup, actor=who.agent)
        audit_token_call(
            who,
            action="contact.caretaker",
            obj=contact,
            data={"caretaker": payload.caretaker_id, "backup": payload.backup_caretaker_id},
            ip=client_ip(request),
        )
    return contact


@router.post(
    "/{contact_id}/merge",
    response={200: ContactOut, **ERRORS},
    url_name="contact_merge",
    summary="Merge another contact into this one",
)
def contact_merge(request: HttpRequest, payload: ContactMerge, contact_id: ContactId) -> Any:
    """Fold the contact `source_id` into this one: addresses, conversations and timeline move here."""
    who = caller(request)
    target = selectors.access_contact(shop_id=who.shop.pk, contact_id=contact_id)
    try:
        source = selectors.access_contact(shop_id=who.shop.pk, contact_id=payload.source_id)
    except NotFound:
        raise ValidationFailed(_("There is no such contact in this shop."), field="source_id") from None
    if target.merged_into_id is not None:
        raise ValidationFailed(_("This contact was merged into another one; merge into that one instead."))
    with transaction.atomic():
        contacts.contact_merge(source=source, target=target, actor=who.agent)
        audit_token_call(
            who,
            action="contact.merge",
            obj=target,
            data={"source": source.pk},
            ip=client_ip(request),
        )
    return selectors.access_contact(shop_id=who.shop.pk, contact_id=target.pk)
