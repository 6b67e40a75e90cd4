"""Huey tasks of the channel seam (discovered by huey.contrib.djhuey)."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from opiekun.conversations.models import Message

from . import delivery

log = logging.getLogger(__name__)


@db_task()
def deliver_message(message_id: int) -> None:
    result = delivery.deliver(message_id)
    if result is not None and not result.ok and result.transient:
        attempts = (
            Message.objects.filter(pk=message_id).values_list("delivery_attempts", flat=True).first() or 1
        )
        deliver_message.schedule((message_id,), delay=delivery.retry_delay(attempts))


# Customer e-mails that are not replies (see acknowledgments.py). An SMTP error raises, so huey
# retries a few times; the per-address limits were counted when the mail was scheduled.
@db_task(retries=3, retry_delay=120)
def send_acknowledgment(message_id: int, to_email: str = "") -> None:
    from . import acknowledgments

    acknowledgments.acknowledgment_send(message_id, to_email)


@db_task(retries=3, retry_delay=120)
def send_portal_link(contact_id: int) -> None:
    from . import acknowledgments

    acknowledgments.portal_link_send(contact_id)


# Mail stored but never processed (the process stopped in between) is picked up within minutes.
@db_periodic_task(crontab(minute="*/5"))
def process_pending_mail() -> None:
    from .mailstore import mail_process_pending

    try:
        mail_process_pending()
    except DatabaseError as exc:  # the database is down: /healthz says so; the next run catches up
        log.warning("stored mail not processed now (%s); the next sweep retries", exc.__class__.__name__)
