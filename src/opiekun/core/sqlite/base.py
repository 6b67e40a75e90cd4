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

In-memory databases (the test suite's) are left as Django has them: one process, and a test's
class-long transaction must not hold a lock other threads would wait on.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer_fd: int | None = None

    def _writers_lock_path(self) -> str | None:
        if self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}-writers"

    def _start_transaction_under_autocommit(self) -> None:
        path = self._writers_lock_path()
        if path is None or self._writer_fd is not None:
            super()._start_transaction_under_autocommit()
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        except BaseException:
            os.close(fd)
            raise
        self._writer_fd = fd
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._let_writers_go()
            raise

    def _let_writers_go(self) -> None:
        fd, self._writer_fd = self._writer_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its flock

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            if not self._in_transaction():
                self._let_writers_go()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._let_writers_go()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._let_writers_go()

    def _in_transaction(self) -> bool:
        """Whether SQLite still holds a transaction (a failed COMMIT leaves it open, to roll back)."""
        return self.connection is not None and bool(self.connection.in_transaction)
