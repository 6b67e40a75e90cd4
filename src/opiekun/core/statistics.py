"""Keeping SQLite's query planner informed after schema changes.

SQLite rebuilds a table for many schema changes (adding a column with a default, changing a
constraint): the new table has no planner statistics, and without them SQLite may walk the wrong
index — a customer's timeline went from 12 ms to 650 ms at 3M messages after such a migration. So
after `migrate`, every table with rows but no statistics is analysed (PostgreSQL keeps its own).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections

log = logging.getLogger(__name__)


def _virtual_tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
    return [row[0] for row in cursor.fetchall()]


def analyse_unanalysed_tables(*, using: str = "default", **_: Any) -> list[str]:
    """ANALYZE the tables of an SQLite database that have rows but no planner statistics."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
        have_stats = cursor.fetchone() is not None
        known: set[str] = set()
        if have_stats:
            cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
            known = {row[0] for row in cursor.fetchall()}
        # Plain tables only: virtual tables (the FTS5 search index) and their shadow tables keep their own.
        virtual_prefixes = _virtual_tables(cursor)
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        tables = [t for t in tables if not any(t.startswith(prefix + "_") for prefix in virtual_prefixes)]
        missing = []
        for table in tables:
            if table in known:
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT 1 FROM {quoted} LIMIT 1")
            if cursor.fetchone() is not None:
                missing.append(table)
        if not have_stats and len(missing) < 3:
            return []  # a fresh or tiny installation: nothing worth planning for yet
        for table in missing:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    if missing:
        log.info("analysed %d table(s) without planner statistics: %s", len(missing), ", ".join(missing))
    return missing
