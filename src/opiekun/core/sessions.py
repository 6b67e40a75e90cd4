"""Database sessions whose per-request read is one plain SELECT (SESSION_ENGINE = "opiekun.core.sessions").

Django's db backend reads the session through the ORM, compiling the same query on every request;
on the desk's remembered pages that compiling was a third of the request (bench/inbox_http.py).
Everything else — creating, saving, rotating, deleting, expiry — is Django's own, unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict[str, Any]:
        """The session's data if it exists and has not expired, else {} (and no key, as Django does)."""
        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        quote = connection.ops.quote_name
        sql = (
            f"SELECT {quote('session_data')} FROM {quote(model._meta.db_table)} "
            f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])  # as Django's: tampered data decodes to {} (and is logged)
