"""One row of a model with its to-one relations, read by SQL written once instead of compiled per call.

Django compiles a `select_related` query anew on every call. For a read that runs on every request
(the desk's user + agent + shop), the compiling cost more than the database: ~1 ms of a ~3 ms
remembered inbox page on PostgreSQL (bench/inbox_http.py). `JoinedRow` writes the SELECT once per
database connection vendor, and turns the row into the same model instances the ORM would, with the
same database converters (SQLite's text datetimes, JSON fields), related objects cached in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Field, Model

from .bulk import marks


@dataclass(frozen=True)
class Join:
    """`model` joined (LEFT) to the row as `attribute` of the object `via` (index into the joined list,
    0 = the base model): ON joined.`column` = via.`other_column`. `reverse` for a one-to-one read from
    the side that has no column (user.agent)."""

    model: type[Model]
    attribute: str
    via: int
    column: str
    other_column: str
    reverse: bool = False


Converter = Callable[[Any, Any, Any], Any]


class JoinedRow:
    def __init__(self, base: type[Model], joins: list[Join], where_column: str = "id") -> None:
        self.base = base
        self.joins = joins
        self.where_column = where_column
        self._compiled: dict[str, tuple[str, list[_Shape]]] = {}

    def _compile(self, alias: str) -> tuple[str, list[_Shape]]:
        connection = connections[alias]
        quote = connection.ops.quote_name
        selects, shapes = [], []
        for n, model in enumerate(self._models()):
            fields: list[Field[Any, Any]] = list(model._meta.concrete_fields)
            converters = []
            for field in fields:
                col = field.get_col(f"t{n}")
                functions = connection.ops.get_db_converters(col) + field.get_db_converters(connection)  # type: ignore[attr-defined]
                converters.append((col, functions))
                selects.append(f"t{n}.{quote(field.column)}")
            attnames = [f.attname for f in fields]
            shapes.append(_Shape(attnames, converters, attnames.index(model._meta.pk.attname)))
        sql = f"SELECT {', '.join(selects)} FROM {quote(self.base._meta.db_table)} t0"
        for n, join in enumerate(self.joins, start=1):
            sql += (
                f" LEFT JOIN {quote(join.model._meta.db_table)} t{n}"
                f" ON t{n}.{quote(join.column)} = t{join.via}.{quote(join.other_column)}"
            )
        sql += f" WHERE t0.{quote(self.where_column)}"
        return sql, shapes

    def _models(self) -> list[type[Model]]:
        return [self.base] + [join.model for join in self.joins]

    def _compiled_for(self, using: str) -> tuple[str, list[_Shape]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        return compiled

    def get(self, value: Any, using: str = "default") -> Model | None:
        """The base object whose `where_column` equals `value`, with every join cached on it, or None."""
        sql, shapes = self._compiled_for(using)
        with connections[using].cursor() as cursor:
            cursor.execute(sql + " = %s", [value])
            row = cursor.fetchone()
        return None if row is None else self._object(row, shapes, using)

    def many(self, values: list[Any], using: str = "default") -> list[Model]:
        """The base objects whose `where_column` is one of `values` (one query; in no particular order)."""
        if not values:
            return []
        sql, shapes = self._compiled_for(using)
        with connections[using].cursor() as cursor:
            cursor.execute(sql + f" IN ({marks(len(values))})", list(values))
            rows = cursor.fetchall()
        return [self._object(row, shapes, using) for row in rows]

    def _object(self, row: Any, shapes: list[_Shape], using: str) -> Model:
        connection = connections[using]
        objects: list[Model | None] = []
        start = 0
        for model, shape in zip(self._models(), shapes, strict=True):
            values = list(row[start : start + len(shape.attnames)])
            start += len(shape.attnames)
            if objects and values[shape.pk_index] is None:  # the LEFT JOIN found no row
                objects.append(None)
                continue
            for i, (col, functions) in enumerate(shape.converters):
                for convert in functions:
                    values[i] = convert(values[i], col, connection)
            objects.append(model.from_db(using, shape.attnames, values))
        for n, join in enumerate(self.joins, start=1):
            owner, obj = objects[join.via], objects[n]
            if owner is None:
                continue
            # Where select_related leaves them: on both sides of a one-to-one, on the owner of a foreign key.
            relation: Any = owner._meta.get_field(join.attribute)
            relation.set_cached_value(owner, obj)
            if join.reverse and obj is not None:
                relation.field.set_cached_value(obj, owner)
        base = objects[0]
        assert base is not None
        return base


@dataclass(frozen=True)
class _Shape:
    attnames: list[str]
    converters: list[tuple[Any, list[Converter]]]
    pk_index: int
