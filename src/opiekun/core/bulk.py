"""Lean writes of many rows: one INSERT (bulk_insert) or one UPDATE (bulk_set) for a whole batch.

Django's `bulk_update` builds a CASE WHEN expression per row and field, and `bulk_create` an
expression per value; on the ingest path that machinery cost more Python time than the writes.
Here every value is prepared by its model field exactly as `save()` would, and sent as plain
parameters. On PostgreSQL each column travels as one array (`UNNEST`), so the statement text is the
same whatever the batch size: psycopg parses a short query once instead of splitting a statement
with thousands of placeholders per batch (~15 % of plain-mail ingest, bench/mail_ingest.py), and the
server plans one statement instead of one per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

M = TypeVar("M", bound=models.Model)


def marks(count: int) -> str:
    """`%s, %s, …` for `count` parameters (an IN list or a row in SQL written out)."""
    return ", ".join(["%s"] * count)


SQLITE_MAX_PARAMS = 999  # parameters of one statement, as Django's SQLite backend assumes


def value_rows(rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, list[Any]]]:
    """Rows of parameters as multi-row VALUES lists, as many rows per statement as SQLite takes
    parameters: (`(%s, %s), (%s, %s)`, the parameters flattened) for each statement.

    One statement rather than `executemany` on SQLite: its driver lets go of the GIL for every row it
    steps, and a thread writing under load (the chat's committer) then waits for the event loop to
    hand it back each time — longer than the rows take to write."""
    width = len(rows[0]) if rows else 1
    size = max(1, SQLITE_MAX_PARAMS // width)
    row = "(" + marks(width) + ")"
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        yield ", ".join([row] * len(chunk)), [value for one in chunk for value in one]


def bulk_set(objects: Iterable[models.Model], fields: Sequence[str]) -> int:
    """Write `fields` of every object (rows of one model, matched by primary key); returns the count."""
    objects = list(objects)
    if not objects:
        return 0
    meta = type(objects[0])._meta
    columns: list[Any] = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    db = connections[DEFAULT_DB_ALIAS]
    rows = [[_prepare(f, getattr(obj, f.attname), db) for f in columns] + [obj.pk] for obj in objects]
    if _unnest(columns) and len(rows) > 1:
        names = [quote(f.column) for f in columns] + ["opiekun_pk"]
        arrays = ", ".join(f"(%b)::{_array_type(f)}" for f in [*columns, meta.pk])
        execute_arrays(
            f"UPDATE {quote(meta.db_table)} SET "
            + ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
            + f" FROM UNNEST({arrays}) AS v({', '.join(names)})"
            f" WHERE {quote(meta.db_table)}.{quote(meta.pk.column)} = v.opiekun_pk",
            [list(column) for column in zip(*rows, strict=True)],
        )
        return len(rows)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s", rows
        )
    return len(rows)


# Values the database driver takes exactly as the field would prepare them: a str for a text column, an
# int for an integer or a foreign key id, a bool for a boolean. Preparing every value through its field
# (get_db_prep_save and the layers under it) was a sixth of ingest time for ~50 values per mail.
_AS_IS: dict[str, tuple[type, ...]] = {
    "CharField": (str,),
    "TextField": (str,),
    "BooleanField": (bool,),
    **{
        kind: (int,)
        for kind in (
            "AutoField",
            "BigAutoField",
            "IntegerField",
            "BigIntegerField",
            "SmallIntegerField",
            "PositiveIntegerField",
            "PositiveBigIntegerField",
            "PositiveSmallIntegerField",
        )
    },
}


def _prepare(field: Any, value: Any, db: Any) -> Any:
    """`field.get_db_prep_save(value, db)`, skipped where it would hand the value back unchanged. `db` is
    the connection itself (not Django's per-thread proxy: each attribute read through it is a lookup)."""
    if value is None and field.null:
        return None
    kinds = _kinds.get((field, db.vendor))
    if kinds is None:
        kind = (field.target_field if field.is_relation else field).get_internal_type()
        kinds = _AS_IS.get(kind, ())
        if kind == "DateTimeField" and db.vendor == "postgresql":
            kinds = (dt.datetime,)  # psycopg takes an aware datetime as it is (checked below)
        _kinds[(field, db.vendor)] = kinds
    if type(value) in kinds and (type(value) is not dt.datetime or value.tzinfo is not None):
        return value
    return field.get_db_prep_save(value, db)


_kinds: dict[tuple[Any, str], tuple[type, ...]] = {}


def execute_arrays(sql: str, arrays: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Run `sql` with one array parameter per column (`%b`: sent in binary), bound on the server (PostgreSQL).

    Django's cursors bind client-side: every array would be written out as an escaped literal in
    Python (large texts and raw mail escaped twice). A server-bound psycopg cursor on the same
    connection, inside the caller's transaction, sends the values as they are. Errors come out as
    Django's (IntegrityError and so on), as from any other query.
    """
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, arrays)
        return cursor.fetchall() if cursor.description else []


def _unnest(fields: Sequence[Any]) -> bool:
    """Whether the columns can travel as PostgreSQL arrays (the conditions Django's own UNNEST insert
    checks: no per-value placeholders, only the backend's standard column types)."""
    if connection.vendor != "postgresql":
        return False
    return all(
        _plain_placeholder(f)
        and (f.target_field if f.is_relation else f).get_internal_type() in connection.data_types
        for f in fields
    )


def _plain_placeholder(field: Any) -> bool:
    # BinaryField asks the backend for its placeholder, which on PostgreSQL is the plain one.
    if not hasattr(field, "get_placeholder"):
        return True
    try:
        return bool(field.get_placeholder(None, None, connection) == "%s")
    except Exception:  # a placeholder that depends on the value: not for arrays
        return False


def _array_type(field: Any) -> str:
    # Without the length (varchar[] rather than varchar(255)[]): nothing is cut on the way.
    return field.db_type(connection).split("(")[0] + "[]"


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
    db = connections[DEFAULT_DB_ALIAS]
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + marks(len(fields)) + ")"
    size = max(1, connection.ops.bulk_batch_size(fields, objects) or len(objects))
    if _unnest(fields) and len(objects) > 1:
        arrays = ", ".join(f"(%b)::{_array_type(f)}" for f in fields)
        rows = execute_arrays(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT * FROM UNNEST({arrays}) "
            f"RETURNING {quote(meta.pk.column)}",
            [[_prepare(f, getattr(obj, f.attname), db) for obj in objects] for f in fields],
        )
        _set_ids(objects, rows)
        return objects
    with connection.cursor() as cursor:
        for start in range(0, len(objects), size):
            chunk = objects[start : start + size]
            params = [_prepare(f, getattr(obj, f.attname), db) for obj in chunk for f in fields]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * len(chunk))} "
                f"RETURNING {quote(meta.pk.column)}",
                params,
            )
            _set_ids(chunk, cursor.fetchall())
    return objects


def _set_ids(objects: list[M], rows: list[tuple[Any, ...]]) -> None:
    # RETURNING gives the rows in the order of the VALUES / the arrays (Django's bulk_create relies on it).
    for obj, (pk,) in zip(objects, rows, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
