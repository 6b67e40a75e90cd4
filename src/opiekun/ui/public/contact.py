"""The public contact form: at /contact/<shop>/, embedded in the shop's site, and its confirmation.

A submission goes through the webform driver and the inbound pipeline like every other channel;
the files are bounded while the body is read (uploads.py) and judged by the attachment rules
before anything is stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from opiekun.contacts.models import Contact, Identity
from opiekun.contacts.services import identity_add
from opiekun.core import ratelimit
from opiekun.core.errors import NotFound, RateLimited, ValidationFailed
from opiekun.inboxes import acknowledgments, pipeline
from opiekun.inboxes.drivers.webform.driver import ALLOWED_TYPES, WebformConfig
from opiekun.inboxes.models import Inbox
from opiekun.inboxes.registry import drivers
from opiekun.shops.access import access_shop_by_slug
from opiekun.shops.models import Shop

from . import signed
from .access import contact_by_email, webform_inbox
from .forms import ContactForm
from .presentation import choose_language, language_links, remember_language, shop_theme
from .uploads import LimitedUploadHandler, body_too_large, file_problem, install_upload_limits

# Pipeline error fields → the form field that shows them.
_FIELDS = {
    "message": "message",
    "text": "message",
    "email": "email",
    "files": "attachments",
    "phone": "phone",
}


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR only. Behind a reverse proxy, let the server rewrite it from trusted proxies
    (docs/channels/webform.md); a client-sent X-Forwarded-For is never believed here."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _shop_and_inbox(shop_slug: str) -> tuple[Shop, Inbox]:
    try:
        shop = access_shop_by_slug(shop_slug)
        return shop, webform_inbox(shop=shop)
    except NotFound:
        raise Http404() from None


def _allowed_types(inbox: Inbox) -> list[str]:
    """The inbox may narrow the kinds of files; it can never widen them past jpg/png/pdf."""
    try:
        configured = WebformConfig.model_validate(inbox.config or {}).allowed_types
    except ValueError:
        configured = list(ALLOWED_TYPES)
    return [t for t in ALLOWED_TYPES if t in configured]


@csrf_exempt  # csrf_protect runs in _post, after the upload limits are in place (Django's pattern)
@never_cache
@require_http_methods(["GET", "POST"])
def contact_form(request: HttpRequest, shop_slug: str) -> HttpResponse:
    """The contact form of one shop on its own page. Writes a contact, case and message on a valid post."""
    return _contact(request, shop_slug, embed=False)


@csrf_exempt  # an iframe gets no cookies: a signed form token and the Origin check stand in (signed.py)
@xframe_options_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def contact_embed(request: HttpRequest, shop_slug: str) -> HttpResponse:
    """The same form in a minimal layout for the shop's `<iframe>`; framing allowed here only."""
    return _contact(request, shop_slug, embed=True)


def _contact(request: HttpRequest, shop_slug: str, *, embed: bool) -> HttpResponse:
    shop, inbox = _shop_and_inbox(shop_slug)
    if request.method != "POST":
        language = choose_language(request, request.GET.get("lang"))
        page_url = request.GET.get("page", "") if embed else _outside_referrer(request)
        form = ContactForm(initial={"page_url": page_url})
        response = _render(request, shop, form, embed=embed, language=language)
        return response if embed else remember_language(response, request, language)
    limited: RateLimited | None = None
    try:
        limit, window = settings.OPIEKUN_FORM_RATE_LIMIT
        ratelimit.hit(f"webform:{client_ip(request)}", limit=limit, window=window)
    except RateLimited as exc:
        limited = exc
    if body_too_large(request):
        # Not even read: the text cannot be kept, but nothing of this size could have been accepted.
        language = choose_language(request, request.GET.get("lang"))
        form = ContactForm()
        form.errors["attachments"] = form.error_class([_too_large_message()])
        return _render(request, shop, form, embed=embed, language=language, status=413)
    handler = install_upload_limits(request, skip_all=limited is not None)
    if embed:
        if not signed.origin_allowed(request):
            return HttpResponseForbidden(_("This form may only be sent from the page it was shown on."))
        return _post(request, shop, inbox, handler, limited, embed=True)
    return _post_with_csrf(request, shop, inbox, handler, limited, embed=False)


def _outside_referrer(request: HttpRequest) -> str:
    """The shop page that linked to the form; our own pages (a language switch) are not news."""
    referrer = request.META.get("HTTP_REFERER", "")
    return "" if urlsplit(referrer).netloc == request.get_host() else referrer


def _too_large_message() -> str:
    return _("Your files are too large together: up to %(n)d files of %(mb)d MB each can be attached.") % {
        "n": settings.OPIEKUN_UPLOAD_MAX_FILES,
        "mb": settings.OPIEKUN_UPLOAD_MAX_BYTES // (1024 * 1024),
    }


def _post(
    request: HttpRequest,
    shop: Shop,
    inbox: Inbox,
    handler: LimitedUploadHandler,
    limited: RateLimited | None,
    *,
    embed: bool,
) -> HttpResponse:
    language = choose_language(request, request.POST.get("language"), request.GET.get("lang"))
    form = ContactForm(request.POST, request.FILES)
    if limited is not None:
        response = _render(
            request, shop, form, embed=embed, language=language, status=429, retry_after=limited.retry_after
        )
        response["Retry-After"] = str(limited.retry_after)
        return response
    if form.is_bot:
        # Pretend success so the bot learns nothing; no case is created.
        return _to_done(
            shop, signed.Receipt(number=None, email="", mailed=False), embed=embed, language=language
        )
    if embed and not signed.form_token_valid(request.POST.get("form_token", ""), shop.pk):
        form.is_valid()
        form.add_error(
            None, _("This form was open for a long time. Please check your message and send it again.")
        )
        return _render(request, shop, form, embed=embed, language=language, status=400)
    valid = form.is_valid()
    for problem in handler.problems:
        form.add_error("attachments", problem)
    if not valid and not handler.problems:
        problem = file_problem(request, "attachments", allowed_types=_allowed_types(inbox))  # type: ignore[assignment]
        if problem:
            form.add_error("attachments", problem)
    if not valid or handler.problems:
        return _render(request, shop, form, embed=embed, language=language, status=400)
    data = form.cleaned_data
    payload: dict[str, Any] = {
        "name": data["name"],
        "email": data["email"],
        # Not an identity hint: an unverified phone must never pick the contact (see _keep_phone).
        "phone": "",
        "order_ref": data["order_ref"],
        "message": data["message"],
        "language": language,
        "page_url": data["page_url"],
        "via": "embed" if embed else "form",
        "files": [
            {"filename": f.name, "content": f.read(), "content_type": f.content_type or ""}
            for f in data["attachments"]
        ],
    }
    message = drivers.get("webform").parse_inbound(payload)[0]
    if data["phone"]:
        message = dataclasses.replace(message, meta={**message.meta, "phone": data["phone"]})
    first_time = contact_by_email(shop=shop, email=data["email"]) is None
    try:
        result = pipeline.process(
            inbox=inbox,
            message=message,
            allowed_types=_allowed_types(inbox),
            max_files=settings.OPIEKUN_UPLOAD_MAX_FILES,
        )
    except ValidationFailed as exc:
        form.add_error(_FIELDS.get(exc.field or "", None), exc.message)
        return _render(request, shop, form, embed=embed, language=language, status=400)
    if result.outcome != pipeline.CREATED or result.message is None or result.conversation is None:
        form.add_error(None, _("We could not take your message just now. Please try again in a moment."))
        return _render(request, shop, form, embed=embed, language=language, status=503)
    if data["phone"] and first_time and result.contact is not None:
        _keep_phone(result.contact, data["phone"])
    mailed = acknowledgments.acknowledgment_schedule(message=result.message, to_email=data["email"])
    receipt = signed.Receipt(number=result.conversation.number, email=data["email"], mailed=mailed)
    return _to_done(shop, receipt, embed=embed, language=language)


_post_with_csrf = csrf_protect(_post)


def _keep_phone(contact: Contact, phone: str) -> None:
    """Add the typed phone to the contact this very post created (the caller knows); otherwise it
    stays in the message meta only.

    Why not let the pipeline identify by phone: the form proves nothing about the number. Anyone could
    type a customer's phone with their own e-mail, land in that customer's contact, add their address
    to it, and then ask for a portal link to that address: the customer's cases, taken over. And
    adding a typed phone to an existing contact would make a later call from that number look like
    the customer. So only a brand-new contact gets it, and only when no other contact owns it.
    """
    with contextlib.suppress(ValidationFailed):
        identity_add(contact=contact, kind=Identity.Kind.PHONE, value=phone)


def _to_done(shop: Shop, receipt: signed.Receipt, *, embed: bool, language: str) -> HttpResponse:
    url = reverse("portal:embed_done" if embed else "portal:contact_done", kwargs={"shop_slug": shop.slug})
    return redirect(f"{url}?r={signed.receipt_dumps(receipt, shop.pk)}&lang={language}")


def _render(
    request: HttpRequest,
    shop: Shop,
    form: ContactForm,
    *,
    embed: bool,
    language: str,
    status: int = 200,
    retry_after: int | None = None,
) -> HttpResponse:
    action = reverse(
        "portal:contact_embed" if embed else "portal:contact_form", kwargs={"shop_slug": shop.slug}
    )
    errors = [(name, error) for name, errs in form.errors.items() for error in errs]
    sent_files = bool(form.is_bound and request.FILES) or bool(form.errors.get("attachments"))
    context = {
        "shop": shop,
        "theme": shop_theme(shop),
        "form": form,
        "embed": embed,
        "action": action,
        "language": language,
        "languages": language_links(request, language),
        "layout": "public/embed_base.html" if embed else "public/base.html",
        "form_token": signed.form_token(shop.pk) if embed else "",
        "errors": errors,
        "choose_files_again": (sent_files and bool(errors)) or retry_after is not None,
        "retry_minutes": -(-retry_after // 60) if retry_after else None,
        "max_files": settings.OPIEKUN_UPLOAD_MAX_FILES,
        "max_mb": settings.OPIEKUN_UPLOAD_MAX_BYTES // (1024 * 1024),
        "max_bytes": settings.OPIEKUN_UPLOAD_MAX_BYTES,
        "portal_link_url": reverse("portal:request_link") + f"?shop={shop.slug}",
    }
    return render(request, "public/contact_form.html", context, status=status)


@never_cache
@require_GET
def contact_done(request: HttpRequest, shop_slug: str) -> HttpResponse:
    """The confirmation after a post (PRG): the case number, and where the link went. Reads nothing stored."""
    return _done(request, shop_slug, embed=False)


@xframe_options_exempt
@never_cache
@require_GET
def embed_done(request: HttpRequest, shop_slug: str) -> HttpResponse:
    """The confirmation inside the shop's iframe."""
    return _done(request, shop_slug, embed=True)


def _done(request: HttpRequest, shop_slug: str, *, embed: bool) -> HttpResponse:
    shop, _inbox = _shop_and_inbox(shop_slug)
    language = choose_language(request, request.GET.get("lang"))
    receipt = signed.receipt_loads(request.GET.get("r", ""), shop.pk)
    form_url = reverse(
        "portal:contact_embed" if embed else "portal:contact_form", kwargs={"shop_slug": shop.slug}
    )
    return render(
        request,
        "public/contact_done.html",
        {
            "shop": shop,
            "theme": shop_theme(shop),
            "receipt": receipt,
            "embed": embed,
            "layout": "public/embed_base.html" if embed else "public/base.html",
            "language": language,
            "languages": language_links(request, language),
            "form_url": f"{form_url}?lang={language}",
        },
    )


@require_GET
def embed_script(request: HttpRequest, shop_slug: str) -> HttpResponse:
    """The script a shop pastes into its page: it puts the embedded form where the tag is, auto-height."""
    shop, _inbox = _shop_and_inbox(shop_slug)
    response = render(
        request,
        "public/embed.js",
        {
            "embed_path": reverse("portal:contact_embed", kwargs={"shop_slug": shop.slug}),
            "title": _("Contact %(shop)s") % {"shop": shop.name},
        },
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "public, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
