"""How telephony's timeline entries read in the desk (call.*, callback.*, sms.* events)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

KINDS = ("call.", "callback.", "sms.")
ICONS = {
    "call.inbound": "i-phone",
    "call.missed": "i-alert",
    "call.voicemail": "i-phone",
    "call.outbound": "i-phone",
    "callback.opened": "i-clock",
    "callback.attempt": "i-phone",
    "callback.done": "i-check",
    "callback.exhausted": "i-x",
    "callback.escalated": "i-flag",
    "sms.opted_out": "i-sms",
    "sms.opted_in": "i-sms",
}


def handles(kind: str) -> bool:
    return kind.startswith(KINDS)


def icon(kind: str) -> str:
    return ICONS.get(kind, "i-phone")


def _duration(seconds: Any) -> str:
    seconds = int(seconds or 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def outcome_label(outcome: str) -> str:
    return {
        "no_answer": _("no answer"),
        "busy": _("busy"),
        "wrong_number": _("wrong number"),
        "reached": _("reached"),
    }.get(outcome, outcome)


def owner_label(reason: str) -> str:
    return {"caretaker": _("caretaker"), "backup": _("backup"), "queue": _("team queue")}.get(reason, reason)


def event_text(kind: str, d: dict[str, Any]) -> str:
    """One translated sentence for a telephony timeline entry."""
    number = d.get("number", "")
    match kind:
        case "call.inbound":
            text = _("Call from %(number)s, %(duration)s") % {
                "number": number,
                "duration": _duration(d.get("duration")),
            }
            if d.get("agent"):
                text += " · " + _("answered by %(name)s") % {"name": d["agent"]}
            return text
        case "call.missed":
            if d.get("state") == "abandoned":
                return _("Missed call from %(number)s (the caller hung up before anyone answered)") % {
                    "number": number
                }
            return _("Missed call from %(number)s") % {"number": number}
        case "call.voicemail":
            return _("Voicemail from %(number)s") % {"number": number}
        case "call.outbound":
            if d.get("state") == "ended":
                return _("Call to %(number)s, %(duration)s") % {
                    "number": number,
                    "duration": _duration(d.get("duration")),
                }
            return _("Call to %(number)s, not answered") % {"number": number}
        case "callback.opened":
            text = _("Callback due for %(number)s") % {"number": number}
            if d.get("owner"):
                text += " · " + _("%(name)s (%(reason)s)") % {
                    "name": d["owner"],
                    "reason": owner_label(d.get("reason", "")),
                }
            else:
                text += " · " + owner_label("queue")
            return text
        case "callback.attempt":
            return _("Callback attempt %(n)s: %(outcome)s") % {
                "n": d.get("attempt", ""),
                "outcome": outcome_label(d.get("outcome", "")),
            }
        case "callback.done":
            if d.get("reason") == "customer_called":
                return _("Callback done: the customer called again and was answered")
            return _("Callback done: the customer was reached")
        case "callback.exhausted":
            if d.get("reason") == "wrong_number":
                return _("Callback closed: wrong number")
            count = int(d.get("attempts") or 0)
            return ngettext(
                "Callback given up after %(count)d attempt",
                "Callback given up after %(count)d attempts",
                count,
            ) % {"count": count}
        case "callback.escalated":
            if d.get("lead"):
                return _("Callback overdue: escalated to %(name)s") % {"name": d["lead"]}
            return _("Callback overdue")
        case "sms.opted_out":
            return _("%(number)s opted out of text messages") % {"number": number}
        case "sms.opted_in":
            return _("%(number)s accepts text messages again") % {"number": number}
    return kind
