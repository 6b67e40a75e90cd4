"""The phone in the desk: the Callbacks view (due, overdue, done, mine; log an attempt from the keyboard),
click-to-call from the contact panel, and the one-click "my name and direct number" text after a call.

Reads go through telephony.selectors (shop-scoped, access_* for ids), writes through its services; the
words live in the telephony app's templates and catalogue.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from opiekun.agents.models import Agent
from opiekun.contacts.selectors import access_contact
from opiekun.conversations.selectors import access_conversation
from opiekun.core import clock
from opiekun.core.errors import ValidationFailed
from opiekun.telephony import selectors, services, sms
from opiekun.telephony.models import CallbackAttempt
from opiekun.telephony.timeline import owner_label

from .guard import agent_view
from .inbox import filters_from, shell_context


def _context(request: HttpRequest) -> dict[str, Any]:
    ctx = shell_context(request, filters_from(request))
    for item in ctx["nav"]:
        item["active"] = False
    ctx["callbacks_page"] = True
    return ctx


@require_GET
@agent_view
def callbacks_view(request: HttpRequest) -> HttpResponse:
    """Callbacks due, overdue, done or mine, with their calls and attempts (reads those three)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    view = request.GET.get("view", "")
    now = clock.now()
    counts = selectors.callback_counts(shop_id=agent.shop_id, agent=agent, now=now)
    if view not in selectors.VIEWS:
        view = "overdue" if counts.overdue else "due"
    rows = selectors.callbacks_list(shop_id=agent.shop_id, view=view, agent=agent, now=now)
    ids = [c.pk for c in rows]
    attempts, calls = selectors.attempts_of(callback_ids=ids), selectors.calls_of_callbacks(callback_ids=ids)
    ctx = _context(request)
    ctx.update(
        view=view,
        counts=counts,
        now=now,
        can_call=selectors.can_place_calls(shop_id=agent.shop_id),
        outcomes=CallbackAttempt.Outcome.choices,
        rows=[
            {
                "c": c,
                "overdue": c.is_open and c.due_at <= now,
                "owner_reason": owner_label(c.owner_reason),
                "attempts": attempts.get(c.pk, []),
                "calls": calls.get(c.pk, []),
            }
            for c in rows
        ],
    )
    return render(request, "telephony/callbacks.html", ctx)


@require_POST
@agent_view
def callback_attempt_action(request: HttpRequest, callback_id: int) -> HttpResponse:
    """Log one attempt at a callback (writes CallbackAttempt, maybe closes the callback)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    callback = selectors.access_callback(shop_id=agent.shop_id, callback_id=callback_id)
    try:
        services.callback_attempt_log(
            callback=callback,
            agent=agent,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
            ip=request.META.get("REMOTE_ADDR"),
        )
    except ValidationFailed as exc:
        messages.error(request, str(exc))
    view = request.POST.get("view", "")
    url = reverse("desk:callbacks") + (f"?view={view}" if view in selectors.VIEWS else "")
    return HttpResponseRedirect(url + f"#callback-{callback.pk}")


@require_GET
@agent_view
def callbacks_badge_view(request: HttpRequest) -> HttpResponse:
    agent: Agent = request.agent  # type: ignore[attr-defined]
    counts = selectors.callback_counts(shop_id=agent.shop_id, agent=agent)
    return render(request, "telephony/_badge.html", {"counts": counts})


@require_POST
@agent_view
def call_action(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Click-to-call: the provider rings the agent, then the customer (audited; events bring it back)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    contact = access_contact(shop_id=agent.shop_id, contact_id=contact_id)
    try:
        services.call_place(
            agent=agent,
            contact=contact,
            number=request.POST.get("number", ""),
            ip=request.META.get("REMOTE_ADDR"),
        )
    except ValidationFailed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, sms.calling_notice(agent))
    return HttpResponseRedirect(request.POST.get("next") or reverse("desk:contact", args=[contact.pk]))


@require_POST
@agent_view
def after_call_sms_action(request: HttpRequest, number: int) -> HttpResponse:
    """Queue the text with the agent's name and direct number to the case's customer."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    conversation = access_conversation(agent=agent, number=number)
    try:
        sms.sms_send_after_call(conversation=conversation, agent=agent, ip=request.META.get("REMOTE_ADDR"))
    except ValidationFailed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, sms.sent_notice())
    return HttpResponseRedirect(reverse("desk:conversation", args=[number]))
