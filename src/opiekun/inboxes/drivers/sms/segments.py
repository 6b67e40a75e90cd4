"""How long a text message is on the wire: GSM-7 (160 characters, 153 per part when split) or, for any
character outside the GSM 03.38 alphabet, UCS-2 (70, 67 per part, counted in UTF-16 code units).
Characters of the GSM extension table (€, [, ], {, }, \\, ~, ^, |) take two septets. Pure; the desk's
composer has a JavaScript twin (telephony/static/telephony/sms-segments.js) tested against this one."""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM7_BASIC)
_EXTENDED = frozenset(GSM7_EXTENDED)


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int
    remaining: int  # units left in the last segment


def count(text: str) -> Segments:
    """The encoding, length and number of parts `text` is sent as."""
    if all(ch in _BASIC or ch in _EXTENDED for ch in text):
        units = sum(2 if ch in _EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return Segments(encoding, units, 1 if units else 0, single, single - units)
    parts = -(-units // multi)
    return Segments(encoding, units, parts, multi, parts * multi - units)
