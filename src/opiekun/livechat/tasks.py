"""Huey tasks of the chat (discovered by huey.contrib.djhuey): the transcript e-mailed to the visitor, a
reply e-mailed to a visitor who left before seeing it."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from . import services, transcripts


# An SMTP error raises, so huey retries a few times; the per-session limit was counted on request.
@db_task(retries=3, retry_delay=120)
def send_transcript(session_id: int, email: str) -> None:
    transcripts.transcript_send(session_id=session_id, email=email)


@db_task()
def email_reply_if_away(message_id: int) -> None:
    services.chat_reply_email_if_away(message_id=message_id)
