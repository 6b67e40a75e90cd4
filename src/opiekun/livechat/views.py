"""HTTP side of the chat: the widget script and its settings, uploads and the offline form (called
cross-origin from the shop's pages), the visitor's file links, the desk's chat actions, the demo page.

The cross-origin endpoints read no cookie of ours (so CSRF has nothing to ride on): a POST carries
the signed chat session in its body, and the Origin must be one of the widget's allowed origins,
which is also the only origin the CORS headers name.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from opiekun.agents.selectors import access_agent, access_team
from opiekun.conversations.attachments import blob_path, check_files
from opiekun.conversations.models import Attachment, ChannelKind
from opiekun.conversations.selectors import access_conversation
from opiekun.core import ratelimit
from opiekun.core.errors import NotFound, RateLimited, ValidationFailed
from opiekun.inboxes.drivers.livechat.driver import ALLOWED_TYPES, origin_allowed
from opiekun.shops.access import access_shop_by_slug
from opiekun.ui.desk.views.guard import agent_view, client_ip

from . import selectors, services, tokens
from .consumers import message_frame
from .demo import demo_identity, demo_widget
from .models import ChatSession

STATIC = Path(__file__).resolve().parent / "static" / "livechat"
LANGS = ("pl", "en", "ru")


# --- the widget script ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _widget_source() -> tuple[bytes, str]:
    body = (STATIC / "widget.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


@require_GET
def widget_script(request: HttpRequest) -> HttpResponse:
    """The one file a shop embeds (JS with its CSS inside); cacheable by anyone, loadable from anywhere."""
    if settings.DEBUG:
        _widget_source.cache_clear()  # editing the widget while `opiekun run` serves it
    body, etag = _widget_source()
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    # Short max-age at a stable URL: a new release reaches every shop's pages within minutes.
    response["Cache-Control"] = "public, max-age=600, stale-while-revalidate=86400"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- cross-origin endpoints of one widget -----------------------------------------------------------


def _widget_or_404(key: str) -> selectors.Widget:
    try:
        return selectors.access_widget(key)
    except NotFound:
        raise Http404() from None


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _origin(request: HttpRequest, widget: selectors.Widget) -> str | None:
    origin = request.headers.get("Origin", "")
    return origin if origin_allowed(origin, widget.config) else None


def _error(origin: str, code: str, message: str, status: int, **extra: Any) -> HttpResponse:
    return _cors(
        JsonResponse({"ok": False, "code": code, "message": message, **extra}, status=status), origin
    )


def _language(request: HttpRequest, value: str | None) -> str:
    value = (value or "").lower()[:2]
    return value if value in LANGS else "en"


def _texts(widget: selectors.Widget, language: str) -> dict[str, str]:
    config = widget.config
    with translation.override(language):
        title = config.title.get(language) or config.title.get("en") or widget.inbox.shop.name
        greeting = (
            config.greeting.get(language) or config.greeting.get("en") or _("Hi! How can we help you today?")
        )
    return {"title": title, "greeting": greeting}


@never_cache
@require_GET
def widget_config(request: HttpRequest, key: str) -> HttpResponse:
    """What the widget shows before it connects: colours, texts, pre-chat form, online or not."""
    try:
        widget = selectors.access_widget(key)
    except NotFound:
        gone = JsonResponse({"ok": False, "code": "unknown_widget"}, status=404)
        gone["Access-Control-Allow-Origin"] = "*"  # readable, so an outdated snippet stands down
        return gone
    # Browsers leave Origin out of same-origin GETs (the demo page, a shop served by Opiekun itself);
    # a cross-origin fetch always carries one, and then it must be on the widget's list.
    origin = _origin(request, widget) if "Origin" in request.headers else ""
    if origin is None:
        # Readable by the refused page (it reveals nothing), so the widget there can stand down.
        refused = JsonResponse({"ok": False, "code": "forbidden_origin"}, status=403)
        refused["Access-Control-Allow-Origin"] = "*"
        return refused
    language = _language(request, request.GET.get("lang"))
    config = widget.config
    body = {
        "ok": True,
        "online": selectors.widget_online(widget=widget),
        "colour": config.colour,
        "position": config.position,
        "prechat": {
            "enabled": config.prechat_enabled,
            "fields": list(config.prechat_fields),
            "required": [f for f in config.prechat_required if f in config.prechat_fields],
        },
        "max_text": services.MAX_TEXT,
        "max_file_mb": services.MAX_UPLOAD_BYTES // (1024 * 1024),
        "file_types": list(ALLOWED_TYPES),
        **_texts(widget, language),
    }
    response = JsonResponse(body)
    return _cors(response, origin) if origin else response


def _session_from_post(request: HttpRequest, widget: selectors.Widget) -> ChatSession | None:
    key = tokens.session_key_from(request.POST.get("session"), inbox_id=widget.inbox.pk)
    if key is None:
        return None
    try:
        return selectors.access_session(widget=widget, key=key)
    except NotFound:
        return None


@csrf_exempt  # cross-origin and cookie-less: the signed session and the Origin check stand in
@require_POST
def upload(request: HttpRequest, key: str) -> HttpResponse:
    """A file the visitor attached: checked (sniffed, size-limited, jpg/png/pdf) before anything is
    stored, then a chat message like any other (de-duplicated by its client id)."""
    widget = _widget_or_404(key)
    origin = _origin(request, widget)
    if origin is None:
        return JsonResponse({"ok": False, "code": "forbidden_origin"}, status=403)
    session = _session_from_post(request, widget)
    if session is None:
        return _error(origin, "bad_session", _("Your chat has expired. Please reload the page."), 401)
    with translation.override(_language(request, session.language)):
        files = request.FILES.getlist("file")
        if len(files) != 1:
            return _error(origin, "invalid", _("Attach one file at a time."), 400)
        upload = files[0]
        if upload.size and upload.size > services.MAX_UPLOAD_BYTES:
            return _error(
                origin,
                "too_large",
                _("The file is too large; the limit is %(mb)d MB.")
                % {"mb": services.MAX_UPLOAD_BYTES // 2**20},
                413,
            )
        try:
            ratelimit.hit(
                f"livechat:upload:{session.key}",
                limit=services.UPLOAD_LIMIT[0],
                window=services.UPLOAD_LIMIT[1],
            )
            checked = check_files(
                [(upload.name or "attachment", upload.read())],
                allowed_types=list(ALLOWED_TYPES),
                max_bytes=services.MAX_UPLOAD_BYTES,
                max_files=1,
            )
            stored = services.chat_message_store(
                session=session,
                widget=widget,
                client_id=request.POST.get("client_id", ""),
                text=request.POST.get("text", "")[: services.MAX_TEXT],
                files=checked,
            )
        except RateLimited as exc:
            return _error(
                origin,
                "rate_limited",
                _("Too many files at once. Please wait a moment."),
                429,
                retry_after=exc.retry_after,
            )
        except ValidationFailed as exc:
            return _error(origin, "invalid", exc.message, 400)
    return _cors(
        JsonResponse(
            {"ok": True, "duplicate": stored.duplicate, "message": message_frame(stored.message, session)}
        ),
        origin,
    )


@csrf_exempt  # cross-origin and cookie-less; the Origin check and a per-IP limit guard it
@require_POST
def offline_message(request: HttpRequest, key: str) -> HttpResponse:
    """ "Leave a message" while the chat is offline: becomes an e-mail case, acknowledged by e-mail."""
    widget = _widget_or_404(key)
    origin = _origin(request, widget)
    if origin is None:
        return JsonResponse({"ok": False, "code": "forbidden_origin"}, status=403)
    language = _language(request, request.POST.get("lang"))
    if request.POST.get("website"):  # the honeypot a person never sees
        return _cors(JsonResponse({"ok": True}), origin)
    with translation.override(language):
        try:
            conversation = services.chat_offline_message(
                widget=widget,
                name=request.POST.get("name", ""),
                email=request.POST.get("email", ""),
                text=request.POST.get("message", ""),
                page_url=request.POST.get("page", ""),
                language=language,
                ip=client_ip(request) or "",
            )
        except RateLimited as exc:
            return _error(
                origin,
                "rate_limited",
                _("Too many messages. Please try again later."),
                429,
                retry_after=exc.retry_after,
            )
        except ValidationFailed as exc:
            return _error(origin, "invalid", exc.message, 400, field=exc.field)
    return _cors(JsonResponse({"ok": True, "number": conversation.number}), origin)


@require_GET
def visitor_file(request: HttpRequest, token: str) -> FileResponse:
    """A file of the visitor's own chat, by a signed link the socket handed out (expires in a day)."""
    found = tokens.file_from(token)
    if found is None:
        raise Http404()
    attachment_id, session_id = found
    session = ChatSession.objects.filter(pk=session_id).first()
    if session is None or session.conversation_id is None:
        raise Http404()
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id, message__conversation_id=session.conversation_id, message__is_internal=False
        )
        .exclude(message__channel=ChannelKind.NOTE)  # logged letters and calls are not the visitor's
        .first()
    )
    if attachment is None or not blob_path(attachment.sha256).exists():
        raise Http404()
    inline = attachment.mime_type in ("image/jpeg", "image/png")
    response = FileResponse(
        blob_path(attachment.sha256).open("rb"),
        content_type=attachment.mime_type,
        as_attachment=not inline,
        filename=attachment.filename,
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- the desk's chat actions ------------------------------------------------------------------------


def _back(number: int) -> HttpResponse:
    return redirect(reverse("desk:conversation", kwargs={"number": number}))


def _desk_result(request: HttpRequest, number: int, error: str = "", notice: str = "") -> HttpResponse:
    from django.contrib import messages

    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("desk:conversation", kwargs={"number": number})
        return response
    return _back(number)


@require_POST
@agent_view
def desk_accept(request: HttpRequest, number: int) -> HttpResponse:
    """Take a ringing chat (chat_accept: refused at the widget's maximum of chats)."""
    agent = request.agent  # type: ignore[attr-defined]
    conversation = access_conversation(agent=agent, number=number)
    widget = selectors.widget_for_inbox(conversation.inbox) if conversation.inbox else None
    try:
        services.chat_accept(conversation=conversation, agent=agent, widget=widget)
    except ValidationFailed as exc:
        return _desk_result(request, number, error=exc.message)
    return _desk_result(request, number, notice=_("The chat is yours."))


@require_POST
@agent_view
def desk_transfer(request: HttpRequest, number: int) -> HttpResponse:
    """Hand the chat to another agent or a team's queue, with a note (chat_transfer)."""
    agent = request.agent  # type: ignore[attr-defined]
    conversation = access_conversation(agent=agent, number=number)
    to = request.POST.get("to", "")
    kind, _sep, ident = to.partition(":")
    try:
        target_agent = access_agent(shop=agent.shop_id, agent_id=int(ident)) if kind == "agent" else None
        target_team = access_team(shop=agent.shop_id, team_id=int(ident)) if kind == "team" else None
        services.chat_transfer(
            conversation=conversation,
            actor=agent,
            agent=target_agent,
            team=target_team,
            note=request.POST.get("note", ""),
            ip=client_ip(request),
        )
    except (ValueError, NotFound):
        return _desk_result(request, number, error=_("Choose an agent or a team."))
    except ValidationFailed as exc:
        return _desk_result(request, number, error=exc.message)
    return _desk_result(request, number, notice=_("The chat was handed over."))


@require_POST
@agent_view
def desk_follow_up(request: HttpRequest, number: int) -> HttpResponse:
    """Turn the chat into a follow-up case owned by the agent (chat_follow_up) and open it."""
    agent = request.agent  # type: ignore[attr-defined]
    conversation = access_conversation(agent=agent, number=number)
    try:
        follow_up = services.chat_follow_up(
            conversation=conversation,
            actor=agent,
            subject=request.POST.get("subject", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationFailed as exc:
        return _desk_result(request, number, error=exc.message)
    return _desk_result(
        request, follow_up.number, notice=_("Follow-up case #%(n)d opened.") % {"n": follow_up.number}
    )


# --- the demo page ----------------------------------------------------------------------------------


@require_GET
def chat_demo(request: HttpRequest) -> HttpResponse:
    """A pretend shop page with the widget on it (`make run` → /chat-demo/). The demo shop only."""
    try:
        shop = access_shop_by_slug("demo")
    except NotFound:
        raise Http404() from None
    if not getattr(settings, "OPIEKUN_CHAT_DEMO", True):
        raise Http404()
    widget = demo_widget(shop, request)
    language = _language(request, request.GET.get("lang") or shop.default_language)
    identity = demo_identity(widget, request.GET.get("as", ""))
    with translation.override(language):  # the pretend shop page speaks its own language (<html lang>)
        return render(
            request,
            "livechat/demo.html",
            {
                "shop": shop,
                "key": widget.config.public_key,
                "language": language,
                "script_url": reverse("livechat:widget"),
                "identity_json": json.dumps(identity) if identity else "",
            },
        )
