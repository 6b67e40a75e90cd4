"""Zadarma PBX: call notifications in (correlated by pbx_call_id), click-to-call and recordings out.

Notifications are form POSTs with a `Signature` header: base64 of the *hex* HMAC-SHA1 (PHP's
hash_hmac) of some of the event's fields concatenated, keyed with the API secret — which fields
depends on the event (see SIGNED_FIELDS, as in Zadarma's documentation and its PHP examples).
API calls carry `Authorization: <key>:<sign>`, sign = base64(hex HMAC-SHA1(method path + query +
md5(query))), the query being the parameters sorted by name and URL-encoded.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from ..callstate import CallEvent
from .http import ProviderError, request

NAME = "zadarma"
API = "https://api.zadarma.com"

SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


def _hex_hmac_b64(data: str, secret: str) -> str:
    hexdigest = hmac.new(secret.encode(), data.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(hexdigest.encode()).decode()


def form_of(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: Mapping[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def signature(form: Mapping[str, list[str]], secret: str) -> str:
    fields = SIGNED_FIELDS.get(_one(form, "event"), ())
    return _hex_hmac_b64("".join(_one(form, f) for f in fields), secret)


def delivery_key(form: Mapping[str, list[str]]) -> str:
    event = _one(form, "event")
    key = f"{_one(form, 'pbx_call_id')}:{event}"
    if event == "NOTIFY_RECORD":
        key += ":" + _one(form, "call_id_with_rec")
    elif event in ("NOTIFY_INTERNAL", "NOTIFY_ANSWER"):
        key += ":" + (_one(form, "internal") or _one(form, "destination"))
    return key


def _started(form: Mapping[str, list[str]], tz: str) -> dt.datetime | None:
    try:
        naive = dt.datetime.strptime(_one(form, "call_start"), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=ZoneInfo(tz))


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# NOTIFY_END's disposition of a call nobody answered: "cancel" is the caller hanging up first.
_ABANDONED = {"cancel"}


def event_from(
    form: Mapping[str, list[str]], received_at: dt.datetime, tz: str = "Europe/Warsaw"
) -> CallEvent | None:
    """The CallEvent a PBX notification reports (call_start is the PBX's local time, in `tz`)."""
    event = _one(form, "event")
    call_id = _one(form, "pbx_call_id")
    if not call_id:
        return None
    started = _started(form, tz) or received_at
    common: dict[str, Any] = {"provider": NAME, "call_id": call_id, "event_key": delivery_key(form)}
    match event:
        case "NOTIFY_START" | "NOTIFY_INTERNAL":
            return CallEvent(
                kind="ringing",
                at=started,
                caller=_one(form, "caller_id"),
                callee=_one(form, "called_did"),
                **common,
            )
        case "NOTIFY_ANSWER":
            return CallEvent(
                kind="answered",
                at=received_at,
                caller=_one(form, "caller_id"),
                extension=_one(form, "destination"),
                **common,
            )
        case "NOTIFY_OUT_START":
            return CallEvent(
                kind="ringing",
                at=started,
                direction="out",
                caller=_one(form, "internal") or _one(form, "caller_id"),
                callee=_one(form, "destination"),
                extension=_one(form, "internal"),
                **common,
            )
        case "NOTIFY_END" | "NOTIFY_OUT_END":
            out = event == "NOTIFY_OUT_END"
            disposition = _one(form, "disposition")
            duration = _int(_one(form, "duration")) or 0
            answered = disposition == "answered"
            end = max(received_at, started + dt.timedelta(seconds=duration)) if answered else received_at
            rec = _one(form, "call_id_with_rec") if _one(form, "is_recorded") == "1" else ""
            kind = "ended" if answered or disposition not in _ABANDONED else "abandoned"
            return CallEvent(
                kind=kind,
                at=end,
                direction="out" if out else "in",
                caller=_one(form, "internal") if out else _one(form, "caller_id"),
                callee=_one(form, "destination") if out else _one(form, "called_did"),
                extension=_one(form, "internal")
                if out
                else (_one(form, "last_internal") or _one(form, "internal")),
                duration=duration,
                answered=answered if kind == "ended" else None,
                recording_ref=rec,
                **common,
            )
        case "NOTIFY_RECORD":
            return CallEvent(
                kind="recording", at=received_at, recording_ref=_one(form, "call_id_with_rec"), **common
            )
    return None


class Client:
    """Zadarma's API: `/v1/request/callback/` (click-to-call) and `/v1/pbx/record/request/` (recordings)."""

    def __init__(self, *, key: str, secret: str, api_base: str = "") -> None:
        self.key = key
        self._secret = secret
        self.base = (api_base or API).rstrip("/")

    def __repr__(self) -> str:
        return f"<zadarma.Client {self.key[:4]}…>"

    def authorization(self, method: str, params: Mapping[str, str]) -> str:
        query = urlencode(sorted(params.items()))
        sign = _hex_hmac_b64(method + query + hashlib.md5(query.encode()).hexdigest(), self._secret)  # noqa: S324 — the provider's scheme
        return f"{self.key}:{sign}"

    def _get(self, method: str, params: dict[str, str]) -> dict[str, object]:
        answer = request(
            "GET",
            f"{self.base}{method}",
            params=sorted(params.items()),
            headers={"Authorization": self.authorization(method, params)},
        )
        data = answer.json if isinstance(answer.json, dict) else {}
        if data.get("status") != "success":
            raise ProviderError(
                f"Zadarma refused: {str(data.get('message') or 'no reason given')[:200]}", transient=False
            )
        return data

    def callback(self, *, from_: str, to: str) -> None:
        """Ring `from_` (the agent's extension or phone), then connect it to `to` (the customer)."""
        self._get("/v1/request/callback/", {"from": from_, "to": to})

    def recording(self, *, pbx_call_id: str, call_id: str = "") -> bytes:
        params = {"pbx_call_id": pbx_call_id} if not call_id else {"call_id": call_id}
        data = self._get("/v1/pbx/record/request/", params)
        links = data.get("links") or ([data["link"]] if data.get("link") else [])
        if not isinstance(links, list) or not links:
            raise ProviderError("Zadarma has no recording for this call", transient=False)
        return request("GET", str(links[0])).body
