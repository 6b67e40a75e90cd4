"""Twilio Programmable Voice: signed status callbacks in, calls and recordings through the REST API.

Signature (X-Twilio-Signature): base64 of HMAC-SHA1, keyed with the account's auth token, over the full
URL Twilio called followed by every POST parameter as name+value, sorted by name.
A dialled leg (an agent's phone or client, with ParentCallSid) answering is what "answered" means: the
parent inbound call is "in-progress" as soon as Twilio itself picks up to run the TwiML.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

from ..callstate import CallEvent
from .http import ProviderError, request

NAME = "twilio"
API = "https://api.twilio.com"


def signature(url: str, params: Mapping[str, list[str]], token: str) -> str:
    data = url + "".join(k + v for k in sorted(params) for v in params[k])
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def form_of(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def delivery_key(form: Mapping[str, list[str]]) -> str:
    """The call sid and what this callback reports (a status, or a recording and its status)."""
    sid = _one(form, "CallSid") or _one(form, "MessageSid") or _one(form, "SmsSid")
    if _one(form, "RecordingSid"):
        return f"{sid}:rec:{_one(form, 'RecordingSid')}:{_one(form, 'RecordingStatus')}"
    return f"{sid}:{_one(form, 'CallStatus')}"


def _at(form: Mapping[str, list[str]], fallback: dt.datetime) -> dt.datetime:
    stamp = _one(form, "Timestamp")
    if stamp:
        try:
            return parsedate_to_datetime(stamp)
        except (TypeError, ValueError):
            pass
    return fallback


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def event_from(form: Mapping[str, list[str]], received_at: dt.datetime) -> CallEvent | None:
    """The CallEvent a status or recording callback reports; None for one that changes nothing."""
    at = _at(form, received_at)
    sid, parent = _one(form, "CallSid"), _one(form, "ParentCallSid")
    status = _one(form, "CallStatus")
    direction = "out" if _one(form, "Direction").startswith("outbound") and not parent else "in"
    common: dict[str, Any] = {"provider": NAME, "at": at, "event_key": delivery_key(form)}
    if _one(form, "RecordingSid"):
        if _one(form, "RecordingStatus") not in ("", "completed"):
            return None
        url = _one(form, "RecordingUrl")
        return CallEvent(
            call_id=parent or sid,
            kind="recording",
            recording_url=url,
            recording_ref=_one(form, "RecordingSid"),
            **common,
        )
    if parent:  # a leg we dialled: its answer is the call's answer
        if status in ("in-progress", "answered"):
            return CallEvent(call_id=parent, kind="answered", extension=_one(form, "To"), **common)
        return None
    caller, callee = _one(form, "From"), _one(form, "To")
    base: dict[str, Any] = {
        "call_id": sid,
        "direction": direction,
        "caller": caller,
        "callee": callee,
        **common,
    }
    duration = _int(_one(form, "CallDuration"))
    match status:
        case "queued" | "initiated" | "ringing":
            return CallEvent(kind="ringing", **base)
        case "in-progress":
            # Inbound: Twilio picked up to run our TwiML (ringing the agents). Click-to-call: the agent
            # picked up and Twilio now dials the customer. Either way the answer that counts is the
            # dialled leg's (ParentCallSid, above).
            return CallEvent(kind="ringing", **base)
        case "completed":
            return CallEvent(
                kind="ended", duration=duration, recording_url=_one(form, "RecordingUrl"), **base
            )
        case "busy" | "no-answer" | "failed":
            return CallEvent(kind="missed", duration=duration, **base)
        case "canceled":
            return CallEvent(kind="abandoned", duration=duration, **base)
    return None


class Client:
    """The REST API with HTTP basic auth (account sid + auth token)."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str = "") -> None:
        self.account_sid = account_sid
        self._auth = (account_sid, auth_token)
        self.base = (api_base or API).rstrip("/")

    def __repr__(self) -> str:
        return f"<twilio.Client {self.account_sid}>"

    def call(self, *, from_: str, agent_phone: str, customer: str, status_callback: str) -> str:
        """Ring the agent's phone, then connect it to the customer; returns the call sid."""
        twiml = (
            f'<Response><Dial callerId="{from_}"><Number statusCallback="{status_callback}" '
            f'statusCallbackEvent="answered completed">{customer}</Number></Dial></Response>'
        )
        answer = request(
            "POST",
            f"{self.base}/2010-04-01/Accounts/{self.account_sid}/Calls.json",
            auth=self._auth,
            data={
                "From": from_,
                "To": agent_phone,
                "Twiml": twiml,
                "StatusCallback": status_callback,
                "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
            },
        )
        sid = answer.json.get("sid") if isinstance(answer.json, dict) else None
        if not sid:
            raise ProviderError("Twilio answered without a call sid", transient=False)
        return str(sid)

    def recording(self, url: str) -> bytes:
        """The recording's audio (MP3) from its RecordingUrl."""
        # Only from Twilio's own API host (or the line's stand-in): the credentials never go elsewhere.
        if not url.startswith(self.base + "/"):
            raise ProviderError("the recording address is not on Twilio's API", transient=False)
        return request("GET", url + ".mp3", auth=self._auth).body
