"""The desk's remembered lists and pages, with the cache on: fresh after every change, never shared
across agents, shops or languages, time-dependent content per minute, CSRF and sign-out intact."""

import datetime as dt
import re

import pytest
from django.core.cache import caches
from django.test import Client

from opiekun.conversations import listcache
from opiekun.conversations.models import Status
from opiekun.conversations.services import conversation_assign, conversation_set_status
from opiekun.core import clock
from opiekun.testing import factories

LIVE = {"HTTP_HX_REQUEST": "true", "HTTP_X_OPIEKUN_LIVE": "1"}


@pytest.fixture(autouse=True)
def desk_cache(settings):
    """The production arrangement: rendered lists remembered in this process's memory."""
    settings.CACHES = {
        **settings.CACHES,
        "desk": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "listcache-test"},
    }
    caches["desk"].clear()
    yield caches["desk"]
    caches["desk"].clear()


@pytest.fixture
def frozen():
    at = dt.datetime(2026, 3, 2, 10, 0, 20, tzinfo=dt.UTC)
    clock.freeze(at)
    yield at
    clock.freeze(None)


def signed_in(agent) -> Client:
    client = Client()
    client.force_login(agent.user)
    return client


def shown(response) -> list[int]:
    """Case numbers in the list, read from the HTML (a remembered list has no row objects)."""
    return [int(n) for n in re.findall(r'id="conv-(\d+)"', response.content.decode())]


def case(shop, **kw):
    return factories.ConversationFactory(shop=shop, status=kw.pop("status", Status.OPEN), **kw)


@pytest.mark.django_db
def test_the_list_is_remembered_until_the_shop_version_moves(shop, agent):
    desk = signed_in(agent)
    first = case(shop)
    assert shown(desk.get("/?view=open")) == [first.number]
    second = case(shop)  # behind the services' back: nothing tells the desk
    assert shown(desk.get("/?view=open")) == [first.number]  # so the remembered page is served
    assert shown(desk.get("/list/?view=open", **LIVE)) == [first.number]
    # Another process's service bumps the version in its transaction; this process only reads it.
    listcache.list_version_bump(shop_id=shop.pk)
    assert sorted(shown(desk.get("/?view=open"))) == sorted([first.number, second.number])
    assert sorted(shown(desk.get("/list/?view=open", **LIVE))) == sorted([first.number, second.number])


@pytest.mark.django_db
def test_a_change_through_a_service_shows_on_the_next_request(shop, agent):
    desk = signed_in(agent)
    mine = case(shop)
    assert shown(desk.get("/")) == []  # "Mine" is empty, and remembered
    conversation_assign(conversation=mine, agent=agent, actor=agent)
    assert shown(desk.get("/")) == [mine.number]
    assert shown(desk.get("/list/", **LIVE)) == [mine.number]
    conversation_set_status(conversation=mine, status=Status.RESOLVED, actor=agent)
    assert shown(desk.get("/list/", **LIVE)) == []
    assert shown(desk.get("/")) == []


@pytest.mark.django_db
def test_agents_never_get_each_others_mine(shop, agent):
    colleague = factories.AgentFactory(shop=shop, display_name="Piotr Wiśniewski")
    anna_case = case(shop, assignee=agent)
    piotr_case = case(shop, assignee=colleague)
    anna, piotr = signed_in(agent), signed_in(colleague)
    assert shown(anna.get("/")) == [anna_case.number]
    assert shown(anna.get("/list/", **LIVE)) == [anna_case.number]
    # Same shop, same version, same minute, same address: still Piotr's own list and page.
    page = piotr.get("/")
    assert shown(page) == [piotr_case.number]
    assert "Piotr Wiśniewski" in page.content.decode() and "Anna Nowak" not in page.content.decode()
    assert shown(piotr.get("/list/", **LIVE)) == [piotr_case.number]


@pytest.mark.django_db
def test_a_shop_is_never_served_another_shops_rows(shop, other_shop, agent):
    stranger = factories.AgentFactory(shop=other_shop)
    ours = case(shop, subject="Our parcel")
    theirs = case(other_shop, subject="Their invoice")
    # Equal versions (both shops fresh), equal views and filters: only the shop tells the keys apart.
    assert listcache.list_version(shop_id=shop.pk) == listcache.list_version(shop_id=other_shop.pk)
    ours_page = signed_in(agent).get("/?view=open")
    theirs_page = signed_in(stranger).get("/?view=open")
    assert shown(ours_page) == [ours.number] and "Their invoice" not in ours_page.content.decode()
    assert shown(theirs_page) == [theirs.number] and "Our parcel" not in theirs_page.content.decode()
    again = signed_in(stranger).get("/list/?view=open", **LIVE)
    assert shown(again) == [theirs.number]


@pytest.mark.django_db
def test_each_language_gets_its_own_rendering(shop, agent):
    case(shop, subject="")
    desk = signed_in(agent)
    english = desk.get("/list/?view=open", **LIVE).content.decode()
    desk.cookies["django_language"] = "pl"
    polish = desk.get("/list/?view=open", **LIVE).content.decode()
    assert "(no subject)" in english and "Unassigned" in english
    assert "(bez tematu)" in polish and "Nieprzypisane" in polish and "(no subject)" not in polish
    desk.cookies["django_language"] = "en"
    assert "(no subject)" in desk.get("/list/?view=open", **LIVE).content.decode()


@pytest.mark.django_db
def test_relative_times_and_sla_badges_follow_the_minute(shop, agent, frozen):
    # The clock stands 20 s into the minute; times are computed at the minute's start (10:00:00).
    minute = frozen.replace(second=0)
    due = minute + dt.timedelta(minutes=30)
    case(shop, last_message_at=minute - dt.timedelta(minutes=5), sla_due_at=due, waiting_since=minute)
    desk = signed_in(agent)

    def row() -> str:
        html = desk.get("/list/?view=open", **LIVE).content.decode()
        return re.sub(r"\s+", " ", html)

    assert '<span class="ci-when">5 min</span>' in row()
    assert "sla-soon" in row()
    clock.freeze(frozen + dt.timedelta(seconds=39))  # the same minute: the same rendering
    assert '<span class="ci-when">5 min</span>' in row()
    clock.freeze(frozen + dt.timedelta(minutes=3))  # a new minute: rendered again at its start
    assert '<span class="ci-when">8 min</span>' in row()
    clock.freeze(frozen + dt.timedelta(minutes=45))
    later = row()
    assert "sla-overdue" in later and "sla-soon" not in later


@pytest.mark.django_db
def test_sla_at_risk_view_moves_with_the_minute(shop, agent, frozen):
    risky = case(shop, sla_due_at=frozen + dt.timedelta(minutes=75), waiting_since=frozen)
    desk = signed_in(agent)
    assert shown(desk.get("/?view=sla_risk")) == []
    clock.freeze(frozen + dt.timedelta(minutes=20))
    assert shown(desk.get("/?view=sla_risk")) == [risky.number]


@pytest.mark.django_db
def test_a_remembered_page_carries_the_requests_own_working_csrf_token(shop, agent):
    case(shop, assignee=agent)
    first = Client(enforce_csrf_checks=True)
    first.force_login(agent.user)
    first.get("/")
    second = Client(enforce_csrf_checks=True)
    second.force_login(agent.user)
    page = second.get("/").content.decode()  # from the cache
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))
    assert len(tokens) == 1
    assert not re.search(r"csrf[0-9a-f]{32}", page)  # the stand-in never leaves the server
    (token,) = tokens
    assert re.search(rf'<meta name="csrf-token" content="{token}">', page)
    answer = second.post("/language/", {"language": "pl", "next": "/", "csrfmiddlewaretoken": token})
    assert answer.status_code in (302, 303)


@pytest.mark.django_db
def test_one_time_messages_are_never_remembered_nor_lost(shop, agent):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest, HttpResponse

    desk = signed_in(agent)
    desk.get("/")  # the page is remembered without messages
    request, response = HttpRequest(), HttpResponse()
    storage = CookieStorage(request)
    storage.add(constants.SUCCESS, "Caretaker saved.")
    storage.update(response)
    desk.cookies["messages"] = response.cookies["messages"].value
    assert "Caretaker saved." in desk.get("/").content.decode()
    assert "Caretaker saved." not in desk.get("/").content.decode()


@pytest.mark.django_db
def test_a_remembered_page_costs_two_queries_session_and_agent(shop, agent, django_assert_num_queries):
    case(shop, assignee=agent)
    desk = signed_in(agent)
    desk.get("/")
    with django_assert_num_queries(2):  # the session, the user with agent and shop (and so the version)
        assert desk.get("/").status_code == 200


@pytest.mark.django_db
def test_signing_out_ends_the_session_whatever_is_remembered(shop, agent):
    desk = signed_in(agent)
    cookie = desk.cookies["sessionid"].value
    assert desk.get("/").status_code == 200
    desk.post("/logout/")
    replay = Client()
    replay.cookies["sessionid"] = cookie  # the old cookie, as a thief would keep it
    answer = replay.get("/")
    assert answer.status_code == 302 and "/login/" in answer["Location"]


@pytest.mark.django_db
def test_a_password_change_signs_other_sessions_out(shop, agent):
    desk = signed_in(agent)
    assert desk.get("/").status_code == 200
    agent.user.set_password("a-new-long-password")
    agent.user.save()
    answer = desk.get("/")
    assert answer.status_code == 302 and "/login/" in answer["Location"]


@pytest.mark.django_db
def test_a_deactivated_agent_is_refused_at_once(shop, agent):
    desk = signed_in(agent)
    assert desk.get("/").status_code == 200
    agent.user.is_active = False
    agent.user.save()
    assert desk.get("/").status_code == 302
