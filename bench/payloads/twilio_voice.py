"""Twilio Voice status callbacks for bench/webhook_intake.py: four per call (ringing, in-progress, the
agent's leg answering, completed) in Twilio's own form fields, unique per `i`, signed as Twilio signs
(base64 HMAC-SHA1 of the URL and the sorted parameters, X-Twilio-Signature, keyed by the auth token)."""

from __future__ import annotations

import datetime as dt
from typing import Any

SOURCE = "twilio-voice"
PER_CALL = 4
TOKEN = "bench-twilio-auth-token"


def prepare(shop: Any) -> Any:
    """A Twilio line of the bench shop (made once) and its webhook endpoint."""
    from opiekun.telephony import services
    from opiekun.telephony.models import PhoneLine

    line = PhoneLine.objects.filter(shop=shop, provider="twilio").select_related("endpoint").first()
    if line is None:
        line = services.line_create(
            shop=shop,
            provider="twilio",
            number="+48221234567",
            credentials={"account_sid": "AC" + "0" * 32, "auth_token": TOKEN},
        )
    return line.endpoint


def make(i: int, secret: str, url: str) -> tuple[str, dict[str, str], bytes]:
    from opiekun.telephony import simulation

    call = simulation.SimCall(
        i // PER_CALL,
        f"CA{i // PER_CALL:032x}",
        f"+4851{i // PER_CALL % 10_000_000:07d}",
        simulation.DAY + dt.timedelta(seconds=i),
        "answered",
        client="anna",
        duration=60 + i % 200,
    )
    form = simulation.call_forms(call)[i % PER_CALL]
    headers, body = simulation.signed(form, url, secret)
    return headers.pop("Content-Type"), headers, body  # a fresh dict per call of make


def check(shop: Any, sent_unique: int) -> dict[str, Any]:
    """Calls assembled by processing: one per four events, each ended (answered)."""
    from opiekun.telephony.models import Call

    calls = Call.objects.filter(shop=shop)
    return {
        "calls_stored": calls.count(),
        "calls_expected": -(-sent_unique // PER_CALL),
        "calls_ended": calls.filter(state="ended").count(),
    }
