import datetime as dt

import pytest
from django.core.cache import cache

from opiekun.contacts.services import contact_set_caretaker
from opiekun.conversations.models import Conversation, Priority, Status
from opiekun.conversations.services import conversation_assign, conversation_set_status, conversation_tag
from opiekun.core import clock
from opiekun.testing import factories

from .conftest import inbound


def numbers(response) -> list[int]:
    return [row.conversation.number for row in response.context["rows"]]


@pytest.fixture
def world(shop, agent, inbox):
    """A small shop: conversations in every state the views tell apart."""
    team = factories.TeamFactory(shop=shop, name="Returns")
    colleague = factories.AgentFactory(shop=shop, display_name="Piotr Wiśniewski")
    mine = inbound(inbox, email="a@example.org", name="Alicja Mine", text="mine").conversation
    conversation_assign(conversation=mine, agent=agent, actor=agent)
    theirs = inbound(inbox, email="b@example.org", name="Bartek Theirs", text="theirs").conversation
    conversation_assign(conversation=theirs, agent=colleague, actor=agent)
    cared = inbound(inbox, email="c@example.org", name="Celina Cared", text="cared").conversation
    contact_set_caretaker(contact=cared.contact, caretaker=agent, backup=None, actor=agent)
    conversation_assign(conversation=cared, agent=colleague, actor=agent)
    unassigned = inbound(inbox, email="d@example.org", name="Dorota Queue", text="queue").conversation
    teamed = inbound(inbox, email="e@example.org", name="Edward Team", text="team").conversation
    conversation_assign(conversation=teamed, agent=None, team=team, set_team=True, actor=agent)
    waiting_customer = inbound(inbox, email="f@example.org", name="Filip Waiting", text="w1").conversation
    conversation_set_status(conversation=waiting_customer, status=Status.PENDING_CUSTOMER, actor=agent)
    waiting_internal = inbound(inbox, email="g@example.org", name="Gosia Internal", text="w2").conversation
    conversation_set_status(conversation=waiting_internal, status=Status.PENDING_INTERNAL, actor=agent)
    resolved = inbound(inbox, email="h@example.org", name="Henryk Done", text="done").conversation
    conversation_set_status(conversation=resolved, status=Status.RESOLVED, actor=agent)
    # SLA at risk: due in 30 minutes; the others are due in 4 hours.
    Conversation.objects.filter(pk=unassigned.pk).update(sla_due_at=clock.now() + dt.timedelta(minutes=30))
    return {
        "team": team,
        "mine": mine,
        "theirs": theirs,
        "cared": cared,
        "unassigned": unassigned,
        "teamed": teamed,
        "pending_customer": waiting_customer,
        "pending_internal": waiting_internal,
        "resolved": resolved,
    }


def n(world, *keys):
    return {world[k].number for k in keys}


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("mine", ["mine"]),
        ("my_customers", ["cared"]),
        ("unassigned", ["unassigned", "teamed", "pending_customer", "pending_internal"]),
        ("open", ["mine", "theirs", "cared", "unassigned", "teamed", "pending_customer", "pending_internal"]),
        ("pending_customer", ["pending_customer"]),
        ("pending_internal", ["pending_internal"]),
        ("sla_risk", ["unassigned"]),
        ("resolved", ["resolved"]),
    ],
)
@pytest.mark.django_db
def test_each_view_shows_its_conversations(desk, world, view, expected):
    response = desk.get("/", {"view": view})
    assert response.status_code == 200
    assert set(numbers(response)) == n(world, *expected)


@pytest.mark.django_db
def test_team_view(desk, world):
    response = desk.get("/", {"team": world["team"].pk})
    assert set(numbers(response)) == n(world, "teamed")
    assert response.context["list_title"] == "Returns"


@pytest.mark.django_db
def test_nav_shows_counts(desk, world):
    response = desk.get("/")
    counts = response.context["counts"]
    assert counts["mine"] == 1 and counts["my_customers"] == 1 and counts["unassigned"] == 4
    assert counts["open"] == 7 and counts["sla_risk"] == 1
    assert counts[f"team_{world['team'].pk}"] == 1
    html = response.content.decode()
    assert 'data-count="mine">1</span>' in html
    assert f'data-count="team_{world["team"].pk}">1</span>' in html


@pytest.mark.django_db
def test_default_view_is_mine(desk, world):
    assert set(numbers(desk.get("/"))) == n(world, "mine")


@pytest.mark.django_db
def test_filters_status_priority_channel_tag(desk, world, agent, shop):
    conversation_tag(conversation=world["theirs"], add=["refund"], actor=agent)
    Conversation.objects.filter(pk=world["cared"].pk).update(priority=Priority.URGENT)
    assert set(numbers(desk.get("/", {"view": "open", "tag": "refund"}))) == n(world, "theirs")
    assert set(numbers(desk.get("/", {"view": "open", "priority": "3"}))) == n(world, "cared")
    assert set(numbers(desk.get("/", {"view": "open", "status": "pending_internal"}))) == n(
        world, "pending_internal"
    )
    assert numbers(desk.get("/", {"view": "open", "channel": "email"})) == []
    assert len(numbers(desk.get("/", {"view": "open", "channel": "webform"}))) == 7


@pytest.mark.django_db
def test_invalid_filter_values_are_ignored(desk, world):
    response = desk.get("/", {"view": "nonsense", "priority": "9", "sort": "evil", "limit": "100000"})
    assert response.status_code == 200
    assert set(numbers(response)) == n(world, "mine")


@pytest.mark.django_db
def test_sort_by_number_and_oldest(desk, world):
    newest = numbers(desk.get("/", {"view": "open", "sort": "number"}))
    assert newest == sorted(newest, reverse=True)
    for i, conv in enumerate(Conversation.objects.order_by("number")):
        Conversation.objects.filter(pk=conv.pk).update(
            last_message_at=clock.now() - dt.timedelta(hours=20 - i)
        )
    oldest = numbers(desk.get("/", {"view": "open", "sort": "oldest"}))
    assert oldest == sorted(oldest)


@pytest.mark.django_db
def test_search_by_number_name_and_address(desk, world):
    target = world["pending_internal"]
    assert numbers(desk.get("/", {"view": "all", "q": f"#{target.number}"})) == [target.number]
    assert numbers(desk.get("/", {"view": "all", "q": "gosia"})) == [target.number]
    assert numbers(desk.get("/", {"view": "all", "q": "g@example.org"})) == [target.number]
    assert numbers(desk.get("/", {"view": "all", "q": "no such thing"})) == []


@pytest.mark.django_db
def test_list_fragment_keeps_filters_for_live_refresh(desk, world, hx):
    response = desk.get("/list/", {"view": "open", "q": "a", "sort": "sla"}, headers=hx)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="conversation-list"')
    assert 'hx-trigger="opiekun:refresh' in html
    assert 'hx-get="/list/?view=open&amp;q=a&amp;sort=sla"' in html
    assert 'hx-swap-oob="true"' in html and 'data-count="mine"' in html


@pytest.mark.django_db
def test_filter_form_pushes_the_address(desk, world):
    response = desk.get(
        "/list/",
        {"view": "open", "q": "x"},
        headers={
            "HX-Request": "true",
            "HX-Trigger": "list-tools",
            "HX-Current-URL": "http://t/c/3/?view=open",
        },
    )
    assert response["HX-Push-Url"] == "/c/3/?view=open&q=x"


@pytest.mark.django_db
def test_list_shows_row_details(desk, world, agent):
    conversation_tag(conversation=world["mine"], add=["vip"], actor=agent)
    html = desk.get("/", {"view": "mine"}).content.decode()
    row = world["mine"]
    assert f'id="conv-{row.number}"' in html
    assert "Alicja Mine" in html and ">vip<" in html
    assert "status-open" in html  # status chip
    assert "i-form" in html  # channel icon of the contact form
    assert "due in" in html  # SLA indicator
    assert ">mine<" in html.replace("\n", "") or "mine</div>" in html  # snippet of the last message


@pytest.mark.django_db
def test_html_in_subject_and_message_is_text(desk, inbox, agent):
    conv = inbound(
        inbox, subject="<img src=x onerror=alert(1)>", text="<script>alert('x')</script> hi"
    ).conversation
    conversation_assign(conversation=conv, agent=agent, actor=agent)
    html = desk.get("/").content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_list_never_shows_another_shop(client, world, other_shop):
    stranger = factories.AgentFactory(shop=other_shop, display_name="Eve")
    client.force_login(stranger.user)
    for view in ("open", "all", "unassigned", "resolved"):
        assert numbers(client.get("/", {"view": view})) == []
    assert numbers(client.get("/", {"view": "all", "q": "Alicja"})) == []
    assert client.get("/").context["counts"]["open"] == 0


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_the_page(desk, agent, inbox, django_assert_max_num_queries):
    team = factories.TeamFactory(shop=agent.shop, name="Support")
    for i in range(3):
        conv = inbound(inbox, email=f"p{i}@example.org", text=f"question {i}").conversation
        conversation_tag(conversation=conv, add=["a", "b"], actor=agent)
    cache.clear()  # both pages count from scratch (inside this test's transaction no commit forgets them)
    with django_assert_max_num_queries(14) as small:
        assert desk.get("/", {"view": "open"}).status_code == 200
    for i in range(30):
        conv = inbound(inbox, email=f"q{i}@example.org", text=f"more {i}").conversation
        conversation_tag(conversation=conv, add=["c"], actor=agent)
        conversation_assign(conversation=conv, agent=agent, team=team, set_team=True, actor=agent)
    cache.clear()
    with django_assert_max_num_queries(len(small.captured_queries)) as big:
        response = desk.get("/", {"view": "open"})
    assert len(response.context["rows"]) == 33
    assert len(big.captured_queries) == len(small.captured_queries)


@pytest.mark.django_db
def test_list_fragment_query_count(desk, agent, inbox, django_assert_max_num_queries, hx):
    for i in range(20):
        inbound(inbox, email=f"r{i}@example.org", text=f"more {i}")
    with django_assert_max_num_queries(10):
        desk.get("/list/", {"view": "open"}, headers=hx)


@pytest.mark.django_db
def test_show_more(desk, agent, inbox):
    for i in range(12):
        inbound(inbox, email=f"s{i}@example.org")
    first = desk.get("/", {"view": "open", "limit": "10"})
    assert len(first.context["rows"]) == 10 and first.context["has_more"]
    assert "limit=60" in first.context["more_qs"]
    more = desk.get("/list/", {"view": "open", "limit": "60"})
    assert len(more.context["rows"]) == 12 and not more.context["has_more"]


@pytest.mark.django_db
def test_live_refresh_of_the_list_does_not_recompute_counts(client, agent, monkeypatch):
    from opiekun.ui.desk.views import inbox

    calls = []
    real = inbox.view_counts
    monkeypatch.setattr(inbox, "view_counts", lambda **kw: calls.append(1) or real(**kw))
    client.force_login(agent.user)
    assert client.get("/list/", headers={"X-Opiekun-Live": "1"}).status_code == 200
    assert calls == []
    client.get("/list/")
    assert calls == [1]


@pytest.mark.django_db(transaction=True)
def test_the_page_reads_remembered_counts_and_a_change_refreshes_them(client, shop, inbox):
    """Counts come from the cache between changes; a committed change makes the next page count anew."""
    cache.clear()
    agent = factories.AgentFactory(shop=shop)
    client.force_login(agent.user)
    inbound(inbox, email="one@example.org")
    first = client.get("/").context["counts"]["unassigned"]
    inbound(inbox, email="two@example.org")  # committed: ConversationChanged forgets the counts
    assert client.get("/").context["counts"]["unassigned"] == first + 1
