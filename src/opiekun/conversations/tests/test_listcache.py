"""The shop's list version: moved on by every list-visible change, in the change's own transaction."""

import pytest
from django.core.cache import cache
from django.db import transaction

from opiekun.agents.models import Agent
from opiekun.contacts.services import contact_set_caretaker
from opiekun.conversations import listcache, selectors, services
from opiekun.conversations.models import Conversation, Priority, Status
from opiekun.testing import factories


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def version(shop) -> int:
    return listcache.list_version(shop_id=shop.pk)


def fresh_agent(agent) -> Agent:
    """The agent as a desk request loads it: with its shop row (and so the list version) read now."""
    return Agent.objects.select_related("shop").get(pk=agent.pk)


def _case(shop, **kw) -> Conversation:
    return factories.ConversationFactory(shop=shop, status=Status.OPEN, **kw)


CHANGES = {
    "create": lambda shop, agent, case: services.conversation_create(shop=shop, contact=case.contact),
    "inbound": lambda shop, agent, case: services.message_record_inbound(
        conversation=case, channel="webform", text="Hello?"
    ),
    "reply": lambda shop, agent, case: services.message_send(conversation=case, agent=agent, text="Hi"),
    "assign": lambda shop, agent, case: services.conversation_assign(
        conversation=case, agent=agent, actor=agent
    ),
    "status": lambda shop, agent, case: services.conversation_set_status(
        conversation=case, status=Status.RESOLVED, actor=agent
    ),
    "priority": lambda shop, agent, case: services.conversation_set_priority(
        conversation=case, priority=Priority.URGENT, actor=agent
    ),
    "tags": lambda shop, agent, case: services.conversation_tag(conversation=case, add=["vip"], actor=agent),
    "merge": lambda shop, agent, case: services.conversation_merge(
        source=_case(shop, contact=case.contact), target=case, actor=agent
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_list_visible_change_moves_the_version_inside_its_transaction(
    change, shop, other_shop, agent, django_capture_on_commit_callbacks
):
    case = _case(shop)
    before, other_before = version(shop), version(other_shop)
    # Nothing after commit runs here: the version must already have moved with the change itself.
    with django_capture_on_commit_callbacks(execute=False):
        CHANGES[change](shop, agent, case)
    assert version(shop) > before
    assert version(other_shop) == other_before


@pytest.mark.django_db
def test_a_change_that_rolls_back_leaves_the_version_alone(shop, agent):
    case = _case(shop)
    before = version(shop)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.conversation_assign(conversation=case, agent=agent, actor=agent)
        raise RuntimeError("the rest of the request failed")
    assert version(shop) == before


@pytest.mark.django_db
def test_an_internal_note_changes_no_list(shop, agent):
    case = _case(shop)
    before = version(shop)
    services.note_add(conversation=case, agent=agent, text="Call the warehouse")
    assert version(shop) == before


@pytest.mark.django_db
def test_a_caretaker_change_moves_the_version_after_commit(shop, agent, django_capture_on_commit_callbacks):
    contact = factories.ContactFactory(shop=shop)
    before = version(shop)
    with django_capture_on_commit_callbacks(execute=True):
        contact_set_caretaker(contact=contact, caretaker=agent, backup=None, actor=agent)
    assert version(shop) == before + 1


@pytest.mark.django_db
def test_counts_follow_a_version_moved_by_another_process(shop, agent):
    """Another web process's change reaches this one only through the database: the version read with
    the agent tells."""
    assert selectors.view_counts(agent=fresh_agent(agent), cached=True).mine == 0
    _case(shop, assignee=agent)  # written behind this process's back: no event here
    assert selectors.view_counts(agent=fresh_agent(agent), cached=True).mine == 0  # remembered, as before
    listcache.list_version_bump(shop_id=shop.pk)  # what the other process's service did in its transaction
    assert selectors.view_counts(agent=fresh_agent(agent), cached=True).mine == 1


@pytest.mark.django_db
def test_remembered_counts_cost_no_query_and_stay_per_agent(shop, agent, django_assert_num_queries):
    colleague = factories.AgentFactory(shop=shop)
    _case(shop, assignee=agent)
    _case(shop, assignee=colleague)
    _case(shop, assignee=colleague)
    mine, theirs = fresh_agent(agent), fresh_agent(colleague)
    selectors.view_counts(agent=mine, cached=True)
    selectors.view_counts(agent=theirs, cached=True)
    with django_assert_num_queries(0):
        assert selectors.view_counts(agent=mine, cached=True).mine == 1
        assert selectors.view_counts(agent=theirs, cached=True).mine == 2
