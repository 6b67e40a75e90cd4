"""Huey tasks of the chat (discovered by huey.contrib.djhuey): the transcript e-mailed to the visitor."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from . import transcripts


# An SMTP error raises, so huey retries a few times; the per-session limit was counted on request.
@db_task(retries=3, retry_delay=120)
def send_transcript(session_id: int, email: str) -> None:
    transcripts.transcript_send(session_id=session_id, email=email)
