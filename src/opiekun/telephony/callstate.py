"""A call's state from the facts its events reported, so the order they arrive in does not matter.

Providers send ringing, answered and ended (or missed) events; a retry may replay one, and an ended
event may overtake the ringing one. Each event only adds facts (the earliest start, the earliest
answer, the latest end, a duration, a recording, voicemail); the state is computed from all facts
together, so any order of the same events gives the same Call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .models import CallState

KINDS = ("ringing", "answered", "ended", "missed", "abandoned", "voicemail", "recording")


@dataclass(frozen=True)
class CallEvent:
    """One provider event, normalised (providers/*.py build these; no database)."""

    provider: str
    call_id: str
    kind: str  # one of KINDS
    at: dt.datetime
    direction: str = "in"  # in | out
    caller: str = ""  # raw, as the provider wrote it
    callee: str = ""
    extension: str = ""  # who answered: an extension, a SIP/client address or a number
    duration: int | None = None
    answered: bool | None = None  # an "ended" event that says whether the call was answered
    recording_url: str = ""
    recording_ref: str = ""  # the provider's own recording id (fetched through its API)
    event_key: str = ""  # what was applied (idempotency inside the Call)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown call event {self.kind!r}")


def _earliest(current: dt.datetime | None, at: dt.datetime) -> dt.datetime:
    return at if current is None or at < current else current


def _latest(current: dt.datetime | None, at: dt.datetime) -> dt.datetime:
    return at if current is None or at > current else current


def facts_apply(call: Any, event: CallEvent) -> None:
    """Fold `event` into `call`'s facts (an unsaved or loaded Call); then `state_of` gives its state."""
    call.started_at = _earliest(call.started_at, event.at)
    if event.kind == "answered":
        call.answered_at = _earliest(call.answered_at, event.at)
        call.extension = call.extension or event.extension
    elif event.kind in ("ended", "missed", "abandoned", "voicemail"):
        call.ended_at = _latest(call.ended_at, event.at)
        if event.kind == "ended" and event.answered:
            # Told at the end only (Zadarma's disposition): answered, `duration` seconds before the end.
            answered = event.at - dt.timedelta(seconds=event.duration or 0)
            call.answered_at = _earliest(call.answered_at, max(answered, call.started_at))
            call.extension = call.extension or event.extension
        elif event.kind == "ended" and event.answered is False:
            call.end_reason = call.end_reason or "missed"
        elif event.kind in ("missed", "abandoned"):
            call.end_reason = event.kind
        if event.kind == "voicemail":
            call.voicemail = True
    if event.duration is not None and event.kind != "recording":
        call.duration = max(call.duration or 0, event.duration)
    if event.recording_url:
        call.recording_url = call.recording_url or event.recording_url
    if event.kind == "recording" and event.recording_ref and not call.recording_url:
        call.recording_url = f"{event.provider}:{event.recording_ref}"
    if event.recording_ref and event.kind == "ended" and not call.recording_url:
        call.recording_url = f"{event.provider}:{event.recording_ref}"
    if event.kind == "voicemail":
        call.voicemail = True


def state_of(call: Any) -> str:
    """The state the facts add up to."""
    if call.answered_at is not None:
        if call.ended_at is not None:
            return CallState.ENDED
        return CallState.ANSWERED
    if call.voicemail:
        return CallState.VOICEMAIL
    if call.ended_at is not None:
        if call.direction == "in" and call.recording_url and call.end_reason != "abandoned":
            return CallState.VOICEMAIL  # an unanswered inbound call that left a recording
        return call.end_reason or CallState.MISSED
    return CallState.RINGING
