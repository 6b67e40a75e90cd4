"""The customer portal: in by magic link, then the customer's own cases, replies and files.

Access is one contact of one shop, held in the session after a valid link. Every read is scoped to
that pair (access.py); anything else answers 404, exactly like a missing page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from opiekun.contacts.portal import portal_contact_id
from opiekun.conversations.models import ChannelKind, Message
from opiekun.conversations.selectors import access_attachment, conversation_messages
from opiekun.core import clock, ratelimit
from opiekun.core.errors import NotFound, RateLimited, ValidationFailed
from opiekun.inboxes import acknowledgments, pipeline
from opiekun.inboxes.drivers.webform.driver import ALLOWED_TYPES
from opiekun.inboxes.registry import drivers
from opiekun.shops.access import access_shop_by_slug
from opiekun.shops.models import Shop
from opiekun.ui.downloads import attachment_download

from .access import (
    SESSION_CONTACT,
    SESSION_SHOP,
    PortalVisitor,
    access_portal_conversation,
    contact_by_email,
    portal_conversations,
    portal_visitor,
    public_shops,
    surviving_contact,
    webform_inbox,
)
from .contact import client_ip
from .forms import LinkRequestForm, ReplyForm
from .presentation import choose_language, customer_status, language_links, shop_theme
from .uploads import LimitedUploadHandler, file_problem, install_upload_limits

SESSION_LANGUAGE = "portal_language"
_JUST_NOW = dt.timedelta(minutes=1)
REPLY_LIMIT = (20, 600)  # portal replies per contact per window (seconds)
LINK_REQUEST_LIMIT = (5, 600)  # "send me a new link" posts per IP per window


class PortalRequest(HttpRequest):
    visitor: PortalVisitor


def _portal_language(request: HttpRequest) -> str:
    """An explicit ?lang= wins and is remembered for the session; else the customer's own language."""
    chosen = request.GET.get("lang", "")
    language = choose_language(request, chosen, request.session.get(SESSION_LANGUAGE))
    if chosen and language == chosen[:2].lower():
        request.session[SESSION_LANGUAGE] = language
    return language


def portal_login_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        visitor = portal_visitor(request.session)
        if visitor is None:
            return redirect(reverse("portal:request_link") + "?signin=1")
        request.visitor = visitor  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def _base_context(request: HttpRequest, shop: Shop | None, language: str) -> dict[str, Any]:
    return {
        "shop": shop,
        "theme": shop_theme(shop) if shop else None,
        "language": language,
        "languages": language_links(request, language),
        "layout": "public/base.html",
    }


@never_cache
@require_GET
def enter(request: HttpRequest, token: str) -> HttpResponse:
    """Open the portal from a magic link: session holds the contact + shop (key rotated), then redirect."""
    found = portal_contact_id(token)
    contact = surviving_contact(shop_id=found[1], contact_id=found[0]) if found else None
    if contact is None:
        language = choose_language(request, request.GET.get("lang"))
        choices = _shop_choices()
        form = LinkRequestForm(shops=choices, initial={"shop": choices[0][0] if len(choices) == 1 else ""})
        context = {
            **_base_context(request, None, language),
            "form": form,
            "invalid_link": True,
            "single_shop": len(choices) == 1,
        }
        return render(request, "public/portal_link.html", context, status=400)
    request.session.cycle_key()  # a link opened on a shared computer must not reuse an old session id
    request.session[SESSION_CONTACT] = contact.pk
    request.session[SESSION_SHOP] = contact.shop_id
    if contact.language:
        request.session[SESSION_LANGUAGE] = contact.language
    target = request.GET.get("next", "")
    if target.isdigit() and len(target) < 19:
        return redirect("portal:conversation", number=int(target))
    return redirect("portal:home")


@never_cache
@require_GET
@portal_login_required
def home(request: PortalRequest) -> HttpResponse:
    """The visitor's cases: number, subject, status in plain words, last update. One query."""
    visitor = request.visitor
    language = _portal_language(request)
    now = clock.now()
    cases = [
        {
            "conversation": c,
            "status": customer_status(c.status),
            "just_now": now - c.last_message_at < _JUST_NOW,
        }
        for c in portal_conversations(visitor=visitor)
    ]
    context = {
        **_base_context(request, visitor.shop, language),
        "cases": cases,
        "contact": visitor.contact,
        "contact_url": reverse("portal:contact_form", kwargs={"shop_slug": visitor.shop.slug}),
    }
    return render(request, "public/portal_home.html", context)


@csrf_exempt  # csrf_protect runs in _conversation_post, after the upload limits are installed
@never_cache
@require_http_methods(["GET", "POST"])
@portal_login_required
def conversation(request: PortalRequest, number: int) -> HttpResponse:
    """One of the visitor's cases: public messages only, and a reply form (replying reopens it)."""
    visitor = request.visitor
    try:
        case = access_portal_conversation(visitor=visitor, number=number)
    except NotFound:
        raise Http404() from None
    if case.merged_into_id is not None:
        target = case.merged_into
        if target is not None and target.contact_id == visitor.contact.pk:
            return redirect("portal:conversation", number=target.number)
        raise Http404()
    if request.method == "POST":
        limited: RateLimited | None = None
        try:
            ratelimit.hit(f"portal-reply:{visitor.contact.pk}", limit=REPLY_LIMIT[0], window=REPLY_LIMIT[1])
        except RateLimited as exc:
            limited = exc
        handler = install_upload_limits(request, skip_all=limited is not None)
        return _conversation_post(request, case, handler, limited)
    return _conversation_page(request, case, ReplyForm())


def _reply(
    request: PortalRequest, case: Any, handler: LimitedUploadHandler, limited: RateLimited | None
) -> HttpResponse:
    visitor = request.visitor
    form = ReplyForm(request.POST, request.FILES)
    if limited is not None:
        response = _conversation_page(request, case, form, status=429, retry_after=limited.retry_after)
        response["Retry-After"] = str(limited.retry_after)
        return response
    valid = form.is_valid()
    for problem in handler.problems:
        form.add_error("attachments", problem)
    if not valid and not handler.problems:
        problem = file_problem(request, "attachments", allowed_types=list(ALLOWED_TYPES))  # type: ignore[assignment]
        if problem:
            form.add_error("attachments", problem)
    if not valid or handler.problems:
        return _conversation_page(request, case, form, status=400)
    try:
        inbox = webform_inbox(shop=visitor.shop)
    except NotFound:
        form.add_error(None, _("Replies through this page are switched off. Please write to us by e-mail."))
        return _conversation_page(request, case, form, status=503)
    language = choose_language(request, request.session.get(SESSION_LANGUAGE))
    payload = {
        "contact_id": visitor.contact.pk,
        "conversation_id": case.pk,
        "message": form.cleaned_data["message"],
        "language": language,
        "via": "portal",
        "files": [
            {"filename": f.name, "content": f.read(), "content_type": f.content_type or ""}
            for f in form.cleaned_data["attachments"]
        ],
    }
    message = drivers.get("webform").parse_inbound(payload)[0]
    try:
        result = pipeline.process(
            inbox=inbox,
            message=message,
            allowed_types=list(ALLOWED_TYPES),
            max_files=settings.OPIEKUN_UPLOAD_MAX_FILES,
        )
    except ValidationFailed as exc:
        form.add_error("attachments" if exc.field == "files" else "message", exc.message)
        return _conversation_page(request, case, form, status=400)
    if result.message is None or result.conversation is None:
        raise Http404()  # the pipeline refused the case: it is not this visitor's (never seen here)
    return redirect(
        reverse("portal:conversation", kwargs={"number": result.conversation.number})
        + f"#m{result.message.pk}"
    )


_conversation_post = csrf_protect(_reply)


def _conversation_page(
    request: PortalRequest, case: Any, form: ReplyForm, *, status: int = 200, retry_after: int | None = None
) -> HttpResponse:
    visitor = request.visitor
    language = _portal_language(request)
    entries = []
    for message in conversation_messages(conversation=case, include_internal=False):
        if not _customer_visible(message):
            continue
        entries.append(
            {
                "message": message,
                "mine": message.direction == Message.Direction.INBOUND,
                "author": _author(message, visitor),
                "text": message.text if message.text.strip() else strip_tags(message.html),
                "attachments": list(message.attachments.all()),
            }
        )
    errors = [(name, error) for name, errs in form.errors.items() for error in errs]
    context = {
        **_base_context(request, visitor.shop, language),
        "case": case,
        "status": customer_status(case.status),
        "entries": entries,
        "form": form,
        "errors": errors,
        "contact": visitor.contact,
        "retry_minutes": -(-retry_after // 60) if retry_after else None,
        "choose_files_again": bool(form.is_bound and errors),
        "max_files": settings.OPIEKUN_UPLOAD_MAX_FILES,
        "max_mb": settings.OPIEKUN_UPLOAD_MAX_BYTES // (1024 * 1024),
        "max_bytes": settings.OPIEKUN_UPLOAD_MAX_BYTES,
    }
    return render(request, "public/portal_conversation.html", context, status=status)


def _customer_visible(message: Message) -> bool:
    """Public messages only. A logged contact (channel "note") is the agent's record of a call or a
    letter, written for colleagues: it stays in the desk even when it is not marked internal."""
    return not message.is_internal and message.channel != ChannelKind.NOTE


def _author(message: Message, visitor: PortalVisitor) -> str:
    if message.direction == Message.Direction.INBOUND:
        return _("You")
    if message.author_agent is not None:
        return message.author_agent.display_name
    return visitor.shop.name


@never_cache
@require_GET
@portal_login_required
def attachment(request: PortalRequest, attachment_id: int) -> HttpResponseBase:
    """Download a file of one of the visitor's public messages, never rendered inline."""
    visitor = request.visitor
    try:
        found = access_attachment(
            shop_id=visitor.shop.pk,
            attachment_id=attachment_id,
            contact_id=visitor.contact.pk,
            include_internal=False,
        )
    except NotFound:
        raise Http404() from None
    if found.message is None or not _customer_visible(found.message):
        raise Http404()
    return attachment_download(found)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Forget the portal visitor (an agent signed in in the same browser stays signed in)."""
    for key in (SESSION_CONTACT, SESSION_SHOP, SESSION_LANGUAGE):
        request.session.pop(key, None)
    request.session.cycle_key()
    return redirect(reverse("portal:request_link") + "?bye=1")


def _shop_choices() -> list[tuple[str, str]]:
    return [(shop.slug, shop.name) for shop in public_shops()]


@never_cache
@require_http_methods(["GET", "POST"])
def request_link(request: HttpRequest) -> HttpResponse:
    """Ask for a new magic link. The answer is the same whether or not we know the address."""
    language = choose_language(request, request.GET.get("lang"), request.POST.get("language"))
    choices = _shop_choices()
    visitor = portal_visitor(request.session)
    preselect = (
        request.GET.get("shop")
        or (visitor.shop.slug if visitor else "")
        or (choices[0][0] if len(choices) == 1 else "")
    )
    context = {
        **_base_context(request, visitor.shop if visitor else None, language),
        "single_shop": len(choices) == 1,
        "signin": bool(request.GET.get("signin")),
        "bye": bool(request.GET.get("bye")),
    }
    if request.method != "POST":
        form = LinkRequestForm(shops=choices, initial={"shop": preselect})
        return render(request, "public/portal_link.html", {**context, "form": form})
    form = LinkRequestForm(request.POST, shops=choices)
    try:
        ratelimit.hit(
            f"portal-link-ip:{client_ip(request)}", limit=LINK_REQUEST_LIMIT[0], window=LINK_REQUEST_LIMIT[1]
        )
    except RateLimited as exc:
        response = render(
            request,
            "public/portal_link.html",
            {**context, "form": form, "retry_minutes": -(-exc.retry_after // 60)},
            status=429,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    if not form.is_valid():
        return render(request, "public/portal_link.html", {**context, "form": form}, status=400)
    try:
        shop: Shop | None = access_shop_by_slug(form.cleaned_data["shop"])
    except NotFound:
        shop = None
    contact = contact_by_email(shop=shop, email=form.cleaned_data["email"]) if shop else None
    if contact is not None:
        acknowledgments.portal_link_schedule(contact=contact)
    return render(
        request,
        "public/portal_link.html",
        {
            **context,
            "form": form,
            "sent_to": form.cleaned_data["email"],
            "shop": shop,
            "theme": shop_theme(shop) if shop else None,
        },
    )
