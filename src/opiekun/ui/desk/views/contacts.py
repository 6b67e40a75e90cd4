"""The contact page: identities, caretaker and backup, every conversation, the whole timeline, merge, log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from opiekun.agents.models import Agent
from opiekun.agents.selectors import access_agent, agents_of_shop
from opiekun.contacts.models import Contact
from opiekun.contacts.selectors import access_contact, contact_find_by_address
from opiekun.contacts.services import (
    contact_merge,
    contact_set_caretaker,
)
from opiekun.conversations.selectors import contact_conversations, contact_timeline
from opiekun.core.errors import NotFound, ValidationFailed

from ..forms import CaretakerForm, ContactMergeForm, LogContactForm
from .conversation import log_contact, service_error
from .guard import agent_view
from .inbox import filters_from, shell_context
from .present import CHANNEL_ICONS, channel_label, items, note_kind_choices, short_when, sla_of


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    return access_contact(shop_id=request.agent.shop_id, contact_id=contact_id)  # type: ignore[attr-defined]


def _url(contact: Contact) -> str:
    return reverse("desk:contact", kwargs={"contact_id": contact.pk})


def _page(request: HttpRequest, contact: Contact, *, status: int = 200, **extra: Any) -> HttpResponse:
    agent: Agent = request.agent  # type: ignore[attr-defined]
    ctx = shell_context(request, filters_from(request))
    conversations = contact_conversations(shop_id=agent.shop_id, contact_id=contact.pk, limit=200)
    ctx.update(
        {
            "contact": contact,
            "identities": list(contact.identities.order_by("kind", "-is_primary", "id")),
            "conversations": [
                {
                    "c": c,
                    "channel_icon": CHANNEL_ICONS.get(c.inbox.kind if c.inbox else "", "i-chat"),
                    "channel_label": channel_label(c.inbox.kind) if c.inbox else "",
                    "when": short_when(c.last_message_at),
                    "sla": sla_of(c),
                }
                for c in conversations
            ],
            "timeline": items(contact_timeline(shop_id=agent.shop_id, contact_id=contact.pk, limit=300)),
            "agents": agents_of_shop(shop=agent.shop),
            "note_kinds": note_kind_choices(),
            "log_form": extra.pop("log_form", None)
            or LogContactForm(initial={"note_kind": "call", "direction": "in"}),
            "merge_form": extra.pop("merge_form", None) or ContactMergeForm(),
        }
    )
    for item in ctx["nav"]:
        item["active"] = False
    ctx.update(extra)
    return render(request, "desk/contact.html", ctx, status=status)


@require_GET
@agent_view
def contact_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A customer's whole story (reads the contact, identities, conversations and timeline)."""
    contact = _contact(request, contact_id)
    if contact.merged_into_id:
        try:
            survivor = _contact(request, contact.merged_into_id)
            return HttpResponseRedirect(_url(survivor))
        except NotFound:
            pass
    return _page(request, contact)


@require_POST
@agent_view
def caretaker_action(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Name the caretaker and backup (contact_set_caretaker); both must be agents of this shop."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    contact = _contact(request, contact_id)
    form = CaretakerForm(request.POST)
    if not form.is_valid():
        return _page(request, contact, status=422, caretaker_error=_("Pick agents from the list."))
    caretaker = (
        access_agent(shop=agent.shop_id, agent_id=form.cleaned_data["caretaker"])
        if form.cleaned_data["caretaker"]
        else None
    )
    backup = (
        access_agent(shop=agent.shop_id, agent_id=form.cleaned_data["backup"])
        if form.cleaned_data["backup"]
        else None
    )
    try:
        contact_set_caretaker(contact=contact, caretaker=caretaker, backup=backup, actor=agent)
    except ValidationFailed as exc:
        return _page(request, contact, status=422, caretaker_error=service_error(exc))
    messages.success(request, _("Caretaker saved."))
    return HttpResponseRedirect(_url(contact))


@require_POST
@agent_view
def merge_action(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Fold another contact (by id, e-mail or phone) into this one (contact_merge)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    contact = _contact(request, contact_id)
    form = ContactMergeForm(request.POST)
    if not form.is_valid():
        return _page(
            request, contact, status=422, merge_form=form, merge_error=_("Say which contact to merge.")
        )
    value = form.cleaned_data["other"].strip()
    other: Contact | None = None
    if value.lstrip("#").isdigit():
        try:
            other = _contact(request, int(value.lstrip("#")))
        except NotFound:
            other = None
    else:
        other = contact_find_by_address(shop_id=agent.shop_id, value=value)
    if other is None:
        return _page(
            request,
            contact,
            status=422,
            merge_form=form,
            merge_error=_("No contact of this shop matches %(value)s.") % {"value": value},
        )
    try:
        contact_merge(source=other, target=contact, actor=agent)
    except ValidationFailed as exc:
        return _page(request, contact, status=422, merge_form=form, merge_error=service_error(exc))
    messages.success(
        request, _("%(name)s was merged into this contact.") % {"name": other.name or f"#{other.pk}"}
    )
    return HttpResponseRedirect(_url(contact))


@require_POST
@agent_view
def log_action(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Log a call, letter, fax or visit on the customer's timeline (a new case through the note inbox)."""
    contact = _contact(request, contact_id)
    result, form, error = log_contact(request, contact_id=contact.pk, conversation=None)
    if error:
        return _page(request, contact, status=422, log_form=form, log_error=error, log_open=True)
    assert result is not None and result.conversation is not None  # no error means the pipeline stored it
    messages.success(request, _("Contact logged as conversation #%(n)d.") % {"n": result.conversation.number})
    return HttpResponseRedirect(_url(contact))
