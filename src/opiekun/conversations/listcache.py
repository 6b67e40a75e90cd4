"""The per-shop list version: what lets every web process remember inbox lists and counts safely.

`Shop.list_version` moves on with every change an inbox list or count shows (a new case or message,
assignment, status, priority, tags, merge, a contact's name or caretaker). The services bump it with
an atomic UPDATE inside their own transaction, so the new version and the change commit together.
Every desk request reads the version with the agent's shop (the query it makes anyway), so anything
remembered under an older version is never served again, by any process, once the change has
committed: a per-process cache (locmem) is as correct as a shared one, it only warms separately.

A reader that remembers something must read the version BEFORE it reads the data: what it computes
may then be newer than its version (harmless), never older.
"""

from __future__ import annotations

from django.db import connection

from opiekun.core.events import DomainEvent
from opiekun.shops.models import Shop


def list_version_bump(*, shop_id: int) -> None:
    """Every remembered list and count of the shop is out of date (one UPDATE of the shop row).

    Call it inside the transaction of the change, so no process can read the new version before the
    change itself is visible.
    """
    table = connection.ops.quote_name(Shop._meta.db_table)  # written out: it runs with every stored line
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET list_version = list_version + 1 WHERE id = %s", [shop_id])


def list_version(*, shop_id: int) -> int:
    """The shop's current list version (one primary-key read); 0 for an unknown shop."""
    return Shop.objects.filter(pk=shop_id).values_list("list_version", flat=True).first() or 0


def forget_lists(event: DomainEvent) -> None:
    """Subscriber for changes made elsewhere that lists show (a contact's name or caretaker, a contact
    merge): after their commit, so a request in between may still be answered from the older lists."""
    list_version_bump(shop_id=event.shop_id)
