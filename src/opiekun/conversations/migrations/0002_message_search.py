"""The full-text index of messages (opiekun.conversations.search): FTS5 on SQLite, tsvector + GIN on PostgreSQL."""

from django.db import migrations

SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS conversations_message_fts USING fts5("
    "terms, content='', columnsize=0, detail=none, tokenize='unicode61 remove_diacritics 0')"
)
PG_CREATE = [
    "CREATE TABLE IF NOT EXISTS conversations_message_search ("
    "message_id bigint PRIMARY KEY, is_internal boolean NOT NULL DEFAULT false, terms tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS conversations_message_search_terms "
    "ON conversations_message_search USING gin (terms)",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)
        # Also made by 0006 for databases that ran an earlier version of this migration.
        schema_editor.execute(
            "CREATE TABLE IF NOT EXISTS conversations_message_vocab (term TEXT PRIMARY KEY) WITHOUT ROWID"
        )
    elif vendor == "postgresql":
        for sql in PG_CREATE:
            schema_editor.execute(sql)
    else:
        return
    # Index what an existing installation already holds (nothing on a fresh one).
    from opiekun.conversations.search import search_rebuild

    search_rebuild()


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS conversations_message_fts")
        schema_editor.execute("DROP TABLE IF EXISTS conversations_message_vocab")
    elif vendor == "postgresql":
        schema_editor.execute("DROP TABLE IF EXISTS conversations_message_search")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
