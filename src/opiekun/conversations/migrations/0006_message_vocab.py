"""SQLite: the table of indexed word terms that expands a search prefix (see conversations.search)."""

from django.db import migrations

CREATE = "CREATE TABLE IF NOT EXISTS conversations_message_vocab (term TEXT PRIMARY KEY) WITHOUT ROWID"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute(CREATE)
    # An installation indexed before this table existed: take its terms from the FTS index itself.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.opiekun_fts_terms "
            "USING fts5vocab(main, conversations_message_fts, row)"
        )
        cursor.execute("SELECT term FROM temp.opiekun_fts_terms")
        terms = [(t,) for (t,) in cursor.fetchall() if "x" in t and not t.split("x", 1)[1].isdigit()]
        cursor.executemany("INSERT OR IGNORE INTO conversations_message_vocab (term) VALUES (%s)", terms)
        cursor.execute("DROP TABLE temp.opiekun_fts_terms")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS conversations_message_vocab")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_sla_view_indexes")]

    operations = [migrations.RunPython(create, drop)]
