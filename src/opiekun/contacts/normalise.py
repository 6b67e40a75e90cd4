"""Canonical forms of addresses, so one customer is one Identity however they typed it."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

DEFAULT_REGION = "PL"


@dataclass(frozen=True)
class Address:
    """One normalised address of a contact on one channel (an Identity's kind and value)."""

    kind: str
    value: str


def email(value: str) -> str:
    """Lower-cased, trimmed e-mail address; ValueError when it is not one."""
    value = (value or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(f"not a valid e-mail address: {value!r}") from None
    return value


def phone(value: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form (+48…); ValueError when the number cannot be parsed as a possible number."""
    try:
        parsed = phonenumbers.parse((value or "").strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"not a phone number: {value!r}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a phone number: {value!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
