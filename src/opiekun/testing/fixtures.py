"""pytest fixtures shared by every tests/ folder (loaded as a plugin from the root conftest)."""

from __future__ import annotations

import pytest

from . import factories


@pytest.fixture
def shop(db):  # type: ignore[no-untyped-def]
    return factories.ShopFactory(slug="demo", name="Demo Shop")


@pytest.fixture
def other_shop(db):  # type: ignore[no-untyped-def]
    return factories.ShopFactory(slug="other", name="Other Shop")


@pytest.fixture
def agent(shop):  # type: ignore[no-untyped-def]
    return factories.AgentFactory(shop=shop, display_name="Anna Nowak", user__username="anna")


@pytest.fixture
def inbox(shop):  # type: ignore[no-untyped-def]
    return factories.InboxFactory(shop=shop, kind="webform", name="Contact form")


@pytest.fixture
def note_inbox(shop):  # type: ignore[no-untyped-def]
    return factories.InboxFactory(shop=shop, kind="note", name="Logged contacts")


@pytest.fixture
def email_inbox(shop):  # type: ignore[no-untyped-def]
    return factories.InboxFactory(
        shop=shop, kind="email", name="Support mailbox", config={"address": "support@sklep.test"}
    )
