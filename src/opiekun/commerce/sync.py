"""The scheduled catch-up: page a platform's API from the connector's cursor, store, move the cursor on.

Some platforms never retry a failed webhook and BaseLinker has none, so every connector is also polled.
Each page is written (ingest.orders_upsert) and the cursor saved in one transaction: a crash, a 429 that
outlasts the retries or a 5xx leaves the cursor after the last page stored, and the next run resumes
there — nothing is lost and nothing is written twice (orders are upserted by their platform id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from opiekun.core import clock

from .connectors.base import UNREADABLE, ApiClient, ApiError, platforms
from .ingest import orders_upsert
from .models import Connector

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    pages: int = 0
    orders: int = 0
    created: int = 0
    events: int = 0
    error: str = ""
    retries: int = 0


def connector_sync(
    *, connector: Connector, http: ApiClient | None = None, max_pages: int | None = None
) -> SyncResult:
    """Catch up on `connector` (touches its orders, contacts, timeline events, cursor and health fields)."""
    own = http is None
    http = http or ApiClient()
    result = SyncResult()
    try:
        for page in platforms.get(connector.platform).pages(connector, http):
            with transaction.atomic():
                upserted = orders_upsert(connector=connector, records=page.records)
                connector.cursor = page.cursor
                connector.save(update_fields=["cursor"])
            result.pages += 1
            result.orders += len(page.records)
            result.created += upserted.created
            result.events += upserted.events
            if max_pages is not None and result.pages >= max_pages:
                break
    except (ApiError, *UNREADABLE) as exc:
        result.error = str(exc)[:500]
        log.warning("catch-up of connector %s stopped: %s", connector.pk, result.error)
    finally:
        result.retries = http.retries
        if own:
            http.close()
    now = clock.now()
    connector.last_sync_at = now
    connector.last_sync_count = result.orders
    fields = ["last_sync_at", "last_sync_count"]
    if result.error:
        connector.last_error, connector.last_error_at = result.error, now
        fields += ["last_error", "last_error_at"]
    elif connector.last_error:
        connector.last_error = ""
        fields.append("last_error")
    connector.save(update_fields=fields)
    return result
