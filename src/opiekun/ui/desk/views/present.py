"""Turn domain rows into what the desk templates show: list rows, SLA badges, timeline sentences."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from opiekun.commerce import presentation as commerce_words
from opiekun.conversations.models import ChannelKind, Conversation, Event, Message, Priority, Status
from opiekun.conversations.selectors import Snippet
from opiekun.core import clock
from opiekun.telephony import timeline as phone_words

SLA_SOON = dt.timedelta(hours=1)

# Icon ids in the SVG sprite of desk/base.html.
CHANNEL_ICONS = {
    "email": "i-email",
    "webform": "i-form",
    "livechat": "i-chat",
    "sms": "i-sms",
    "voice": "i-phone",
    "whatsapp": "i-whatsapp",
    "messenger": "i-messenger",
    "telegram": "i-telegram",
    "note": "i-note",
}


def channel_label(kind: str) -> str:
    try:
        return str(ChannelKind(kind).label)
    except ValueError:
        return kind


def short_duration(delta: dt.timedelta) -> str:
    """Compact: '5 min', '3 h', '2 d' (the list has little room)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return _("%(n)d min") % {"n": minutes}
    if minutes < 48 * 60:
        return _("%(n)d h") % {"n": minutes // 60}
    return _("%(n)d d") % {"n": minutes // (24 * 60)}


def short_when(at: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'now', '12 min', '3 h' for today-ish times, a date beyond two days."""
    if at is None:
        return ""
    now = now or clock.now()
    delta = now - at
    if delta < dt.timedelta(minutes=1):
        return _("now")
    if delta < dt.timedelta(hours=24):
        return short_duration(delta)
    local = timezone.localtime(at)
    if local.year == timezone.localtime(now).year:
        return date_format(local, "j M")
    return date_format(local, "j M Y")


@dataclass(frozen=True)
class Sla:
    state: str  # overdue | soon | ok
    label: str
    title: str
    short: str  # the bare duration, for the narrow list


def sla_of(conversation: Conversation, now: dt.datetime | None = None) -> Sla | None:
    """The first-response clock as a badge: overdue, due within the hour, or later; None when not running."""
    due = conversation.sla_due_at
    if due is None or conversation.status not in (Status.NEW, Status.OPEN, Status.PENDING_INTERNAL):
        return None
    now = now or clock.now()
    title = _("First response due %(when)s") % {
        "when": date_format(timezone.localtime(due), "DATETIME_FORMAT")
    }
    if due <= now:
        late = short_duration(max(now - due, dt.timedelta(minutes=1)))
        return Sla("overdue", _("overdue %(d)s") % {"d": late}, title, "\u2212" + late)  # a real minus sign
    if due - now <= SLA_SOON:
        left = short_duration(due - now)
        return Sla("soon", _("due in %(d)s") % {"d": left}, title, left)
    left = short_duration(due - now)
    return Sla("ok", _("due in %(d)s") % {"d": left}, title, left)


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    snippet: str
    snippet_direction: str
    channel: str
    channel_label: str
    channel_icon: str
    sla: Sla | None
    when: str
    assignee_initials: str


def initials(name: str) -> str:
    parts = [p for p in (name or "").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def list_rows(
    conversations: list[Conversation], snippets: dict[int, Snippet], *, now: dt.datetime | None = None
) -> list[Row]:
    """Rows as the list shows them at `now` (default: the clock; a remembered list passes its minute)."""
    now = now or clock.now()
    rows = []
    for c in conversations:
        s = snippets.get(c.pk)
        channel = (s.channel if s and s.channel else "") or (c.inbox.kind if c.inbox_id and c.inbox else "")
        rows.append(
            Row(
                conversation=c,
                snippet=" ".join((s.text if s else "").split())[:140],
                snippet_direction=s.direction if s else "",
                channel=channel,
                channel_label=channel_label(channel),
                channel_icon=CHANNEL_ICONS.get(channel, "i-chat"),
                sla=sla_of(c, now),
                when=short_when(c.last_message_at, now),
                assignee_initials=initials(c.assignee.display_name) if c.assignee_id and c.assignee else "",
            )
        )
    return rows


def note_kind_choices() -> list[tuple[str, str]]:
    # Built per request so the labels follow the active language.
    return [
        ("call", pgettext("logged contact", "Phone call")),
        ("letter", pgettext("logged contact", "Letter")),
        ("fax", pgettext("logged contact", "Fax")),
        ("visit", pgettext("logged contact", "In-person visit")),
        ("other", pgettext("logged contact", "Other contact")),
    ]


def logged_label(message: Message) -> str:
    """'Phone call · incoming' for a logged contact."""
    kinds = dict(note_kind_choices())
    kind = kinds.get((message.meta or {}).get("note_kind", "other"), kinds["other"])
    direction = _("incoming") if message.direction == Message.Direction.INBOUND else _("outgoing")
    return f"{kind} · {direction}"


def _status_label(value: Any) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return str(value)


def _priority_label(value: Any) -> str:
    try:
        return str(Priority(int(value)).label)
    except (ValueError, TypeError):
        return str(value)


def event_text(event: Event) -> str:
    """One translated sentence for a timeline event (its actor is shown apart)."""
    d = event.data or {}
    match event.kind:
        case "conversation_created":
            channel = channel_label(d.get("channel", "")) if d.get("channel") else ""
            text = _("Conversation #%(n)s opened") % {"n": d.get("number", "")}
            if channel:
                text += " · " + channel
            if d.get("routed") == "caretaker" and d.get("assignee"):
                text += " · " + _("routed to the caretaker %(name)s") % {"name": d["assignee"]}
            elif d.get("routed") == "backup" and d.get("assignee"):
                text += " · " + _("routed to the backup %(name)s") % {"name": d["assignee"]}
            elif d.get("routed") == "queue":
                text += " · " + _("waiting in the queue")
            return text
        case "assigned":
            if "team" in d and not d.get("assignee"):
                return _("Moved to the team %(team)s queue") % {"team": d.get("team") or _("no team")}
            if d.get("assignee"):
                text = _("Assigned to %(name)s") % {"name": d["assignee"]}
            else:
                text = _("Unassigned")
            if d.get("team"):
                text += " · " + _("team %(team)s") % {"team": d["team"]}
            return text
        case "status_changed":
            return _("Status: %(old)s → %(new)s") % {
                "old": _status_label(d.get("from")),
                "new": _status_label(d.get("to")),
            }
        case "priority_changed":
            return _("Priority: %(old)s → %(new)s") % {
                "old": _priority_label(d.get("from")),
                "new": _priority_label(d.get("to")),
            }
        case "tags_changed":
            parts = []
            if d.get("added"):
                parts.append(_("tagged %(tags)s") % {"tags": ", ".join(d["added"])})
            if d.get("removed"):
                parts.append(_("untagged %(tags)s") % {"tags": ", ".join(d["removed"])})
            return "; ".join(parts).capitalize() if parts else _("Tags changed")
        case "order_linked":
            if d.get("order_ref"):
                return _("Linked to order %(order)s") % {"order": d["order_ref"]}
            return _("Order link removed")
        case "merged":
            count = int(d.get("messages") or 0)
            return ngettext(
                "Conversation #%(n)s merged in (%(count)d message)",
                "Conversation #%(n)s merged in (%(count)d messages)",
                count,
            ) % {"n": d.get("from_number", ""), "count": count}
        case "merged_into":
            return _("Merged into conversation #%(n)s") % {"n": d.get("into_number", "")}
        case "follow_up_opened":
            return _("Follow-up conversation #%(n)s opened") % {"n": d.get("number", "")}
        case "delivery_failed":
            return _("A reply could not be delivered: %(error)s") % {"error": d.get("error", "")}
        case "delivery_retried":
            return _("A reply that was not delivered is being sent again")
        case "caretaker_set":
            if d.get("reason") == "first_reply" and d.get("caretaker"):
                return _("%(name)s became the caretaker (first reply)") % {"name": d["caretaker"]}
            text = (
                (_("Caretaker: %(name)s") % {"name": d["caretaker"]})
                if d.get("caretaker")
                else _("No caretaker")
            )
            if d.get("backup"):
                text += " · " + _("backup: %(name)s") % {"name": d["backup"]}
            return text
        case "identity_flagged":
            return _("Mail to %(address)s bounced: %(reason)s") % {
                "address": d.get("value", ""),
                "reason": d.get("reason", ""),
            }
        case "contact_merged":
            return _("Contact %(name)s merged into this one") % {
                "name": d.get("from_name") or f"#{d.get('from_contact')}"
            }
    if event.kind.startswith("order."):  # the shop's order events, worded by the commerce app
        worded = commerce_words.event_text(event.kind, d)
        if worded is not None:
            return worded
    if phone_words.handles(event.kind):  # calls, callbacks and text opt-outs, worded by the telephony app
        return phone_words.event_text(event.kind, d)
    return event.kind.replace("_", " ").capitalize()


EVENT_ICONS = {
    "conversation_created": "i-plus",
    "assigned": "i-user",
    "status_changed": "i-check",
    "priority_changed": "i-flag",
    "tags_changed": "i-tag",
    "order_linked": "i-box",
    "merged": "i-merge",
    "merged_into": "i-merge",
    "delivery_failed": "i-alert",
    "delivery_retried": "i-send",
    "caretaker_set": "i-heart",
    "contact_merged": "i-merge",
    "identity_flagged": "i-alert",
}


def event_icon(event: Event) -> str:
    if event.kind.startswith("order."):
        return commerce_words.event_icon(event.kind)
    if phone_words.handles(event.kind):
        return phone_words.icon(event.kind)
    return EVENT_ICONS.get(event.kind, "i-dot")


@dataclass(frozen=True)
class Item:
    """One entry of a thread or a customer timeline, ready for the template."""

    kind: str  # message | event
    at: dt.datetime
    number: int | None
    message: Message | None = None
    event: Event | None = None
    text: str = ""
    icon: str = ""
    logged: str = ""
    channel_label: str = ""
    channel_icon: str = ""
    html_document: str = ""


# The formatted view of an e-mail: the stored HTML (cleaned by nh3 when it arrived) as a document of its
# own for a sandboxed <iframe srcdoc> — no scripts, our own images only (a tracking pixel would tell the
# sender that an agent opened the mail), links in a new tab, inline cid: images pointed at the stored
# attachments.
_FRAME_HEAD = (
    '<!doctype html><html><head><meta charset="utf-8">'
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' data:; "
    "style-src 'unsafe-inline'\">"
    '<base target="_blank"><style>'
    "body{margin:0;padding:2px;font:14px/1.55 -apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2939;"
    "overflow-wrap:anywhere}img{max-width:100%;height:auto}table{border-collapse:collapse;max-width:100%}"
    "td,th{padding:2px 6px;vertical-align:top}blockquote{margin:0 0 0 8px;padding-left:10px;"
    "border-left:3px solid #d0d5dd;color:#667085}a{color:#1570ef}"
    "</style></head><body>"
)
_CID_SRC = re.compile(r'src="cid:([^"]*)"', re.IGNORECASE)


def html_document(message: Message) -> str:
    """The message's HTML as a whole document for the desk's sandboxed frame ('' for text-only mail)."""
    if not message.html:
        return ""
    by_cid = {a.content_id.strip("<>").lower(): a.pk for a in message.attachments.all() if a.content_id}

    def point(match: re.Match[str]) -> str:
        pk = by_cid.get(html_lib.unescape(match.group(1)).strip("<>").lower())
        return f'src="{reverse("desk:attachment", args=[pk])}"' if pk else 'src=""'

    return _FRAME_HEAD + _CID_SRC.sub(point, message.html) + "</body></html>"


def items(entries: list[Any]) -> list[Item]:
    """TimelineEntry rows (from the selectors) → Items with their sentence, icon and channel."""
    out = []
    for e in entries:
        if e.kind == "message" and e.message is not None:
            m = e.message
            logged = logged_label(m) if m.channel == ChannelKind.NOTE and not m.is_internal else ""
            out.append(
                Item(
                    "message",
                    e.at,
                    e.conversation_number,
                    message=m,
                    logged=logged,
                    channel_label=channel_label(m.channel),
                    channel_icon=CHANNEL_ICONS.get(m.channel, "i-chat"),
                    html_document=html_document(m),
                )
            )
        elif e.event is not None:
            out.append(
                Item(
                    "event",
                    e.at,
                    e.conversation_number,
                    event=e.event,
                    text=event_text(e.event),
                    icon=event_icon(e.event),
                )
            )
    return out
