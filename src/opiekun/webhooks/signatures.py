"""The checks every source's `verify` makes, written once: a header that must be there, a signature
compared in constant time, a body that must be JSON or a form. Each refuses with `Rejected` and a
reason the sender can act on (401 for authenticity, 400 for shape)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

from .registry import Incoming, Rejected


def required_header(incoming: Incoming, name: str) -> str:
    """The header's value; 401 "missing <name>" when it is absent or empty."""
    value = incoming.headers.get(name, "").strip()
    if not value:
        raise Rejected(401, f"missing {name}")
    return value


def hmac_of(
    secret: str,
    message: bytes,
    *,
    algorithm: str = "sha256",
    encoding: Literal["base64", "hex"] = "base64",
) -> str:
    """HMAC of `message` under `secret`, as the platform writes it (base64 or lowercase hex); 401 when
    the endpoint has no secret (nothing can be authentic then)."""
    if not secret:
        raise Rejected(401, "no signing secret configured")
    digest = hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).digest()
    return base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()


def must_match(given: str, expected: str, *, what: str = "signature", secret: str | None = None) -> None:
    """401 "<what> mismatch" unless the two are equal, compared in constant time; never passes on an
    empty expectation, nor when the `secret` the expectation was computed with is empty (an endpoint
    without a secret accepts nothing — a signature made with an empty key proves nothing)."""
    if not expected or secret == "":
        raise Rejected(401, "no signing secret configured")
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Rejected(401, f"{what} mismatch")


def json_body(body: bytes) -> Any:
    """`body` parsed as JSON; 400 with the parser's reason otherwise."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(400, f"malformed JSON: {exc}") from None


def json_object(body: bytes) -> dict[str, Any]:
    """`body` as a JSON object; 400 for anything else (an array, a number, broken JSON)."""
    value = json_body(body)
    if not isinstance(value, dict):
        raise Rejected(400, f"expected a JSON object, got {type(value).__name__}")
    return value


def form_body(incoming: Incoming) -> Mapping[str, list[str]]:
    """The parsed `application/x-www-form-urlencoded` body; 400 when the request had none."""
    if not incoming.form:
        raise Rejected(400, "expected a form-encoded body")
    return incoming.form
