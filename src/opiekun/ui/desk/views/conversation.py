"""One conversation: the pane (thread, composer, case details, customer panel) and every action on it.

Actions are POSTs with CSRF. With htmx they answer the refreshed thread fragment (the header and the
side panel ride along out of band) and trigger `desk:changed` so the list refreshes; without JS they
redirect back to the conversation. Service errors (ValidationFailed) come back next to the form (422)
and the typed text is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from opiekun.agents.models import Agent
from opiekun.agents.selectors import access_agent, access_team, agents_of_shop, teams_of_shop
from opiekun.contacts.models import Identity
from opiekun.conversations import services
from opiekun.conversations.attachments import CheckedFile, check_files
from opiekun.conversations.macros import macro_render
from opiekun.conversations.models import Conversation, Priority, Status
from opiekun.conversations.selectors import (
    access_conversation,
    access_macro,
    contact_conversations,
    contact_timeline,
    conversation_thread,
    macros_of_shop,
)
from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.inboxes import pipeline
from opiekun.inboxes.registry import drivers
from opiekun.inboxes.services import inbox_for_kind

from ..forms import (
    AssignForm,
    ComposeForm,
    LogContactForm,
    MergeForm,
    OrderForm,
    PriorityForm,
    StatusForm,
    TagsForm,
)
from .guard import agent_view, client_ip, is_htmx
from .inbox import filters_from, filters_from_qs, list_context, shell_context
from .present import CHANNEL_ICONS, channel_label, items, note_kind_choices, short_when, sla_of


def service_error(exc: ValidationFailed) -> str:
    """The service's message in the agent's language when the desk catalogue knows it."""
    return _(exc.message)


def uploaded_files(request: HttpRequest, field: str = "files") -> list[CheckedFile]:
    """Sniff and size-check every uploaded file before anything is stored (ValidationFailed otherwise)."""
    limit = settings.OPIEKUN_UPLOAD_MAX_BYTES
    raw = []
    for f in request.FILES.getlist(field):
        if f.size and f.size > limit:
            # Refuse before reading a huge upload into memory; same words as check_files.
            raise ValidationFailed(
                _("%(name)s is too large (%(size).1f MB); the limit is %(limit)d MB per file.")
                % {"name": f.name, "size": f.size / 1e6, "limit": limit // (1024 * 1024)},
                field="files",
            )
        raw.append((f.name or "attachment", f.read()))
    return check_files(raw, allowed_types=None)


def next_statuses(conversation: Conversation) -> list[tuple[str, str]]:
    """The status buttons (verbs): the moves the status machine allows, in a fixed, calm order."""
    allowed = services.TRANSITIONS.get(conversation.status, set())
    reopening = conversation.status in (Status.RESOLVED, Status.CLOSED)
    verbs = [
        (Status.OPEN, _("Reopen") if reopening else _("Mark open")),
        (Status.PENDING_CUSTOMER, _("Wait on customer")),
        (Status.PENDING_INTERNAL, _("Wait internal")),
        (Status.RESOLVED, _("Resolve")),
        (Status.CLOSED, _("Close")),
    ]
    return [(s.value, label) for s, label in verbs if s in allowed]


# --- the pane -------------------------------------------------------------------------------------


def pane_context(request: HttpRequest, conversation: Conversation, **extra: Any) -> dict[str, Any]:
    """Everything the open conversation shows (about a dozen queries, none per message)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    contact = conversation.contact
    identities = list(contact.identities.order_by("kind", "-is_primary", "id"))
    others = [c for c in contact_conversations(shop_id=agent.shop_id, contact_id=contact.pk, limit=20)]
    activity = items(contact_timeline(shop_id=agent.shop_id, contact_id=contact.pk, limit=12))
    list_qs = extra.pop("list_qs", None)
    if list_qs is None:
        list_qs = urlencode(filters_from(request).query())
    compose = extra.pop("compose", None) or ComposeForm(
        initial={"mode": "reply", "status_after": Status.PENDING_CUSTOMER}
    )
    ctx: dict[str, Any] = {
        "agent": agent,
        "conversation": conversation,
        "contact": contact,
        "identities": identities,
        "email_identities": [i for i in identities if i.kind == Identity.Kind.EMAIL],
        "thread": items(conversation_thread(conversation=conversation)),
        "other_conversations": [
            {
                "c": c,
                "channel_icon": CHANNEL_ICONS.get(c.inbox.kind if c.inbox else "", "i-chat"),
                "channel_label": channel_label(c.inbox.kind) if c.inbox else "",
                "when": short_when(c.last_message_at),
            }
            for c in others
        ],
        "activity": activity,
        "agents": agents_of_shop(shop=agent.shop),
        "teams_all": teams_of_shop(shop=agent.shop),
        "macros": macros_of_shop(shop_id=agent.shop_id),
        "compose": compose,
        "log_form": extra.pop("log_form", None)
        or LogContactForm(initial={"note_kind": "call", "direction": "in"}),
        "note_kinds": note_kind_choices(),
        "status_choices": Status.choices,
        "priority_choices": Priority.choices,
        "next_statuses": next_statuses(conversation),
        "sla": sla_of(conversation),
        "list_qs": list_qs,
        "channel_label": channel_label(conversation.inbox.kind) if conversation.inbox else "",
        "channel_icon": CHANNEL_ICONS.get(conversation.inbox.kind if conversation.inbox else "", "i-chat"),
        "merged_into_number": None,
    }
    if conversation.merged_into_id:
        try:
            target = access_conversation(agent=agent, conversation_id=conversation.merged_into_id)
            ctx["merged_into_number"] = target.number
        except NotFound:
            pass
    ctx.update(extra)
    return ctx


def _conversation(request: HttpRequest, number: int) -> Conversation:
    return access_conversation(agent=request.agent, number=number)  # type: ignore[attr-defined]


@require_GET
@agent_view
def conversation_view(request: HttpRequest, number: int) -> HttpResponse:
    """The open conversation: the pane alone for htmx, else the whole three-pane page."""
    conversation = _conversation(request, number)
    if is_htmx(request) and request.headers.get("HX-Target") == "pane":
        return render(request, "desk/_pane.html", pane_context(request, conversation))
    return _full_page(request, conversation)


def _full_page(
    request: HttpRequest,
    conversation: Conversation,
    *,
    status: int = 200,
    qs: str | None = None,
    **extra: Any,
) -> HttpResponse:
    form = filters_from_qs(qs) if qs is not None else filters_from(request)
    ctx = shell_context(request, form)
    ctx.update(list_context(request, form, open_number=conversation.number, teams=ctx["teams"]))
    ctx.update(pane_context(request, conversation, list_qs=urlencode(form.query()), **extra))
    return render(request, "desk/conversation.html", ctx, status=status)


@require_GET
@agent_view
def thread_view(request: HttpRequest, number: int) -> HttpResponse:
    """The thread fragment (#thread's content) with the header and the side panel out of band."""
    conversation = _conversation(request, number)
    return render(request, "desk/_thread_response.html", pane_context(request, conversation))


# --- actions --------------------------------------------------------------------------------------


def _conversation_url(number: int, qs: str = "") -> str:
    url = reverse("desk:conversation", kwargs={"number": number})
    return f"{url}?{qs}" if qs else url


def _back_qs(request: HttpRequest) -> str:
    """The list filters a form carried in `_qs`, re-validated (never echoed raw)."""
    raw = request.POST.get("_qs") if request.method == "POST" else request.GET.get("_qs")
    return urlencode(filters_from_qs(raw or "").query())


def _answer(
    request: HttpRequest, conversation: Conversation, *, error: str = "", notice: str = "", **extra: Any
) -> HttpResponse:
    """The common answer of a conversation action (fragment for htmx, redirect or page otherwise)."""
    conversation = _conversation(request, conversation.number)  # fresh, after the service wrote
    qs = _back_qs(request)
    if is_htmx(request):
        ctx = pane_context(
            request, conversation, list_qs=qs, action_error=error, action_notice=notice, **extra
        )
        response = render(request, "desk/_thread_response.html", ctx, status=422 if error else 200)
        if not error:
            response["HX-Trigger"] = "desk:changed"
        return response
    if error:
        return _full_page(
            request, conversation, status=422, qs=request.POST.get("_qs", ""), action_error=error, **extra
        )
    if notice:
        messages.success(request, notice)
    return HttpResponseRedirect(_conversation_url(conversation.number, qs))


def conversation_action(
    handler: Callable[[HttpRequest, Conversation], HttpResponse | str | None],
) -> Callable[..., HttpResponse]:
    """POST-only action on the agent's shop's conversation; ValidationFailed → the error next to the form."""

    @require_POST
    @agent_view
    def view(request: HttpRequest, number: int) -> HttpResponse:
        conversation = _conversation(request, number)
        try:
            result = handler(request, conversation)
        except ValidationFailed as exc:
            return _answer(request, conversation, error=service_error(exc))
        if isinstance(result, HttpResponse):
            return result
        return _answer(request, conversation, notice=result or "")

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


def _invalid(form: Any) -> ValidationFailed:
    for field, errors in form.errors.items():
        return ValidationFailed(str(errors[0]), field=field)
    return ValidationFailed(_("Please check the form."))


@require_POST
@agent_view
def compose_view(request: HttpRequest, number: int) -> HttpResponse:
    """Send a public reply (message_send), add an internal note (note_add) or log a contact, with files."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    conversation = _conversation(request, number)
    form = ComposeForm(request.POST)
    error = ""
    mode = "reply"
    log_form: LogContactForm | None = None
    if form.is_valid():
        mode = form.cleaned_data["mode"] or "reply"
        try:
            if mode == "log":
                _result, log_form, error = log_contact(
                    request, contact_id=conversation.contact_id, conversation=conversation
                )
            elif mode == "note":
                services.note_add(
                    conversation=conversation,
                    agent=agent,
                    text=form.cleaned_data["text"],
                    files=uploaded_files(request),
                    ip=client_ip(request),
                )
            else:
                _send_reply(request, conversation, form, uploaded_files(request))
        except ValidationFailed as exc:
            error = service_error(exc)
    else:
        error = str(next(iter(form.errors.values()))[0])
    qs = _back_qs(request)
    if error:
        # Keep what the agent typed; the file input cannot be refilled by the server (browsers forbid it).
        extra = {"compose": form, "compose_error": error, **({"log_form": log_form} if log_form else {})}
        if is_htmx(request):
            ctx = pane_context(request, conversation, list_qs=qs, **extra)
            response = render(request, "desk/_composer.html", ctx, status=422)
            response["HX-Retarget"] = "#composer"
            response["HX-Reswap"] = "innerHTML"
            return response
        return _full_page(request, conversation, status=422, qs=request.POST.get("_qs", ""), **extra)
    notice = {"note": _("Note added."), "log": _("Contact logged.")}.get(mode, _("Reply queued for sending."))
    if is_htmx(request):
        conversation = _conversation(request, number)
        fresh = ComposeForm(
            initial={
                "mode": "reply" if mode == "log" else mode,
                "status_after": form.cleaned_data.get("status_after") or Status.PENDING_CUSTOMER,
            }
        )
        ctx = pane_context(request, conversation, list_qs=qs, compose=fresh)
        response = render(request, "desk/_thread_response.html", {**ctx, "with_composer": True})
        response["HX-Trigger"] = "desk:changed"
        return response
    messages.success(request, notice)
    return HttpResponseRedirect(_conversation_url(number, qs))


# The statuses the composer's "and …" select offers; a macro may ask for another one after sending.
_AFTER_SEND = (Status.PENDING_CUSTOMER, Status.OPEN, Status.RESOLVED)


def _send_reply(
    request: HttpRequest, conversation: Conversation, form: ComposeForm, files: list[CheckedFile]
) -> None:
    """message_send, then the picked macro's extra status and tags."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    status_after = form.cleaned_data.get("status_after") or Status.PENDING_CUSTOMER
    macro = None
    if form.cleaned_data.get("macro"):
        try:
            macro = access_macro(shop_id=agent.shop_id, macro_id=form.cleaned_data["macro"])
        except NotFound:
            macro = None
    services.message_send(
        conversation=conversation,
        agent=agent,
        text=form.cleaned_data["text"],
        files=files,
        status_after=status_after,
        ip=client_ip(request),
    )
    if macro is None:
        return
    if macro.set_status and macro.set_status in Status.values and macro.set_status not in _AFTER_SEND:
        fresh = _conversation(request, conversation.number)
        if macro.set_status in services.TRANSITIONS.get(fresh.status, set()):
            services.conversation_set_status(
                conversation=fresh, status=macro.set_status, actor=agent, ip=client_ip(request)
            )
    if macro.add_tags:
        services.conversation_tag(
            conversation=_conversation(request, conversation.number),
            add=macro.add_tags.split(","),
            actor=agent,
        )


@conversation_action
def status_action(request: HttpRequest, conversation: Conversation) -> str:
    """Move the case along the status machine (conversation_set_status)."""
    form = StatusForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    wanted = form.cleaned_data["status"]
    if wanted != conversation.status and wanted not in services.TRANSITIONS.get(conversation.status, set()):
        # Said here rather than by the service so the agent reads it in their language.
        raise ValidationFailed(
            _("A conversation that is “%(old)s” cannot become “%(new)s”.")
            % {"old": conversation.get_status_display(), "new": Status(wanted).label},
            field="status",
        )
    services.conversation_set_status(
        conversation=conversation,
        status=form.cleaned_data["status"],
        actor=request.agent,  # type: ignore[attr-defined]
        ip=client_ip(request),
    )  # type: ignore[attr-defined]
    return _("Status changed to %(status)s.") % {"status": Status(form.cleaned_data["status"]).label}


@conversation_action
def assign_action(request: HttpRequest, conversation: Conversation) -> str:
    """Assign to me / an agent / a team's queue, or unassign (conversation_assign)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    form = AssignForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    to = form.cleaned_data["to"]
    ip = client_ip(request)
    if to == "me":
        services.conversation_assign(conversation=conversation, agent=agent, actor=agent, ip=ip)
        return _("Assigned to you.")
    if to == "none":
        services.conversation_assign(conversation=conversation, agent=None, actor=agent, ip=ip)
        return _("Unassigned.")
    kind, _sep, ident = to.partition(":")
    if kind == "agent":
        target = access_agent(shop=agent.shop_id, agent_id=int(ident))
        services.conversation_assign(conversation=conversation, agent=target, actor=agent, ip=ip)
        return _("Assigned to %(name)s.") % {"name": target.display_name}
    team = access_team(shop=agent.shop_id, team_id=int(ident))
    services.conversation_assign(
        conversation=conversation, agent=None, team=team, set_team=True, actor=agent, ip=ip
    )
    return _("Moved to the %(team)s queue.") % {"team": team.name}


@conversation_action
def priority_action(request: HttpRequest, conversation: Conversation) -> str:
    form = PriorityForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    services.conversation_set_priority(
        conversation=conversation,
        priority=form.cleaned_data["priority"],
        actor=request.agent,  # type: ignore[attr-defined]
    )  # type: ignore[attr-defined]
    return _("Priority changed.")


@conversation_action
def tags_action(request: HttpRequest, conversation: Conversation) -> str:
    """Add comma-separated tags and/or remove one (conversation_tag)."""
    form = TagsForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    add = [t for t in form.cleaned_data["add"].split(",") if t.strip()]
    remove = [form.cleaned_data["remove"]] if form.cleaned_data["remove"].strip() else []
    if not add and not remove:
        raise ValidationFailed(_("Type a tag first."), field="add")
    services.conversation_tag(conversation=conversation, add=add, remove=remove, actor=request.agent)  # type: ignore[attr-defined]
    return _("Tags updated.")


@conversation_action
def order_action(request: HttpRequest, conversation: Conversation) -> str:
    form = OrderForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    services.conversation_link_order(
        conversation=conversation,
        order_ref=form.cleaned_data["order_ref"],
        actor=request.agent,  # type: ignore[attr-defined]
    )  # type: ignore[attr-defined]
    return _("Order number saved.")


@conversation_action
def merge_action(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    """Merge this conversation into another one of the shop, by its number (conversation_merge)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    form = MergeForm(request.POST)
    if not form.is_valid():
        raise ValidationFailed(_("Enter the number of the conversation to merge into."), field="number")
    number = int(form.cleaned_data["number"].strip().lstrip("#"))
    try:
        target = access_conversation(agent=agent, number=number)
    except NotFound:
        raise ValidationFailed(
            _("There is no conversation #%(n)d.") % {"n": number}, field="number"
        ) from None
    services.conversation_merge(source=conversation, target=target, actor=agent)
    notice = _("Conversation #%(src)d merged into #%(dst)d.") % {
        "src": conversation.number,
        "dst": target.number,
    }
    messages.success(request, notice)
    url = _conversation_url(target.number, _back_qs(request))
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def log_contact(
    request: HttpRequest, *, contact_id: int, conversation: Conversation | None
) -> tuple[pipeline.Result | None, LogContactForm, str]:
    """Record a call/letter/fax/visit through the note driver and the inbound pipeline."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    form = LogContactForm(request.POST)
    if not form.is_valid():
        return None, form, str(next(iter(form.errors.values()))[0])
    try:
        files = uploaded_files(request)
        payload = {
            "contact_id": contact_id,
            "agent_id": agent.pk,
            "note_kind": form.cleaned_data["note_kind"],
            "direction": form.cleaned_data["direction"],
            "text": form.cleaned_data["text"].strip(),
            "files": [
                {"filename": f.filename, "content": f.content, "content_type": f.mime_type} for f in files
            ],
            "conversation_id": conversation.pk if conversation else None,
        }
        if not payload["text"] and not files:
            raise ValidationFailed(_("Write what was said or attach the scanned document."), field="text")
        (message,) = drivers.get("note").parse_inbound(payload)
        result = pipeline.process(inbox=inbox_for_kind(agent.shop, "note"), message=message)
    except ValidationFailed as exc:
        return None, form, service_error(exc)
    if result.outcome not in (pipeline.CREATED, pipeline.APPENDED):
        return (
            None,
            form,
            _("The contact could not be logged: %(reason)s") % {"reason": result.reason or result.outcome},
        )
    return result, form, ""


@require_POST
@agent_view
def resend_action(request: HttpRequest, number: int, message_id: int) -> HttpResponse:
    """Send a reply that was not delivered once more (message_resend); only this conversation's message."""
    conversation = _conversation(request, number)
    message = conversation.messages.filter(pk=message_id).first()
    if message is None:
        raise Http404()
    try:
        services.message_resend(
            message=message,
            agent=request.agent,  # type: ignore[attr-defined]
            ip=client_ip(request),
        )
    except ValidationFailed as exc:
        return _answer(request, conversation, error=service_error(exc))
    return _answer(request, conversation, notice=_("The reply is being sent again."))


@require_POST
@agent_view
def log_action(request: HttpRequest, number: int) -> HttpResponse:
    """Log a contact (call, letter, fax, visit) on this conversation's thread."""
    conversation = _conversation(request, number)
    _result, form, error = log_contact(request, contact_id=conversation.contact_id, conversation=conversation)
    if error:
        return _answer(request, conversation, error=error, log_form=form, log_open=True)
    return _answer(request, conversation, notice=_("Contact logged."))


@require_GET
@agent_view
def macro_view(request: HttpRequest, number: int) -> HttpResponse:
    """Insert a macro into the reply: the composer's textarea comes back with the rendered text appended."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    conversation = _conversation(request, number)
    text = request.GET.get("text", "")[:100_000]
    macro_id = request.GET.get("macro", "")
    error = ""
    macro = None
    if macro_id.isdigit():
        try:
            macro = access_macro(shop_id=agent.shop_id, macro_id=int(macro_id))
            rendered = macro_render(macro=macro, conversation=conversation, agent=agent)
            text = (text.rstrip() + "\n\n" + rendered) if text.strip() else rendered
        except ValidationFailed as exc:
            error = service_error(exc)
    status_after = macro.set_status if macro and macro.set_status in _AFTER_SEND else Status.PENDING_CUSTOMER
    compose = ComposeForm(
        initial={
            "mode": "reply",
            "text": text,
            "macro": macro.pk if macro else None,
            "status_after": status_after,
        }
    )
    if is_htmx(request):
        ctx = pane_context(
            request,
            conversation,
            list_qs=_back_qs(request),
            compose=compose,
            compose_error=error,
            macro_used=macro,
        )
        return render(request, "desk/_composer.html", ctx, status=422 if error else 200)
    return _full_page(
        request,
        conversation,
        qs=request.GET.get("_qs", ""),
        compose=compose,
        compose_error=error,
        macro_used=macro,
    )
