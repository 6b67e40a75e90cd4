"""The generic call-event webhook, for any PBX that can POST JSON (docs/channels/voice.md).

POST /hooks/<token>/   X-Opiekun-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>
{"event_id": "...", "call_id": "...", "event": "ringing|answered|ended|missed|abandoned|voicemail|recording",
 "direction": "inbound|outbound", "from": "+48...", "to": "+48...", "extension": "101",
 "at": "2026-03-02T10:15:00+01:00", "duration": 42, "recording_url": "https://..."}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from ..callstate import KINDS, CallEvent

NAME = "generic"
HEADER = "X-Opiekun-Signature"


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse(body: bytes) -> dict[str, Any]:
    """The event object; ValueError with a reason for anything that is not one."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    if not str(payload.get("call_id") or "").strip():
        raise ValueError("call_id is missing")
    if payload.get("event") not in KINDS:
        raise ValueError(f"event must be one of {', '.join(KINDS)}")
    if payload.get("direction", "inbound") not in ("inbound", "outbound"):
        raise ValueError("direction must be inbound or outbound")
    if "at" in payload:
        _at(payload, dt.datetime.now(dt.UTC))
    return payload


def delivery_key(payload: dict[str, Any], body: bytes) -> str:
    if payload.get("event_id"):
        return f"id:{str(payload['event_id'])[:150]}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _at(payload: dict[str, Any], fallback: dt.datetime) -> dt.datetime:
    if not payload.get("at"):
        return fallback
    try:
        at = dt.datetime.fromisoformat(str(payload["at"]).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("at must be an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ValueError("at must carry its UTC offset")
    return at


def event_from(payload: dict[str, Any], received_at: dt.datetime, key: str = "") -> CallEvent:
    duration = payload.get("duration")
    return CallEvent(
        provider=NAME,
        call_id=str(payload["call_id"])[:120],
        kind=payload["event"],
        at=_at(payload, received_at),
        direction="out" if payload.get("direction") == "outbound" else "in",
        caller=str(payload.get("from") or "")[:80],
        callee=str(payload.get("to") or "")[:80],
        extension=str(payload.get("extension") or "")[:80],
        duration=int(duration) if isinstance(duration, int | float) and duration >= 0 else None,
        answered=payload.get("answered") if isinstance(payload.get("answered"), bool) else None,
        recording_url=str(payload.get("recording_url") or "")[:500],
        event_key=key,
    )
