"""The signed identity token a shop passes for its logged-in customer (HMAC-SHA256 with the inbox secret).

Scheme (docs/channels/livechat.md, with PHP and Python examples):

    payload   = email + "|" + name + "|" + expires          (expires: Unix seconds, UTC)
    signature = hex(HMAC-SHA256(key=identity_secret, msg=UTF-8 payload))
    token     = {"email": email, "name": name, "expires": expires, "signature": signature}

Pure functions over the token and the secret: no database, no clock but the one passed in. Anything
that does not verify — no secret configured, a missing field, a wrong signature, an expiry in the
past or too far in the future — answers None, and the chat simply stays anonymous.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

MAX_LIFETIME = 7 * 24 * 3600  # a token valid for longer than a week is a mistake (or a stolen forever-token)
MAX_FIELD = 320


@dataclass(frozen=True)
class VerifiedIdentity:
    email: str
    name: str
    expires: int


def identity_payload(email: str, name: str, expires: int) -> bytes:
    return f"{email}|{name}|{int(expires)}".encode()


def identity_sign(*, secret: str, email: str, name: str, expires: int) -> str:
    """The signature a shop's server computes (used by tests and the docs' examples)."""
    return hmac.new(secret.encode(), identity_payload(email, name, expires), hashlib.sha256).hexdigest()


def identity_verify(token: Any, *, secret: str, now: float) -> VerifiedIdentity | None:
    """The identity a token proves, or None (never raises on bad input)."""
    if not secret or not isinstance(token, dict):
        return None
    email, name, expires, signature = (token.get(k) for k in ("email", "name", "expires", "signature"))
    if not isinstance(email, str) or not isinstance(name, str) or not isinstance(signature, str):
        return None
    if isinstance(expires, bool) or not isinstance(expires, int | str):
        return None
    try:
        expires = int(expires)
    except ValueError:
        return None
    if not email or len(email) > MAX_FIELD or len(name) > MAX_FIELD or len(signature) != 64:
        return None
    if "|" in email or "|" in name:  # the separator: no field may smuggle another one in
        return None
    if expires <= now or expires > now + MAX_LIFETIME:
        return None
    expected = identity_sign(secret=secret, email=email, name=name, expires=expires)
    if not hmac.compare_digest(expected, signature.lower()):
        return None
    return VerifiedIdentity(email=email.strip(), name=name.strip(), expires=expires)
