"""Commits that must survive a power cut, not only a crash of the process.

SQLite runs with `synchronous=NORMAL` in WAL mode (fast; a commit survives the process dying, but
the last ones may be lost if the machine loses power). Where we promise "stored before we say
yes" — a received e-mail before the IMAP server may mark it seen, before the SMTP intake answers
250 — the commit is made with `synchronous=FULL` instead: one fsync of the write-ahead log, shared
by the whole batch. PostgreSQL commits are durable already (fsync and synchronous_commit on).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def durable_atomic() -> Iterator[None]:
    """`transaction.atomic()` whose commit is fsynced (in an outer transaction the outer commit decides)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=FULL")
    try:
        with transaction.atomic():
            yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=NORMAL")
