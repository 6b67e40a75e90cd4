"""One UPDATE statement run for many rows with different values (executemany).

Django's `bulk_update` builds a CASE WHEN expression per row and field, which costs more Python time
than the writes themselves on the ingest path (50 rows by 9 fields = 450 expressions per batch).
This sends the same parametrised UPDATE once per row through `executemany`, with every value
prepared by its model field exactly as `save()` would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def bulk_set(objects: Iterable[models.Model], fields: Sequence[str]) -> int:
    """Write `fields` of every object (rows of one model, matched by primary key); returns the count."""
    objects = list(objects)
    if not objects:
        return 0
    meta = type(objects[0])._meta
    columns: list[Any] = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in columns)
    sql = (
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {assignments} "
        f"WHERE {connection.ops.quote_name(meta.pk.column)} = %s"
    )
    params = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(params)


def bulk_insert(objects: Iterable[M]) -> list[M]:
    """Insert new rows of one model in as few statements as the database allows, setting their ids.

    What `QuerySet.bulk_create` does for plain rows (SQLite 3.35+ and PostgreSQL return the new ids
    with RETURNING, in order), without its per-value expression machinery: on the ingest path that
    machinery cost more than the inserts. Values are prepared by each field as `save()` would
    (`auto_now_add` stamps, related objects saved earlier, JSON, binary). No signals are sent — the
    project uses none.
    """
    objects = list(objects)
    if not objects:
        return objects
    model = type(objects[0])
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    stamped = [f for f in fields if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False)]
    for obj in objects:
        obj._prepare_related_fields_for_save(operation_name="bulk_insert")  # type: ignore[attr-defined]
        for f in stamped:
            f.pre_save(obj, add=True)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, connection.ops.bulk_batch_size(fields, objects) or len(objects))
    with connection.cursor() as cursor:
        for start in range(0, len(objects), size):
            chunk = objects[start : start + size]
            params = [
                f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in chunk for f in fields
            ]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * len(chunk))} "
                f"RETURNING {quote(meta.pk.column)}",
                params,
            )
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
    return objects
