"""The livechat driver: its settings, which pages may open the widget, opening hours, translation."""

import datetime as dt

import pytest
from pydantic import ValidationError

from opiekun.inboxes.drivers.livechat.driver import (
    LivechatConfig,
    LivechatDriver,
    conversation_group,
    origin_allowed,
    within_hours,
)


def config(**fields):
    return LivechatConfig.model_validate({"public_key": "k" * 20, **fields})


def test_settings_are_validated():
    assert config(colour="#ABCDEF").colour == "#abcdef"
    for bad in (
        {"colour": "red"},
        {"public_key": "short"},
        {"business_hours": {"mon": "9-5"}},
        {"business_hours": {"monday": "09:00-17:00"}},
        {"timezone": "Mars/Olympus"},
        {"allowed_origins": ["a b"]},
        {"max_chats_per_agent": -1},
        {"surprise": 1},
    ):
        with pytest.raises(ValidationError):
            config(**({"public_key": "k" * 20} | bad))


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://sklep.pl", True),  # an exact origin
        ("http://sklep.pl", False),  # …scheme included
        ("https://www.sklep.pl", True),  # a wildcard subdomain
        ("https://sklep.pl.evil.com", False),
        ("https://evilsklep.pl", False),
        ("https://shop.example", True),  # a bare host: any scheme, default port
        ("http://shop.example", True),
        ("http://shop.example:8080", False),
        ("http://localhost:8000", True),  # a host with a port
        ("http://localhost:9000", False),
        ("null", False),
        ("", False),
        ("file://x", False),
    ],
)
def test_origins(origin, allowed):
    c = config(allowed_origins=["https://sklep.pl/", "*.sklep.pl", "shop.example", "localhost:8000"])
    assert origin_allowed(origin, c) is allowed


def test_no_origins_configured_allows_nothing():
    assert not origin_allowed("https://sklep.pl", config())


def test_business_hours_in_the_widget_time_zone():
    c = config(business_hours={"mon": "08:00-16:00", "sat": "10:00-12:00"}, timezone="Europe/Warsaw")
    monday = dt.datetime(2026, 12, 7, 7, 30, tzinfo=dt.UTC)  # 08:30 in Warsaw (winter, UTC+1)
    assert within_hours(c, monday)
    assert not within_hours(c, monday.replace(hour=6, minute=30))  # 07:30 local
    assert not within_hours(c, monday.replace(hour=15))  # 16:00 local: closed from the end minute
    assert not within_hours(c, monday + dt.timedelta(days=1))  # Tuesday is not listed
    assert within_hours(config(), monday)  # no hours: always


def test_parse_inbound_keys_the_message_by_session_and_client_id():
    (m,) = LivechatDriver().parse_inbound(
        {
            "session_key": "S",
            "client_id": "c1",
            "text": "Hej",
            "contact_id": 7,
            "conversation_id": 9,
            "page_url": "https://sklep.pl/koszyk",
        }
    )
    assert m.external_id == "S:c1"
    assert m.sender.chat_session == "S" and m.sender.contact_id == 7
    assert m.conversation_id == 9 and m.meta["page_url"] == "https://sklep.pl/koszyk"


def test_group_names_are_valid_channel_layer_names():
    import re

    assert re.fullmatch(r"[a-zA-Z0-9._-]{1,99}", conversation_group("Ab-_" * 10, 123456))
