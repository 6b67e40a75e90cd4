"""Huey tasks of the channel seam (discovered by huey.contrib.djhuey)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from opiekun.conversations.models import Message

from . import delivery


@db_task()
def deliver_message(message_id: int) -> None:
    result = delivery.deliver(message_id)
    if result is not None and not result.ok and result.transient:
        attempts = Message.objects.filter(pk=message_id).values_list("delivery_attempts", flat=True).first() or 1
        deliver_message.schedule((message_id,), delay=delivery.retry_delay(attempts))
