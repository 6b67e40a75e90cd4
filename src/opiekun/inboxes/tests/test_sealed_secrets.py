"""Inbox secrets are sealed at rest; migration 0006 seals what an older installation stored in plain JSON."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from opiekun.inboxes.models import Inbox
from opiekun.testing import factories


def _raw_secrets(inbox_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM inboxes_inbox WHERE id = %s", [inbox_id])
        return str(cursor.fetchone()[0])


def test_a_password_is_not_readable_in_the_database(shop):
    inbox = factories.InboxFactory(shop=shop, kind="email", config={"address": "a@b.test"})
    inbox.secrets = {"imap_password": "hunter2-imap"}
    inbox.save()
    assert "hunter2" not in _raw_secrets(inbox.pk)
    assert Inbox.objects.get(pk=inbox.pk).secrets == {"imap_password": "hunter2-imap"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_plain_secrets_and_unseals_them_when_reversed():
    executor = MigrationExecutor(connection)
    before, after = [("inboxes", "0005_imap_history")], [("inboxes", "0006_sealed_secrets")]
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        shop = old.get_model("shops", "Shop").objects.create(name="Old", slug="old")
        old_inbox = old.get_model("inboxes", "Inbox").objects.create(
            shop=shop, kind="email", name="Mail", secrets={"imap_password": "hunter2-imap"}
        )
        plain = old.get_model("inboxes", "Inbox").objects.create(shop=shop, kind="note", name="Notes")
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        assert "hunter2" not in _raw_secrets(old_inbox.pk)
        new = executor.loader.project_state(after).apps.get_model("inboxes", "Inbox")
        assert new.objects.get(pk=old_inbox.pk).secrets == {"imap_password": "hunter2-imap"}
        assert new.objects.get(pk=plain.pk).secrets == {}
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        reverted = executor.loader.project_state(before).apps.get_model("inboxes", "Inbox")
        assert reverted.objects.get(pk=old_inbox.pk).secrets == {"imap_password": "hunter2-imap"}
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
