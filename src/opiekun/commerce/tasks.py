"""Huey tasks of the commerce mirror: the periodic catch-up of every connector, delays, nudges."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .models import Connector
from .services import shipments_flag_delays
from .sync import connector_sync

log = logging.getLogger(__name__)


@db_task()
def sync_connector(connector_id: int) -> None:
    connector = Connector.objects.filter(pk=connector_id, is_active=True).select_related("shop").first()
    if connector is not None:
        connector_sync(connector=connector)


def sync_soon(connector_id: int) -> None:
    """Queue a catch-up of one connector now (a BaseLinker nudge)."""
    sync_connector(connector_id)


@db_periodic_task(crontab(minute="*/10"))
def sync_all_connectors() -> None:
    """Every active connector catches up from its cursor (webhooks lost on the way are fetched here)."""
    try:
        connector_ids = list(Connector.objects.filter(is_active=True).values_list("id", flat=True))
    except DatabaseError as exc:  # the database is down: /healthz says so; the next run catches up
        log.warning("shop catch-up not started now (%s); the next run retries", exc.__class__.__name__)
        return
    for connector_id in connector_ids:
        sync_connector(connector_id)


@db_periodic_task(crontab(minute="*/15"))
def flag_late_shipments() -> None:
    try:
        shipments_flag_delays()
    except DatabaseError as exc:
        log.warning("late shipments not checked now (%s); the next run retries", exc.__class__.__name__)
