"""A simulated phone day in Twilio's own callback shapes, for the day test, the bench and the demo.

200 inbound calls on Monday 2 March 2026 from 08:00 (Europe/Warsaw), one every 160 s; every fifth is
not answered (40: missed, abandoned, or voicemail), several of them from numbers that call again, and
two numbers that missed earlier get through later in the day. Every call's status callbacks are signed
as Twilio signs them; some calls' events are sent in reverse order and some are sent twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import format_datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from .providers import twilio

WARSAW = ZoneInfo("Europe/Warsaw")
DAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=WARSAW)
CALLS = 200
SPACING = dt.timedelta(seconds=160)
ACCOUNT = "AC" + "0" * 30
SHOP_NUMBER = "+48221234567"
AGENT_CLIENTS = ("anna", "bartek", "celina")


def unique_number(n: int) -> str:
    return f"+4860{n:07d}"


def answered_number(n: int) -> str:
    return f"+4850{n:07d}"


def missed_number(k: int) -> str:
    """The number of the k-th unanswered call (0..39): 0-3 call three times, 4-7 twice, the rest once."""
    if 24 <= k < 32:
        return unique_number(k - 24)
    if 32 <= k < 36:
        return unique_number(k - 32)
    if k >= 36:
        return unique_number(k - 12)  # 24..27: new numbers
    return unique_number(k)


# Answered calls from numbers that missed earlier: (call index, missed k whose number it is).
LATER_ANSWERED = {62: 10, 171: 0}


@dataclass(frozen=True)
class SimCall:
    index: int
    sid: str
    number: str
    at: dt.datetime
    outcome: str  # answered | missed | abandoned | voicemail
    client: str = ""  # who answered (Twilio client name)
    duration: int = 0


def day_plan() -> list[SimCall]:
    calls = []
    for i in range(CALLS):
        at = DAY + i * SPACING
        sid = f"CA{i:032x}"
        if i % 5 == 0:
            k = i // 5
            outcome = ("missed", "abandoned", "missed", "voicemail")[k % 4]
            calls.append(
                SimCall(i, sid, missed_number(k), at, outcome, duration=0 if outcome != "voicemail" else 20)
            )
        else:
            number = missed_number(LATER_ANSWERED[i]) if i in LATER_ANSWERED else answered_number(i)
            client = AGENT_CLIENTS[i % len(AGENT_CLIENTS)]
            calls.append(SimCall(i, sid, number, at, "answered", client=client, duration=60 + i % 240))
    return calls


def _stamp(at: dt.datetime) -> str:
    return format_datetime(at.astimezone(dt.UTC), usegmt=True)


def call_forms(call: SimCall, recording_base: str = "https://api.twilio.com") -> list[dict[str, str]]:
    """The status callbacks Twilio sends for this call, in the order it sends them."""
    base = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": call.sid,
        "Direction": "inbound",
        "From": call.number,
        "Caller": call.number,
        "To": SHOP_NUMBER,
        "Called": SHOP_NUMBER,
        "CallbackSource": "call-progress-events",
    }
    seq = iter(range(100))

    def event(status: str, at: dt.datetime, **extra: str) -> dict[str, str]:
        return {
            **base,
            "CallStatus": status,
            "Timestamp": _stamp(at),
            "SequenceNumber": str(next(seq)),
            **extra,
        }

    forms = [event("ringing", call.at), event("in-progress", call.at + dt.timedelta(seconds=2))]
    if call.outcome == "answered":
        answered = call.at + dt.timedelta(seconds=12)
        forms.append(
            {
                "AccountSid": ACCOUNT,
                "CallSid": "CL" + call.sid[2:],
                "ParentCallSid": call.sid,
                "Direction": "outbound-dial",
                "From": call.number,
                "To": f"client:{call.client}",
                "CallStatus": "in-progress",
                "Timestamp": _stamp(answered),
                "CallbackSource": "call-progress-events",
            }
        )
        end = answered + dt.timedelta(seconds=call.duration)
        forms.append(event("completed", end, CallDuration=str(call.duration + 12)))
    elif call.outcome == "abandoned":
        forms.append(event("canceled", call.at + dt.timedelta(seconds=40), CallDuration="0"))
    elif call.outcome == "voicemail":
        end = call.at + dt.timedelta(seconds=50)
        forms.append(event("completed", end, CallDuration="50"))
        forms.append(
            {
                "AccountSid": ACCOUNT,
                "CallSid": call.sid,
                "RecordingSid": "RE" + call.sid[2:],
                "RecordingUrl": f"{recording_base}/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{call.sid[2:]}",
                "RecordingStatus": "completed",
                "RecordingDuration": str(call.duration),
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
            }
        )
    else:
        forms.append(event("no-answer", call.at + dt.timedelta(seconds=30), CallDuration="0"))
    return forms


def signed(form: dict[str, str], url: str, token: str) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as Twilio posts them to `url`."""
    body = urlencode(form).encode()
    params = {k: [v] for k, v in form.items()}
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio.signature(url, params, token),
        "User-Agent": "TwilioProxy/1.1",
    }, body


def day_requests(
    url: str, token: str, recording_base: str = "https://api.twilio.com"
) -> list[tuple[dict[str, str], bytes]]:
    """Every request of the day: every third call's events reversed, every tenth request sent twice."""
    out: list[tuple[dict[str, str], bytes]] = []
    for call in day_plan():
        forms = call_forms(call, recording_base)
        if call.index % 3 == 0:
            forms.reverse()
        for form in forms:
            request = signed(form, url, token)
            out.append(request)
            if len(out) % 10 == 0:
                out.append(request)
    return out
