"""The inbox views are answered from their partial indexes in list order (bench/desk_queries.py).

On SQLite a partial index is only usable when the query names the index's literal values; bound
parameters silently fall back to sorting every case of the shop. These tests read the real plan of
the real query (with its bound parameters) so that regression shows up here, not in production.
"""

import pytest
from django.db import connection

from opiekun.conversations import selectors
from opiekun.conversations.models import Conversation


def _plan(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # A test database is tiny and its statistics depend on which tests ran before; with scans and
        # sorts priced out, the planner shows whether the partial index can answer in list order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _list_qs(agent, view):
    q = selectors._view_q(agent, view, None, selectors.clock.now())
    return (
        Conversation.objects.filter(shop_id=agent.shop_id).filter(q).order_by("-last_message_at", "-id")[:50]
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("view", "index"),
    [
        ("open", "conv_open_"),
        ("mine", "conv_open_"),
        ("unassigned", "conv_open_"),
        ("my_customers", "conv_open_"),
        ("resolved", "conv_done_recent"),
    ],
)
def test_view_uses_its_partial_index_without_sorting(agent, view, index):
    plan = _plan(_list_qs(agent, view))
    assert index in plan, plan
    if connection.vendor == "sqlite":
        assert "TEMP B-TREE" not in plan, plan


def test_literal_in_refuses_anything_but_code_constants():
    with pytest.raises(ValueError):
        selectors.LiteralIn("status", ("open', 'x') OR 1=1 --",))


@pytest.mark.django_db
def test_counts_read_one_covering_index_and_no_contacts(agent):
    qs = (
        Conversation.objects.filter(selectors._open(), shop_id=agent.shop_id)
        .values_list("assignee_id", "team_id", "caretaker_id", "status")
        .annotate(n=selectors.Count("*"))
        .order_by()
    )
    plan = _plan(qs)
    assert "conv_open_counts" in plan, plan
    assert "contacts_contact" not in plan, plan
