"""After a migration rebuilt a table, SQLite's planner gets its statistics back."""

import pytest
from django.db import connection

from opiekun.core.statistics import analyse_unanalysed_tables


@pytest.mark.django_db
def test_tables_with_rows_but_no_statistics_are_analysed():
    if connection.vendor != "sqlite":
        assert analyse_unanalysed_tables() == []  # PostgreSQL keeps its own statistics
        return
    # auth_permission has rows in every migrated database (the kernel's tests import no app's factories)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            "DELETE FROM sqlite_stat1 WHERE tbl = 'auth_permission'"
        )  # as a table rebuild leaves it
    analysed = analyse_unanalysed_tables()
    assert "auth_permission" in analysed
    assert not any(t.startswith("conversations_message_fts") for t in analysed)  # FTS keeps its own
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'auth_permission'")
        assert cursor.fetchone()[0] > 0
    assert analyse_unanalysed_tables() == []  # nothing left the second time


@pytest.mark.django_db
def test_a_new_index_on_an_analysed_table_gets_its_statistics():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL keeps its own statistics")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("CREATE INDEX perm_name_for_test ON auth_permission (name)")  # as a migration adds one
    analysed = analyse_unanalysed_tables()
    assert analysed == ["perm_name_for_test"]  # what lacked statistics (the analysis is of everything)
    with connection.cursor() as cursor:
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE idx = 'perm_name_for_test'")
        assert cursor.fetchone() is not None
    assert analyse_unanalysed_tables() == []
