"""Background work of telephony: escalating overdue callbacks, fetching call recordings."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .models import Call, Provider
from .providers import twilio, zadarma
from .providers.http import ProviderError
from .services import call_recording_failed, call_recording_store, callbacks_escalate_due

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def escalate_overdue_callbacks() -> int:
    """Every minute: open callbacks past their deadline go to the team lead (once each)."""
    try:
        return callbacks_escalate_due()
    except DatabaseError as exc:  # the database is down: /healthz says so; the next minute catches up
        log.warning("overdue callbacks not escalated now (%s); the next run retries", exc.__class__.__name__)
        return 0


@db_task(retries=3, retry_delay=60)
def fetch_recording(call_id: int) -> None:
    """Download a call's recording from its provider and keep it as an attachment."""
    call = Call.objects.select_related("line").filter(pk=call_id).first()
    if call is None or call.recording_id is not None or not call.recording_url:
        return
    line = call.line
    creds = (line.credentials if line is not None else {}) or {}
    api_base = line.api_base if line is not None else ""
    try:
        if call.provider == Provider.TWILIO:
            content = twilio.Client(
                account_sid=creds.get("account_sid", ""),
                auth_token=creds.get("auth_token", ""),
                api_base=api_base,
            ).recording(call.recording_url)
        elif call.provider == Provider.ZADARMA:
            ref = call.recording_url.partition(":")[2] if call.recording_url.startswith("zadarma:") else ""
            content = zadarma.Client(
                key=creds.get("key", ""), secret=creds.get("secret", ""), api_base=api_base
            ).recording(pbx_call_id=call.provider_call_id, call_id=ref)
        else:
            from .providers.http import request

            content = request("GET", call.recording_url).body
    except ProviderError as exc:
        call_recording_failed(call=call, reason=exc.reason)
        if exc.transient:
            raise  # huey retries
        return
    call_recording_store(call=call, content=content)
