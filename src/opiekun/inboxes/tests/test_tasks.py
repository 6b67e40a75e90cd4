"""The periodic sweep of stored-but-unprocessed mail survives a database that is down."""

import logging

from django.db import OperationalError

from opiekun.inboxes import mailstore, tasks


def test_pending_mail_sweep_only_warns_when_the_database_is_down(monkeypatch, caplog):
    def down(**_kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(mailstore, "mail_process_pending", down)
    with caplog.at_level(logging.WARNING, logger="opiekun.inboxes.tasks"):
        tasks.process_pending_mail.call_local()
    assert "next sweep retries" in caplog.text
    assert "Traceback" not in caplog.text
