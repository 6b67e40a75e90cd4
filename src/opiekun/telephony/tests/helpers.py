"""Posting provider webhooks the way the providers do (signed with their real schemes)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.test import Client

from opiekun.telephony.models import PhoneLine
from opiekun.telephony.providers import generic, twilio, zadarma
from opiekun.webhooks.processing import process_pending

HOST = "http://testserver"
TWILIO_TOKEN = "twilio-auth-token-1234"
ZADARMA_SECRET = "zadarma-secret-abcd"
GENERIC_SECRET = "generic-secret-xyz"


def url_of(line: PhoneLine, query: str = "") -> str:
    return HOST + line.endpoint.url_path + (f"?{query}" if query else "")


def post_raw(
    line: PhoneLine,
    body: bytes,
    headers: dict[str, str],
    query: str = "",
    content_type: str = "application/x-www-form-urlencoded",
):
    meta = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"
    }
    path = line.endpoint.url_path + (f"?{query}" if query else "")
    return Client().post(path, body, content_type=content_type, **meta)


def post_twilio(
    line: PhoneLine, form: dict[str, str], *, token: str = TWILIO_TOKEN, sign: bool = True, query: str = ""
):
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = twilio.signature(
            url_of(line, query), {k: [v] for k, v in form.items()}, token
        )
    return post_raw(line, urlencode(form).encode(), headers, query)


def post_zadarma(line: PhoneLine, form: dict[str, str], *, secret: str = ZADARMA_SECRET, sign: bool = True):
    headers = {}
    if sign:
        headers["Signature"] = zadarma.signature({k: [v] for k, v in form.items()}, secret)
    return post_raw(line, urlencode(form).encode(), headers)


def post_generic(line: PhoneLine, payload: dict | bytes, *, secret: str = GENERIC_SECRET, sign: bool = True):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {generic.HEADER: generic.signature(body, secret)} if sign else {}
    return post_raw(line, body, headers, content_type="application/json")


def process() -> int:
    return process_pending()
