"""Signed values the public pages hand to the browser instead of cookies.

Why not cookies: the embedded form lives in an `<iframe>` on the shop's own site, so for the
browser it is a third-party document. SameSite=Lax cookies (our session and CSRF cookies) are
neither stored nor sent there, and many browsers block third-party cookies altogether. The
embedded form therefore carries its CSRF protection in the page itself:

* a **form token** signed with the site's secret, bound to the shop and to this purpose, valid for
  a few hours: a post without a token we rendered recently is refused;
* an **Origin check**: browsers send `Origin` on every cross-site POST, and a post coming from the
  form inside our iframe has *our* origin; a page elsewhere posting to us has its own and is refused.

Together these stop what CSRF protection is for (a foreign page making a visitor's browser post),
without any cookie. The embedded form acts for nobody: it carries no session, so there is no
ambient authority to steal either.

The **receipt** lets the confirmation page after the redirect (PRG) show the case number without a
session (again: the iframe has none). It is signed and short-lived, so numbers cannot be walked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpRequest

_FORM_SALT = "opiekun.webform.embed-token.v1"
_RECEIPT_SALT = "opiekun.webform.receipt.v1"
FORM_TOKEN_MAX_AGE = 6 * 3600
RECEIPT_MAX_AGE = 3600


def form_token(shop_id: int) -> str:
    """A fresh token for one rendering of the embedded form of this shop."""
    return signing.dumps({"s": shop_id, "n": secrets.token_urlsafe(8)}, salt=_FORM_SALT)


def form_token_valid(token: str, shop_id: int) -> bool:
    try:
        data = signing.loads(token or "", salt=_FORM_SALT, max_age=FORM_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return False
    return isinstance(data, dict) and data.get("s") == shop_id


def own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def origin_allowed(request: HttpRequest) -> bool:
    """No Origin (older browsers, tools) passes to the token check; a foreign or opaque one does not."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None:
        return True
    if origin == "null":
        return False
    trusted = {own_origin(request), *getattr(settings, "CSRF_TRUSTED_ORIGINS", [])}
    public = urlsplit(settings.OPIEKUN_PUBLIC_URL)
    if public.scheme and public.netloc:
        trusted.add(f"{public.scheme}://{public.netloc}")
    return origin in trusted


@dataclass(frozen=True)
class Receipt:
    number: int | None  # None: a submission we pretended to accept (honeypot)
    email: str
    mailed: bool


def receipt_dumps(receipt: Receipt, shop_id: int) -> str:
    return signing.dumps(
        {"s": shop_id, "n": receipt.number, "e": receipt.email, "m": receipt.mailed},
        salt=_RECEIPT_SALT,
        compress=True,
    )


def receipt_loads(value: str, shop_id: int) -> Receipt | None:
    try:
        data = signing.loads(value or "", salt=_RECEIPT_SALT, max_age=RECEIPT_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != shop_id:
        return None
    number = data.get("n")
    return Receipt(
        number=number if isinstance(number, int) else None,
        email=str(data.get("e", ""))[:320],
        mailed=bool(data.get("m")),
    )
