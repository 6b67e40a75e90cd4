"""Django's SQLite backend whose write transactions queue on a file lock instead of sleeping.

Every transaction begins IMMEDIATE (it takes SQLite's one write lock at BEGIN). When another
connection holds that lock, SQLite's busy handler makes the waiter sleep and retry — after 1, 2, 5,
10, 15, 20, 25, 25, 25, 50, 50, 100 ms — so a writer blocked by a transaction of a few milliseconds
often slept tens of them. Under the chat's load that sleep, not any write, was the tail of a
visitor's delay (bench/chat_sockets.py: an agent's reply committed by another process or a worker
thread put the intake's batch to sleep for up to 100 ms at a time).

Here each connection takes an exclusive `flock` on a file beside the database before its BEGIN and
lets go after COMMIT or ROLLBACK (or when the connection closes). The kernel wakes a waiter the
moment the lock is free, in this process or another; the process dying lets go too. SQLite's busy
timeout stays, for the writes that are not in a transaction (a lone UPDATE in autocommit mode) and
for checkpoints.

Checkpoints move out of the writers' way too. SQLite copies the write-ahead log back into the
database (and fsyncs both) inside the COMMIT that takes the log past 1,000 pages: a visitor's chat
line that happened to commit then waited ~250 ms on the disk, and every other writer behind it, as
the lock is held until that COMMIT returns. Here connections never checkpoint on their own
(`wal_autocheckpoint=0`); a daemon thread per database and process runs a PASSIVE checkpoint (one
that waits for no reader or writer) once a second while there are commits — and every few seconds
anyway, for writes made outside a transaction — on a connection of its own. SQLite still checkpoints
when the last connection closes.

In-memory databases (the test suite's) are left as Django has them: one process, and a test's
class-long transaction must not hold a lock other threads would wait on.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from typing import Any

from django.db.backends.sqlite3 import base

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 1.0  # seconds between the checkpointer's looks at the log, while there are commits
IDLE_ROUNDS = 5  # …and a look after this many of those without a commit noted


class Checkpointer:
    """The one thread per database file and process that checkpoints the write-ahead log."""

    def __init__(self, path: str, every: float = CHECKPOINT_EVERY) -> None:
        self.path, self.every = path, every
        self._committed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checkpoints = 0

    def note_commit(self) -> None:
        self._committed.set()
        self.start()

    def start(self) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():  # also after a fork: the child has no such thread
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="opiekun-sqlite-checkpoint", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while True:
                self._committed.wait(self.every * IDLE_ROUNDS)
                self._committed.clear()
                try:
                    if connection is None:
                        connection = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:
                    log.warning("checkpoint of %s failed; trying again", self.path, exc_info=True)
                    if connection is not None:
                        connection.close()
                    connection = None
                time.sleep(self.every)
        finally:
            if connection is not None:
                connection.close()


_checkpointers: dict[str, Checkpointer] = {}
_checkpointers_lock = threading.Lock()


def checkpointer(path: str) -> Checkpointer:
    found = _checkpointers.get(path)
    if found is None:
        with _checkpointers_lock:
            found = _checkpointers.setdefault(path, Checkpointer(path))
    return found


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer_fd: int | None = None

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            connection.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            checkpointer(str(self.settings_dict["NAME"])).start()
        return connection

    def _writers_lock_path(self) -> str | None:
        if self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}-writers"

    def _start_transaction_under_autocommit(self) -> None:
        path = self._writers_lock_path()
        if path is None or self._writer_fd is not None:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # Django's, not in the stubs
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        except BaseException:
            os.close(fd)
            raise
        self._writer_fd = fd
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # Django's, not in the stubs
        except BaseException:
            self._let_writers_go()
            raise

    def _let_writers_go(self) -> None:
        fd, self._writer_fd = self._writer_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its flock

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # Django's, not in the stubs
        finally:
            if not self._in_transaction():
                self._let_writers_go()
        if not self.is_in_memory_db():
            checkpointer(str(self.settings_dict["NAME"])).note_commit()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # Django's, not in the stubs
        finally:
            self._let_writers_go()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # Django's, not in the stubs
        finally:
            self._let_writers_go()

    def _in_transaction(self) -> bool:
        """Whether SQLite still holds a transaction (a failed COMMIT leaves it open, to roll back)."""
        return self.connection is not None and bool(self.connection.in_transaction)
