"""Signed tokens of the chat: the visitor's session, and links to the files of their chat.

A session token is `django.core.signing` over the session key and the inbox, with a timestamp: it
cannot be forged without the installation's secret key, and it expires (SESSION_MAX_AGE). It only
names a row; a deleted or ended session does not come back because its token still verifies.
"""

from __future__ import annotations

from django.core import signing

SESSION_SALT = "opiekun.livechat.session"
FILE_SALT = "opiekun.livechat.file"
SESSION_MAX_AGE = 30 * 24 * 3600
FILE_MAX_AGE = 24 * 3600


def session_token(*, key: str, inbox_id: int) -> str:
    return signing.dumps({"k": key, "i": inbox_id}, salt=SESSION_SALT, compress=False)


def session_key_from(token: object, *, inbox_id: int, max_age: int = SESSION_MAX_AGE) -> str | None:
    """The session key a token names for this inbox, or None (unsigned, tampered, expired, other inbox)."""
    if not isinstance(token, str) or not token or len(token) > 500:
        return None
    try:
        data = signing.loads(token, salt=SESSION_SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    if not isinstance(data, dict) or data.get("i") != inbox_id or not isinstance(data.get("k"), str):
        return None
    return data["k"]


def file_token(*, attachment_id: int, session_id: int) -> str:
    return signing.dumps({"a": attachment_id, "s": session_id}, salt=FILE_SALT, compress=False)


def file_from(token: str, *, max_age: int = FILE_MAX_AGE) -> tuple[int, int] | None:
    """(attachment id, session id) from a file link's token, or None."""
    try:
        data = signing.loads(token, salt=FILE_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int) or not isinstance(data.get("s"), int):
        return None
    return data["a"], data["s"]
