"""Remembered navigation counts: computed once, served without queries, dropped when a case changes."""

import pytest
from django.core.cache import cache

from opiekun.agents.models import Agent
from opiekun.conversations import listcache, selectors, services
from opiekun.conversations.models import Status
from opiekun.testing import factories


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _as_the_desk_loads(agent):
    """The agent with their shop row, read per request (its list version says what changed)."""
    return Agent.objects.select_related("shop").get(pk=agent.pk)


def _open_case(shop, **kw):
    return factories.ConversationFactory(shop=shop, status=Status.OPEN, **kw)


@pytest.mark.django_db
def test_cached_counts_equal_fresh_ones_and_cost_no_query(shop, agent, django_assert_num_queries):
    _open_case(shop, assignee=agent)
    _open_case(shop)
    fresh = selectors.view_counts(agent=agent)
    with django_assert_num_queries(0):
        cached = selectors.view_counts(agent=agent, cached=True)
    assert cached == fresh
    assert (cached.mine, cached.unassigned, cached.open) == (1, 1, 2)


@pytest.mark.django_db
def test_a_committed_change_drops_the_remembered_counts(shop, agent, django_capture_on_commit_callbacks):
    case = _open_case(shop)
    assert selectors.view_counts(agent=_as_the_desk_loads(agent), cached=True).mine == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_assign(conversation=case, agent=agent, actor=agent)
    assert selectors.view_counts(agent=_as_the_desk_loads(agent), cached=True).mine == 1


@pytest.mark.django_db
def test_without_an_event_the_remembered_counts_are_served(shop, agent):
    selectors.view_counts(agent=agent, cached=True)
    _open_case(shop, assignee=agent)  # written behind the services' back: no event, so no refresh
    assert selectors.view_counts(agent=agent, cached=True).mine == 0
    assert selectors.view_counts(agent=agent).mine == 1  # the fresh path still counts


@pytest.mark.django_db
def test_counts_computed_before_a_change_are_never_served_after_it(shop, agent, monkeypatch):
    _open_case(shop, assignee=agent)
    real_count = selectors.Conversation.objects.filter

    def count_then_change(*args, **kwargs):
        # The change lands (moving the shop's list version on) while the counting query is being built.
        monkeypatch.setattr(selectors.Conversation.objects, "filter", real_count)
        listcache.list_version_bump(shop_id=shop.pk)
        return real_count(*args, **kwargs)

    monkeypatch.setattr(selectors.Conversation.objects, "filter", count_then_change)
    selectors.shop_counts(shop_id=shop.pk)
    monkeypatch.undo()
    stored = cache.get(selectors._counts_key(shop.pk, selectors._counts_version(shop.pk)))
    assert stored is None


@pytest.mark.django_db
def test_each_shop_has_its_own_counts(shop, other_shop, agent):
    _open_case(shop)
    other_agent = factories.AgentFactory(shop=other_shop)
    _open_case(other_shop)
    _open_case(other_shop)
    assert selectors.view_counts(agent=agent, cached=True).open == 1
    assert selectors.view_counts(agent=other_agent, cached=True).open == 2
