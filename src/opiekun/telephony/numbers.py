"""Phone numbers as providers send them: E.164 when they parse, the raw text kept and flagged when not."""

from __future__ import annotations

from dataclasses import dataclass

from opiekun.contacts import normalise


@dataclass(frozen=True)
class Number:
    raw: str
    e164: str = ""
    flagged: str = ""  # why it could not be used as a phone number ("" when it is fine)

    @property
    def key(self) -> str:
        """What identifies the caller for merging callbacks: E.164, else the raw text."""
        return self.e164 or self.raw.strip()


def number_read(raw: str, region: str = normalise.DEFAULT_REGION) -> Number:
    """`raw` normalised with phonenumbers (default region PL); never raises, never drops the text."""
    text = (raw or "").strip()
    # Providers write SIP and client addresses in the same fields ("sip:101@pbx", "client:anna").
    if text.lower().startswith(("sip:", "client:")):
        return Number(text, flagged="not a phone number (SIP or client address)")
    if not text or text.lower() in {"anonymous", "unknown", "restricted", "private", "unavailable"}:
        return Number(text, flagged="the caller's number was withheld")
    try:
        return Number(text, e164=normalise.phone(text, region))
    except ValueError:
        return Number(text, flagged="the number cannot be parsed")
