"""JoinedRow gives the objects select_related would (same values, same converters, same caches)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from opiekun.agents.models import Agent
from opiekun.core.rowload import Join, JoinedRow
from opiekun.shops.models import Shop
from opiekun.testing import factories

USER_AGENT_SHOP = JoinedRow(
    get_user_model(),
    [
        Join(Agent, "agent", via=0, column="user_id", other_column="id", reverse=True),
        Join(Shop, "shop", via=1, column="id", other_column="shop_id"),
    ],
)


def _fields(obj):  # type: ignore[no-untyped-def]
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
def test_the_same_objects_as_select_related_in_one_query(shop, django_assert_num_queries):
    agent = factories.AgentFactory(shop=shop, languages=["pl", "ru"], signature="Pozdrawiam,\nAnna")
    expected = get_user_model().objects.select_related("agent", "agent__shop").get(pk=agent.user_id)
    with django_assert_num_queries(1):
        user = USER_AGENT_SHOP.get(agent.user_id)
        # Everything the desk reads afterwards is already there.
        assert user.agent.shop.name == shop.name and user.agent.user is user
    assert _fields(user) == _fields(expected)
    assert _fields(user.agent) == _fields(expected.agent)
    assert _fields(user.agent.shop) == _fields(expected.agent.shop)
    assert user.agent.languages == ["pl", "ru"]  # the JSON converter ran (text on SQLite)
    assert user.date_joined.tzinfo is not None  # so did the datetime one
    assert not user._state.adding and user._state.db == connection.alias


@pytest.mark.django_db
def test_a_user_without_agent_and_an_unknown_id(django_user_model):
    plain = django_user_model.objects.create_user(username="plain", password="x" * 12)
    user = USER_AGENT_SHOP.get(plain.pk)
    assert user.username == "plain"
    with pytest.raises(Agent.DoesNotExist):
        user.agent  # noqa: B018 — cached as missing, exactly like select_related
    assert USER_AGENT_SHOP.get(plain.pk + 1000) is None
