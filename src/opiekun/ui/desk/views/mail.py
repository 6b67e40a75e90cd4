"""Mailboxes for shop admins: each e-mail inbox with its health, a connection test, add/edit, and the
quarantine of received mail that could not be processed (view as text, download, retry).

Only the shop's administrators reach these pages (403 for other agents); every id is read through an
`access_*` selector, so another shop's inbox or mail answers 404. Passwords go to Inbox.secrets and are
never rendered back: the form says "set — leave empty to keep".
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from opiekun.agents.models import Agent
from opiekun.agents.selectors import access_team, teams_of_shop
from opiekun.core import clock
from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.inboxes import fetching, mailstore
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.inboxes.selectors import (
    EMAIL,
    access_inbox,
    access_raw_mail,
    mail_inboxes_health,
    quarantine_count,
    quarantine_list,
    raw_mail_bytes,
    raw_mail_source,
)
from opiekun.inboxes.services import inbox_create, inbox_update

from .guard import agent_view, is_htmx
from .inbox import filters_from, shell_context

PAGE_SIZE = 50
# The IMAP client gives up after its own timeouts; the page stops waiting sooner and says so.
TEST_WAIT_SECONDS = 15.0
SECRET_FIELDS = ("imap_password", "smtp_password")


def admin_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """agent_view, and the agent must be an administrator of the shop (403 otherwise)."""

    @functools.wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.agent.role != Agent.Role.ADMIN:  # type: ignore[attr-defined]
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return agent_view(inner)


def ago(at: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'3 minutes ago' (one unit), 'just now' under a minute, '' for never."""
    if at is None:
        return ""
    now = now or clock.now()
    if now - at < dt.timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(at, now, depth=1)}


def _page_context(request: HttpRequest, section: str) -> dict[str, Any]:
    ctx = shell_context(request, filters_from(request))
    for item in ctx["nav"]:
        item["active"] = False
    ctx["mail_section"] = section
    ctx["mail_page"] = True
    ctx["quarantined_total"] = quarantine_count(shop_id=request.agent.shop_id)  # type: ignore[attr-defined]
    return ctx


# --- the mailboxes --------------------------------------------------------------------------------


def _health_line(h: Any, now: dt.datetime) -> dict[str, Any]:
    """The state dot and the sentence parts of one inbox's health line."""
    inbox: Inbox = h.inbox
    if not inbox.is_active:
        state = "off"
    elif h.error_is_current:
        state = "error"
    elif h.quarantined:
        state = "warn"
    elif h.pulled and inbox.last_fetch_at is None:
        state = "waiting"
    else:
        state = "ok"
    return {
        "state": state,
        "fetched": ago(inbox.last_fetch_at, now),
        "error_when": ago(inbox.last_error_at, now),
        "activity": ago(inbox.last_activity_at, now),
        "received": ago(h.last_received_at, now),
    }


@require_GET
@admin_view
def mailboxes_view(request: HttpRequest) -> HttpResponse:
    """Every e-mail inbox of the shop with its health line (reads inboxes and received-mail counts)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    now = clock.now()
    ctx = _page_context(request, "mailboxes")
    ctx["mailboxes"] = [
        {"h": h, "line": _health_line(h, now)} for h in mail_inboxes_health(shop_id=agent.shop_id, now=now)
    ]
    return render(request, "desk/mail_mailboxes.html", ctx)


SECURITY = [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "-")]


class MailboxForm(forms.Form):
    """The settings of one e-mail inbox as a shop admin types them (the driver validates them again)."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    address = forms.CharField(label=gettext_lazy("Support address"), max_length=320)
    aliases = forms.CharField(label=gettext_lazy("Other addresses delivered here"), required=False)
    display_name = forms.CharField(label=gettext_lazy("Sender name"), max_length=120, required=False)
    team = forms.TypedChoiceField(label=gettext_lazy("Team"), coerce=int, empty_value=None, required=False)
    send_acknowledgment = forms.BooleanField(required=False)
    is_active = forms.BooleanField(required=False)
    max_message_mb = forms.IntegerField(
        label=gettext_lazy("Largest attachment (MB)"), min_value=1, max_value=200
    )
    arrival = forms.ChoiceField(choices=[("imap", "imap"), ("intake", "intake")], required=False)
    imap_host = forms.CharField(max_length=253, required=False)
    imap_port = forms.IntegerField(min_value=1, max_value=65535, required=False)
    imap_security = forms.ChoiceField(choices=SECURITY, required=False)
    imap_username = forms.CharField(max_length=320, required=False)
    imap_password = forms.CharField(max_length=500, required=False, strip=False)
    imap_folder = forms.CharField(max_length=200, required=False)
    imap_after = forms.ChoiceField(choices=[("seen", "seen"), ("move", "move")], required=False)
    imap_history = forms.ChoiceField(choices=[("unread", "unread"), ("all", "all")], required=False)
    imap_move_to = forms.CharField(max_length=200, required=False)
    smtp_host = forms.CharField(max_length=253, required=False)
    smtp_port = forms.IntegerField(min_value=1, max_value=65535, required=False)
    smtp_security = forms.ChoiceField(choices=SECURITY, required=False)
    smtp_username = forms.CharField(max_length=320, required=False)
    smtp_password = forms.CharField(max_length=500, required=False, strip=False)

    def __init__(self, *args: Any, teams: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]  # type: ignore[attr-defined]

    def clean_address(self) -> str:
        value = self.cleaned_data["address"].strip().lower()
        local, at, domain = value.partition("@")
        if not at or not local or "." not in domain or any(c in value for c in " \r\n<>,"):
            raise forms.ValidationError(_("Enter the mailbox's e-mail address, e.g. support@shop.pl."))
        return value

    def clean_aliases(self) -> list[str]:
        raw = self.cleaned_data.get("aliases") or ""
        aliases = [a.strip().lower() for a in raw.replace(",", "\n").split() if a.strip()]
        for alias in aliases:
            if "@" not in alias or any(c in alias for c in "<>"):
                raise forms.ValidationError(_("%(value)s is not an e-mail address.") % {"value": alias})
        return aliases

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Choices a browser always sends; a hand-made POST without them gets the usual defaults.
        data["arrival"] = data.get("arrival") or "imap"
        data["imap_security"] = data.get("imap_security") or "ssl"
        data["smtp_security"] = data.get("smtp_security") or "starttls"
        data["imap_after"] = data.get("imap_after") or "seen"
        data["imap_history"] = data.get("imap_history") or "unread"
        if data.get("arrival") == "imap" and not (data.get("imap_host") or "").strip():
            self.add_error("imap_host", _("Enter the IMAP server, or choose another way mail arrives."))
        return data

    def settings(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(config, secrets) for inbox_create / inbox_update; empty passwords mean "keep the stored one"."""
        d = self.cleaned_data
        config: dict[str, Any] = {
            "address": d["address"],
            "aliases": d["aliases"],
            "display_name": d["display_name"].strip(),
            "send_acknowledgment": bool(d["send_acknowledgment"]),
            "max_message_mb": d["max_message_mb"],
        }
        if d["arrival"] == "imap":
            config.update(
                imap_host=d["imap_host"].strip(),
                imap_port=d["imap_port"] or (993 if d["imap_security"] == "ssl" else 143),
                imap_security=d["imap_security"],
                imap_username=d["imap_username"].strip(),
                imap_folder=d["imap_folder"].strip() or "INBOX",
                imap_after=d["imap_after"],
                imap_history=d["imap_history"],
                imap_move_to=d["imap_move_to"].strip() or "Opiekun",
            )
        else:
            config["imap_host"] = ""
        if d["smtp_host"].strip():
            config.update(
                smtp_host=d["smtp_host"].strip(),
                smtp_port=d["smtp_port"] or (465 if d["smtp_security"] == "ssl" else 587),
                smtp_security=d["smtp_security"],
                smtp_username=d["smtp_username"].strip(),
            )
        secrets = {k: d[k] for k in SECRET_FIELDS if d.get(k)}
        return config, secrets


def _initial(inbox: Inbox | None) -> dict[str, Any]:
    if inbox is None:
        return {
            "arrival": "imap",
            "imap_port": 993,
            "imap_security": "ssl",
            "imap_folder": "INBOX",
            "imap_after": "seen",
            "imap_history": "unread",
            "imap_move_to": "Opiekun",
            "smtp_port": 587,
            "smtp_security": "starttls",
            "send_acknowledgment": True,
            "is_active": True,
            "max_message_mb": 50,
        }
    c = inbox.config if isinstance(inbox.config, dict) else {}
    return {
        "name": inbox.name,
        "address": c.get("address", ""),
        "aliases": ", ".join(c.get("aliases") or []),
        "display_name": c.get("display_name", ""),
        "team": inbox.team_id,
        "send_acknowledgment": c.get("send_acknowledgment", True),
        "is_active": inbox.is_active,
        "max_message_mb": c.get("max_message_mb", 50),
        "arrival": "imap" if c.get("imap_host") else "intake",
        "imap_host": c.get("imap_host", ""),
        "imap_port": c.get("imap_port", 993),
        "imap_security": c.get("imap_security", "ssl"),
        "imap_username": c.get("imap_username", ""),
        "imap_folder": c.get("imap_folder", "INBOX"),
        "imap_after": c.get("imap_after", "seen"),
        "imap_history": c.get("imap_history", "unread"),
        "imap_move_to": c.get("imap_move_to", "Opiekun"),
        "smtp_host": c.get("smtp_host", ""),
        "smtp_port": c.get("smtp_port", 587),
        "smtp_security": c.get("smtp_security", "starttls"),
        "smtp_username": c.get("smtp_username", ""),
    }


_FIELD_MESSAGES = {
    "address": gettext_lazy("Enter the mailbox's e-mail address, e.g. support@shop.pl."),
    "name": gettext_lazy("The shop already has an inbox with this name."),
}


def _service_error(form: MailboxForm, exc: ValidationFailed) -> None:
    """Put a service error next to its field, in the admin's language where the desk knows it."""
    field = (exc.field or "").split(".")[0]
    if field == "name" and "already" not in exc.message:
        message = _("Name the inbox.")
    elif field in _FIELD_MESSAGES:
        message = str(_FIELD_MESSAGES[field])
    else:
        message = exc.message.split(": ", 1)[-1].removeprefix("Value error, ")
    form.add_error(field if field in form.fields else None, message)


def _edit_page(
    request: HttpRequest, form: MailboxForm, inbox: Inbox | None, *, status: int = 200
) -> HttpResponse:
    ctx = _page_context(request, "mailboxes")
    secrets = (inbox.secrets or {}) if inbox is not None else {}
    ctx.update(
        {
            "form": form,
            "inbox": inbox,
            "teams": teams_of_shop(shop=request.agent.shop),  # type: ignore[attr-defined]
            "secret_set": {k: bool(secrets.get(k)) for k in SECRET_FIELDS},
        }
    )
    return render(request, "desk/mail_inbox_form.html", ctx, status=status)


def _save(request: HttpRequest, inbox: Inbox | None) -> HttpResponse:
    agent: Agent = request.agent  # type: ignore[attr-defined]
    teams = teams_of_shop(shop=agent.shop)
    if request.method != "POST":
        return _edit_page(request, MailboxForm(initial=_initial(inbox), teams=teams), inbox)
    form = MailboxForm(request.POST, teams=teams)
    if not form.is_valid():
        return _edit_page(request, form, inbox, status=422)
    team = (
        access_team(shop=agent.shop_id, team_id=form.cleaned_data["team"])
        if form.cleaned_data["team"]
        else None
    )
    config, secrets = form.settings()
    try:
        if inbox is None:
            inbox = inbox_create(
                shop=agent.shop,
                kind=EMAIL,
                name=form.cleaned_data["name"],
                config=config,
                secrets=secrets,
                team=team,
            )
            messages.success(request, _("Mailbox %(name)s added.") % {"name": inbox.name})
        else:
            inbox_update(
                inbox=inbox,
                name=form.cleaned_data["name"],
                config=config,
                secrets=secrets,
                team=team,
                is_active=bool(form.cleaned_data["is_active"]),
            )
            messages.success(request, _("Mailbox %(name)s saved.") % {"name": inbox.name})
    except ValidationFailed as exc:
        _service_error(form, exc)
        return _edit_page(request, form, inbox, status=422)
    return HttpResponseRedirect(reverse("desk:mailboxes") + f"#mailbox-{inbox.pk}")


@require_http_methods(["GET", "POST"])
@admin_view
def mailbox_new_view(request: HttpRequest) -> HttpResponse:
    """Add an e-mail inbox (inbox_create); passwords go to its secrets."""
    return _save(request, None)


@require_http_methods(["GET", "POST"])
@admin_view
def mailbox_edit_view(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """Change an e-mail inbox of this shop (inbox_update); an empty password keeps the stored one."""
    inbox = access_inbox(shop_id=request.agent.shop_id, inbox_id=inbox_id, kind=EMAIL)  # type: ignore[attr-defined]
    return _save(request, inbox)


def _run_test(inbox: Inbox, test: Callable[[Inbox], str | None]) -> str | None:
    """One connection test in a thread: the page answers within TEST_WAIT_SECONDS whatever the server does."""
    result: dict[str, str | None] = {}
    language = translation.get_language()

    def work() -> None:
        with translation.override(language):
            try:
                result["problem"] = test(inbox)
            except Exception as exc:  # the test must answer, whatever the client library raises
                result["problem"] = _("The test failed: %(error)s") % {"error": exc.__class__.__name__}

    thread = threading.Thread(target=work, name=f"mail-test-{inbox.pk}", daemon=True)
    thread.start()
    thread.join(TEST_WAIT_SECONDS)
    if "problem" not in result:
        return _("The server did not answer within %(n)d seconds.") % {"n": int(TEST_WAIT_SECONDS)}
    return result["problem"]


@dataclass(frozen=True)
class ConnectionCheck:
    part: str  # "receiving" (IMAP) | "sending" (SMTP)
    problem: str | None


def _connection_checks(inbox: Inbox) -> list[ConnectionCheck]:
    """The mailbox's own servers, each logged in to: IMAP for receiving, SMTP for sending (none sent)."""
    config = inbox.config or {}
    checks = []
    if config.get("imap_host"):
        checks.append(ConnectionCheck("receiving", _run_test(inbox, fetching.test_inbox)))
    if config.get("smtp_host"):
        checks.append(ConnectionCheck("sending", _run_test(inbox, fetching.test_sending)))
    return checks


@require_POST
@admin_view
def mailbox_test_action(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """Log in to the inbox's IMAP server (folder opened read-only) and its SMTP server (nothing sent)."""
    inbox = access_inbox(shop_id=request.agent.shop_id, inbox_id=inbox_id, kind=EMAIL)  # type: ignore[attr-defined]
    checks = _connection_checks(inbox)
    nothing = _(
        "This mailbox has no servers of its own to test: mail arrives through the SMTP intake or imports "
        "and replies go out through the installation's outgoing mail."
    )
    if is_htmx(request):
        return render(
            request,
            "desk/_mail_test_result.html",
            {"inbox": inbox, "checks": checks, "nothing": "" if checks else nothing, "tested": True},
        )
    problems = [check.problem for check in checks if check.problem]
    if problems or not checks:
        for problem in problems or [nothing]:
            messages.error(request, _("%(name)s: %(problem)s") % {"name": inbox.name, "problem": problem})
    else:
        messages.success(request, _("%(name)s: the connection works.") % {"name": inbox.name})
    return HttpResponseRedirect(reverse("desk:mailboxes") + f"#mailbox-{inbox.pk}")


@require_GET
@agent_view
def mail_badge_view(request: HttpRequest) -> HttpResponse:
    """The quarantine count next to "Mailboxes" in the navigation (admins; empty for others)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    count = quarantine_count(shop_id=agent.shop_id) if agent.role == Agent.Role.ADMIN else 0
    return render(request, "desk/_mail_badge.html", {"count": count})


# --- the quarantine -------------------------------------------------------------------------------


@require_GET
@admin_view
def quarantine_view(request: HttpRequest) -> HttpResponse:
    """The shop's quarantined mail, newest first, 50 a page (reads RawMail rows only, not their bytes)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    inbox_id = None
    raw_inbox = request.GET.get("inbox", "")
    if raw_inbox.isdigit():
        inbox_id = access_inbox(shop_id=agent.shop_id, inbox_id=int(raw_inbox), kind=EMAIL).pk
    rows = quarantine_list(
        shop_id=agent.shop_id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, inbox_id=inbox_id
    )
    now = clock.now()
    ctx = _page_context(request, "quarantine")
    ctx.update(
        {
            "rows": [{"r": r, "when": ago(r.received_at, now)} for r in rows[:PAGE_SIZE]],
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
            "inbox_id": inbox_id,
        }
    )
    return render(request, "desk/mail_quarantine.html", ctx)


def _outcome_text(row: RawMail) -> str:
    """What became of a mail, in a sentence (shown after a retry and on the detail page)."""
    number = row.conversation.number if row.conversation is not None else None
    if row.state == RawMail.State.QUARANTINED:
        return _("Still in quarantine: %(reason)s") % {"reason": row.error or _("no reason recorded")}
    if row.state == RawMail.State.RECEIVED:
        return _("Stored and waiting to be processed.")
    texts = {
        "created": _("Processed: it opened conversation #%(n)s."),
        "appended": _("Processed: it was added to conversation #%(n)s."),
        "duplicate": _("Already stored earlier (a duplicate) in conversation #%(n)s."),
        "auto_reply": _("Processed: an automatic reply, kept on conversation #%(n)s."),
        "bounce": _("Processed: a delivery failure report."),
        "rejected": _("Processed but not stored: %(reason)s"),
    }
    text = texts.get(row.outcome, _("Processed."))
    if "%(n)s" in text and number is None:
        return _("Processed.")
    return text % {"n": number, "reason": row.error or "—"}


def _raw(request: HttpRequest, raw_id: int) -> RawMail:
    return access_raw_mail(shop_id=request.agent.shop_id, raw_id=raw_id)  # type: ignore[attr-defined]


@require_GET
@admin_view
def raw_mail_view(request: HttpRequest, raw_id: int) -> HttpResponse:
    """One received mail: why it is where it is, its key headers and its first 200 lines as plain text."""
    row = _raw(request, raw_id)
    ctx = _page_context(request, "quarantine")
    ctx.update(
        {
            "row": row,
            "source": raw_mail_source(row),
            "outcome": _outcome_text(row),
            "retried": request.GET.get("retried") == "1",
            "when": ago(row.received_at),
        }
    )
    return render(request, "desk/mail_raw.html", ctx)


@require_GET
@admin_view
def raw_mail_download(request: HttpRequest, raw_id: int) -> HttpResponse:
    """The mail exactly as received, as an .eml download (never shown inline by the browser)."""
    row = _raw(request, raw_id)
    raw = raw_mail_bytes(row)
    if raw is None:
        raise Http404()
    response = HttpResponse(raw, content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="mail-{row.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    # No CSP "sandbox" here: Chromium cancels downloads whose response is sandboxed.
    response["Content-Security-Policy"] = "default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@admin_view
def raw_mail_retry(request: HttpRequest, raw_id: int) -> HttpResponse:
    """Run a quarantined mail through the pipeline again (mail_retry) and show what became of it."""
    row = _raw(request, raw_id)
    try:
        mailstore.mail_retry(shop_id=row.shop_id, raw_id=row.pk)
    except ValidationFailed:
        messages.error(request, _("Only a mail in quarantine can be retried."))
    except NotFound:
        raise Http404() from None
    return HttpResponseRedirect(reverse("desk:raw_mail", kwargs={"raw_id": row.pk}) + "?retried=1")
