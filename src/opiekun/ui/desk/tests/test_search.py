import sys
import types

import pytest

from opiekun.testing import factories

from .conftest import inbound


@pytest.mark.django_db
def test_search_falls_back_to_the_quick_search(desk, inbox, monkeypatch):
    monkeypatch.setitem(sys.modules, "opiekun.conversations.search", None)  # import fails
    conv = inbound(inbox, name="Zofia Szukana", email="zofia@example.org").conversation
    response = desk.get("/search/", {"q": "zofia"})
    assert response.status_code == 200
    assert not response.context["full_text"]
    assert [r.conversation.number for r in response.context["rows"]] == [conv.number]
    assert desk.get("/search/", {"q": ""}).context["rows"] == []


@pytest.mark.django_db
def test_search_uses_full_text_when_present(desk, inbox, agent, monkeypatch):
    conv = inbound(inbox, text="Paczka <b>nie</b> dotarła").conversation
    calls = []

    def search_messages(*, shop_id, query, limit):
        calls.append((shop_id, query, limit))
        return list(conv.messages.select_related("conversation__contact"))

    module = types.ModuleType("opiekun.conversations.search")
    module.search_messages = search_messages
    monkeypatch.setitem(sys.modules, "opiekun.conversations.search", module)
    response = desk.get("/search/", {"q": "paczka"})
    assert calls == [(agent.shop_id, "paczka", 50)]
    assert response.context["full_text"]
    hits = response.context["hits"]
    assert [h.number for h in hits] == [conv.number]
    html = response.content.decode()
    assert "Paczka &lt;b&gt;nie&lt;/b&gt; dotarła" in html


@pytest.mark.django_db
def test_search_accepts_dict_hits(desk, monkeypatch):
    module = types.ModuleType("opiekun.conversations.search")
    module.search_messages = lambda **kw: [
        {"conversation_number": 7, "snippet": "hello", "subject": "S"},
        {"no": "number"},
    ]
    monkeypatch.setitem(sys.modules, "opiekun.conversations.search", module)
    hits = desk.get("/search/", {"q": "x"}).context["hits"]
    assert [(h.number, h.snippet) for h in hits] == [(7, "hello")]


@pytest.mark.django_db
def test_search_with_the_real_full_text_module(desk, inbox, other_shop):
    search = pytest.importorskip("opiekun.conversations.search")
    assert hasattr(search, "search_messages")
    mine = inbound(inbox, text="Czajnik elektryczny przestał działać po tygodniu").conversation
    other_inbox = factories.InboxFactory(shop=other_shop)
    inbound(other_inbox, email="x@example.org", text="Czajnik z innego sklepu")
    response = desk.get("/search/", {"q": "czajnik"})
    assert response.context["full_text"]
    assert [h.number for h in response.context["hits"]] == [mine.number]
    assert "Jan Kowalski" in response.content.decode()
