"""How an e-mail finds its case: our Message-IDs, plus-address reply tokens and `[#1234]` subjects.

Every reply we send carries a Message-ID we chose (stable across retries), the case number in the
subject and a Reply-To `support+<token>@shop` whose token names the case and is signed with the
installation's secret, so nobody can forge a token for someone else's case. The pipeline tries the
strongest hint first: References/In-Reply-To, then the token, then the subject number — the last only
when the sender already takes part in that case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings

_SUBJECT_NUMBER = re.compile(r"\[#(\d{1,12})\]")
_TOKEN = re.compile(r"^c(\d{1,12})-([a-z0-9]{10})$")


def _signature(shop_id: int, number: int) -> str:
    key = hashlib.sha256(b"opiekun.reply-token:" + settings.SECRET_KEY.encode()).digest()
    digest = hmac.new(key, f"{shop_id}:{number}".encode(), hashlib.sha256).hexdigest()
    return digest[:10]


def reply_token(*, shop_id: int, number: int) -> str:
    """The plus-address tag naming case `number` of shop `shop_id` (lower-case: mail systems fold case)."""
    return f"c{number}-{_signature(shop_id, number)}"


def reply_address(address: str, *, shop_id: int, number: int) -> str:
    """`support@shop.pl` → `support+c1234-<sig>@shop.pl`; '' when `address` is not an address."""
    local, at, domain = address.partition("@")
    if not at or not local or not domain:
        return ""
    local = local.split("+", 1)[0]
    return f"{local}+{reply_token(shop_id=shop_id, number=number)}@{domain}"


def number_from_recipients(recipients: tuple[str, ...] | list[str], *, shop_id: int) -> int | None:
    """The case number from the first recipient carrying a valid signed token, else None."""
    for address in recipients:
        local = address.partition("@")[0]
        if "+" not in local:
            continue
        match = _TOKEN.match(local.split("+", 1)[1].lower())
        if match is None:
            continue
        number = int(match.group(1))
        if hmac.compare_digest(match.group(2), _signature(shop_id, number)):
            return number
    return None


def number_from_subject(subject: str) -> int | None:
    """The last `[#1234]` in the subject (replies prepend, so the last one is ours), else None."""
    found = _SUBJECT_NUMBER.findall(subject or "")
    return int(found[-1]) if found else None


def subject_with_number(subject: str, number: int) -> str:
    """`Re: <subject> [#1234]`-style subject carrying the number exactly once."""
    tag = f"[#{number}]"
    if tag in subject:
        return subject
    return f"{subject.strip()} {tag}".strip()


def new_message_id(*, domain: str) -> str:
    """A fresh, unguessable Message-ID (without angle brackets) for a message we send."""
    domain = (domain or "opiekun.invalid").strip().lower()
    return f"opiekun.{secrets.token_hex(12)}@{domain}"


def strip_angles(value: str) -> str:
    return value.strip().strip("<>").strip()
