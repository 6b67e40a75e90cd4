"""The SQLite backend queues writers on a file lock (opiekun.core.sqlite).

Each connection here has a busy timeout of 0: without the lock, a second writer's BEGIN IMMEDIATE
would fail at once with "database is locked"; with it, the writer waits for the first to finish.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import connections, transaction

from opiekun.core.sqlite.base import Checkpointer, DatabaseWrapper, checkpointer


@pytest.fixture
def database(tmp_path: Path, django_db_blocker):  # type: ignore[no-untyped-def]
    settings = {
        **connections["default"].settings_dict,
        "ENGINE": "opiekun.core.sqlite",
        "NAME": str(tmp_path / "writers.sqlite3"),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 0,
            "init_command": "PRAGMA journal_mode=WAL;",
        },
        "CONN_MAX_AGE": 0,
        "TEST": {},
    }
    opened: list[DatabaseWrapper] = []

    def connect(alias: str) -> DatabaseWrapper:
        wrapper = DatabaseWrapper(settings, alias)
        connections[alias] = wrapper  # this thread's connection under that alias
        opened.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        first = connect("writers_setup")
        with first.cursor() as cursor:
            cursor.execute("CREATE TABLE log (who TEXT)")
        yield connect
        for wrapper in opened:
            if wrapper._thread_ident == threading.get_ident():  # the threads close their own
                wrapper.close()


def _rows(wrapper: DatabaseWrapper) -> list[str]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT who FROM log ORDER BY rowid")
        return [who for (who,) in cursor.fetchall()]


def _insert(alias: str, who: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("INSERT INTO log (who) VALUES (%s)", [who])


def test_a_second_writer_waits_for_the_first_instead_of_failing(database):
    database("writers_a")
    inside, errors = threading.Event(), []

    def second() -> None:
        try:
            database("writers_b")
            inside.wait(5)
            with transaction.atomic(using="writers_b"):  # blocks on the lock until A commits
                _insert("writers_b", "b")
            connections["writers_b"].close()
        except Exception as exc:  # pragma: no cover - the failure this test is about
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with transaction.atomic(using="writers_a"):
        _insert("writers_a", "a1")
        inside.set()
        thread.join(0.3)
        assert thread.is_alive(), "the second writer did not wait for the first"
        _insert("writers_a", "a2")
    thread.join(5)
    assert not thread.is_alive() and errors == []
    assert _rows(connections["writers_a"]) == ["a1", "a2", "b"]


@pytest.mark.parametrize("ending", ["rollback", "close"])
def test_the_lock_is_let_go_after_a_rollback_and_a_close(database, ending):
    first = database("writers_a")
    if ending == "rollback":
        with pytest.raises(RuntimeError), transaction.atomic(using="writers_a"):
            _insert("writers_a", "gone")
            raise RuntimeError("rolled back")
    else:
        atomic = transaction.atomic(using="writers_a")
        atomic.__enter__()
        _insert("writers_a", "gone")
        first.close()  # the connection goes away inside its transaction
        first.needs_rollback = True
        atomic.__exit__(None, None, None)
    done: list[str] = []

    def second() -> None:
        database("writers_b")
        with transaction.atomic(using="writers_b"):
            _insert("writers_b", "b")
        connections["writers_b"].close()
        done.append("b")

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(5)
    assert done == ["b"], "the lock was still held"
    assert _rows(database("writers_c")) == ["b"]


def test_in_memory_databases_take_no_lock(database):
    wrapper = DatabaseWrapper({**connections["default"].settings_dict, "NAME": ":memory:"}, "writers_mem")
    assert wrapper._writers_lock_path() is None


def test_connections_leave_checkpoints_to_the_checkpointer_thread(database, tmp_path):
    wrapper = database("writers_a")
    with wrapper.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 0  # no COMMIT copies the log back (and waits on the disk)
    worker = checkpointer(str(tmp_path / "writers.sqlite3"))
    assert worker._thread is not None and worker._thread.is_alive()  # started with the connection


def test_the_checkpointer_copies_the_log_back_into_the_database_file(tmp_path):
    path = tmp_path / "log.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (x TEXT)")
    for n in range(200):
        db.execute("INSERT INTO t VALUES (?)", [str(n) * 50])

    def rows_in_the_file_alone() -> int:
        """What the database file holds without its log (a copy of the file, the -wal left behind)."""
        copy = tmp_path / "copy.sqlite3"
        shutil.copyfile(path, copy)
        alone = sqlite3.connect(copy)
        try:
            return alone.execute("SELECT count(*) FROM t").fetchone()[0]
        except sqlite3.OperationalError:  # not even the table yet
            return 0
        finally:
            alone.close()
            copy.unlink()

    assert rows_in_the_file_alone() == 0  # all of it is still in the log
    worker = Checkpointer(str(path), every=0.01)
    worker.note_commit()
    deadline = time.monotonic() + 10
    while worker.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rows_in_the_file_alone() == 200
    db.close()
