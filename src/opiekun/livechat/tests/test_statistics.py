"""Chat statistics: wait to the first answer, reply times, length, missed chats; per agent and hour."""

import datetime as dt

import pytest

from opiekun.conversations.services import message_send
from opiekun.livechat import services
from opiekun.livechat.models import ChatSession
from opiekun.livechat.statistics import chat_report, chat_stats
from opiekun.testing import factories
from opiekun.testing.clock import frozen

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


def at(seconds):
    return T0 + dt.timedelta(seconds=seconds)


def visitor_says(session, widget, seconds, text):
    with frozen(at(seconds)):
        return services.chat_message_store(
            session=session, widget=widget, client_id=f"c{seconds}", text=text
        ).message


def agent_says(conversation, agent, seconds, text):
    with frozen(at(seconds)):
        return message_send(conversation=conversation, agent=agent, text=text)


def test_one_chats_figures(widget, agent):
    with frozen(T0):
        session = services.chat_session_open(widget=widget, key=None)
    conversation = visitor_says(session, widget, 0, "Dzień dobry").conversation
    visitor_says(session, widget, 20, "Jest tam ktoś?")
    agent_says(conversation, agent, 45, "Tak, słucham")  # waited 45 s from the first message
    visitor_says(session, widget, 60, "Gdzie paczka?")
    agent_says(conversation, agent, 70, "Sprawdzam")  # 10 s
    agent_says(conversation, agent, 130, "Jutro u Pana")  # not a reply time: nothing unanswered
    conversation.refresh_from_db()
    session.refresh_from_db()
    with frozen(at(140)):
        stats = chat_stats(conversation=conversation, session=session)
    assert stats.wait_seconds == 45
    assert stats.reply_seconds == [45, 10]
    assert stats.average_reply_seconds == 28 and stats.longest_reply_seconds == 45
    assert stats.duration_seconds == 130
    assert (stats.visitor_messages, stats.agent_messages, stats.message_count) == (3, 3, 6)
    assert stats.missed is False and stats.waiting is False


def test_a_visitor_who_left_unanswered_is_a_missed_chat(widget):
    with frozen(T0):
        session = services.chat_session_open(widget=widget, key=None)
    conversation = visitor_says(session, widget, 0, "Halo?").conversation
    with frozen(at(10)):
        services.chat_session_left(session_id=session.pk)
    session.refresh_from_db()
    with frozen(at(30)):
        assert chat_stats(conversation=conversation, session=session).missed is False  # may come back
        assert chat_stats(conversation=conversation, session=session).waiting is True
    with frozen(at(10 + 200)):
        stats = chat_stats(conversation=conversation, session=session)
    assert stats.missed is True and stats.wait_seconds is None


def test_a_visitor_still_there_is_waiting_not_missed(widget):
    with frozen(T0):
        session = services.chat_session_open(widget=widget, key=None)
    conversation = visitor_says(session, widget, 0, "Halo?").conversation
    with frozen(at(50)):
        services.chat_session_seen(session_id=session.pk)
        session.refresh_from_db()
        stats = chat_stats(conversation=conversation, session=session)
    assert stats.missed is False and stats.waiting is True


def test_the_report_per_agent_and_hour(shop, widget, agent):
    colleague = factories.AgentFactory(shop=shop, display_name="Piotr")
    with frozen(T0):
        first = services.chat_session_open(widget=widget, key=None)
        second = services.chat_session_open(widget=widget, key=None)
        third = services.chat_session_open(widget=widget, key=None)
    a = visitor_says(first, widget, 0, "A").conversation
    agent_says(a, agent, 30, "a")
    b = visitor_says(second, widget, 3600, "B").conversation  # the next hour
    agent_says(b, colleague, 3660, "b")
    visitor_says(third, widget, 3700, "C")
    ChatSession.objects.filter(pk=third.pk).update(ended_at=at(3710))
    with frozen(at(4000)):
        report = chat_report(shop_id=shop.pk, since=T0 - dt.timedelta(hours=1), until=at(7200))
    assert (report["chats"], report["answered"], report["missed"]) == (3, 2, 1)
    assert report["average_wait_seconds"] == 45
    assert report["per_agent"][str(agent.pk)] == {"chats": 1, "replies": 1, "average_reply_seconds": 30}
    assert report["per_agent"][str(colleague.pk)]["average_reply_seconds"] == 60
    assert report["per_hour"]["2026-12-01T10:00:00+00:00"] == {"chats": 1, "missed": 0, "replies": 1}
    assert report["per_hour"]["2026-12-01T11:00:00+00:00"] == {"chats": 2, "missed": 1, "replies": 1}
