"""Credentials sealed at rest: a shop platform's API key, a phone provider's token, a webhook secret.

Sealed with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under `settings.OPIEKUN_SEALING_KEYS`:
the first key seals, every key unseals, so an operator rotates by putting a new key first and re-saving.
A database dump alone gives an attacker nothing; the key lives in the data folder (or the environment),
apart from `SECRET_KEY`. Sealed values never reach logs: fields holding them show `'***'` in repr.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class Unsealable(ValueError):
    """A sealed value that none of the configured keys opens (wrong key, or tampered)."""


@cache
def _box(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise RuntimeError("OPIEKUN_SEALING_KEYS is empty: no key to seal credentials with")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _box(tuple(settings.OPIEKUN_SEALING_KEYS))


def seal(data: dict[str, Any]) -> str:
    """`data` as an opaque token (JSON inside, authenticated and encrypted)."""
    return _current().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    """The dict `seal` was given; raises `Unsealable` for a token no key opens."""
    try:
        value = json.loads(_current().decrypt(token.encode()))
    except (InvalidToken, ValueError) as exc:
        raise Unsealable("sealed value cannot be opened with the configured keys") from exc
    if not isinstance(value, dict):
        raise Unsealable("sealed value is not an object")
    return value


class SealedJSONField(models.Field):  # type: ignore[type-arg]
    """A dict stored sealed (a text column holding a Fernet token); `{}` when empty."""

    description = "A JSON object sealed at rest"
    # what django-stubs' mypy plugin takes as the field's set and get types
    _pyi_private_set_type: dict[str, Any]
    _pyi_private_get_type: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        return "TextField"  # a text column: the token is base64

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any]:
        return unseal(value) if value else {}

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        return unseal(value) if value else {}

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, str):  # already sealed (a value read raw, or a migration copying rows)
            return value
        return seal(dict(value or {})) if value else ""

    def value_to_string(self, obj: Any) -> str:  # dumpdata: keep it sealed
        return self.get_prep_value(self.value_from_object(obj))
