"""Full-text search over messages: lemmatised pl/ru/en, shop-isolated, safe on any input, both databases."""

import datetime as dt

import pytest
from django.db import connection

from opiekun.conversations import search
from opiekun.conversations.models import ChannelKind
from opiekun.conversations.search import parse_query, search_messages, search_rebuild
from opiekun.conversations.services import message_record_inbound, message_send, note_add
from opiekun.core import clock
from opiekun.testing import factories


def _conversation(shop, subject="Pytanie", language=""):
    return factories.ConversationFactory(shop=shop, subject=subject, language=language)


def _inbound(conversation, text, at=None):
    return message_record_inbound(conversation=conversation, channel=ChannelKind.WEBFORM, text=text, at=at)


def _ids(hits):
    return [h.message_id for h in hits]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("Gdzie jest moja paczka? Czekam od tygodnia.", "paczki"),
        ("Nie dostałem jeszcze paczki z zamówieniem.", "paczka"),
        ("Kurier zostawił paczkę u sąsiada.", "paczka"),
        ("Proszę o zwrot pieniędzy za zamówienie.", "zamówieniem"),
        ("Где моя посылка? Жду уже неделю.", "посылку"),
        ("Я не получил посылку вовремя.", "посылка"),
        ("I placed two orders last week.", "order"),
        ("Where is my order?", "orders"),
        ("The parcels were damaged.", "parcel"),
    ],
)
def test_inflected_forms_match(shop, stored, query):
    message = _inbound(_conversation(shop), stored)
    _inbound(_conversation(shop), "Zupełnie inna sprawa, faktura VAT. Совсем другое дело. Something else.")
    assert _ids(search_messages(shop_id=shop.pk, query=query)) == [message.pk]


@pytest.mark.django_db
def test_every_word_must_match_and_unrelated_words_do_not(shop):
    both = _inbound(_conversation(shop), "Paczka przyszła uszkodzona, proszę o zwrot.")
    only_parcel = _inbound(_conversation(shop), "Paczka przyszła w porządku.")
    assert _ids(search_messages(shop_id=shop.pk, query="paczki zwrotu")) == [both.pk]
    assert set(_ids(search_messages(shop_id=shop.pk, query="paczka"))) == {both.pk, only_parcel.pk}
    assert search_messages(shop_id=shop.pk, query="faktura") == []


@pytest.mark.django_db
def test_without_polish_letters_still_matches(shop):
    message = _inbound(_conversation(shop), "Zamówienie dotarło, ale brakuje jednej książki.")
    assert _ids(search_messages(shop_id=shop.pk, query="zamowienie ksiazki")) == [message.pk]


@pytest.mark.django_db
def test_last_word_matches_as_a_prefix(shop):
    message = _inbound(_conversation(shop), "Reklamacja butów: podeszwa odkleiła się po tygodniu.")
    _inbound(_conversation(shop), "Dziękuję za szybką odpowiedź.")
    assert _ids(search_messages(shop_id=shop.pk, query="reklam")) == [message.pk]
    assert _ids(search_messages(shop_id=shop.pk, query="podesz")) == [message.pk]
    # Only the last word is a prefix: a half word before it must match whole.
    assert search_messages(shop_id=shop.pk, query="reklam podeszwa") == []


@pytest.mark.django_db
def test_newest_first_and_limit(shop):
    conversation = _conversation(shop)
    base = clock.now() - dt.timedelta(days=3)
    messages = [_inbound(conversation, f"Zwrot numer {i}", at=base + dt.timedelta(hours=i)) for i in range(5)]
    hits = search_messages(shop_id=shop.pk, query="zwrot", limit=3)
    assert _ids(hits) == [m.pk for m in reversed(messages)][:3]
    assert hits[0].conversation_number == conversation.number
    assert hits[0].conversation_id == conversation.pk
    assert hits[0].subject == conversation.subject
    assert hits[0].snippet == "Zwrot numer 4"


@pytest.mark.django_db
def test_shop_b_never_finds_shop_a_messages(shop, other_shop):
    mine = _inbound(_conversation(shop), "Paczka zaginęła w transporcie.")
    theirs = _inbound(_conversation(other_shop), "Paczka zaginęła w transporcie.")
    assert _ids(search_messages(shop_id=shop.pk, query="paczka")) == [mine.pk]
    assert _ids(search_messages(shop_id=other_shop.pk, query="paczka")) == [theirs.pk]
    assert search_messages(shop_id=other_shop.pk + 1000, query="paczka") == []


@pytest.mark.django_db
def test_internal_notes_only_when_asked(shop, agent):
    conversation = _conversation(shop)
    public = _inbound(conversation, "Proszę o fakturę korygującą.")
    note = note_add(
        conversation=conversation, agent=agent, text="Faktura korygująca wystawiona w księgowości."
    )
    assert set(_ids(search_messages(shop_id=shop.pk, query="faktura"))) == {public.pk, note.pk}
    public_only = search_messages(shop_id=shop.pk, query="faktura", include_internal=False)
    assert _ids(public_only) == [public.pk]
    assert search_messages(shop_id=shop.pk, query="księgowość", include_internal=False) == []
    assert _ids(search_messages(shop_id=shop.pk, query="księgowość"))[0] == note.pk


@pytest.mark.django_db
def test_agent_replies_are_indexed(shop, agent):
    conversation = _conversation(shop)
    _inbound(conversation, "Hello")
    reply = message_send(conversation=conversation, agent=agent, text="Your refund was processed today.")
    hits = search_messages(shop_id=shop.pk, query="refunds")
    assert _ids(hits) == [reply.pk]
    assert hits[0].direction == "out"


@pytest.mark.django_db
def test_merge_keeps_hits_pointing_at_the_target(shop, agent):
    from opiekun.conversations.services import conversation_merge

    source, target = _conversation(shop), _conversation(shop)
    message = _inbound(source, "Zgubiona przesyłka kurierska.")
    conversation_merge(source=source, target=target, actor=agent)
    hits = search_messages(shop_id=shop.pk, query="przesyłki")
    assert [(h.message_id, h.conversation_number) for h in hits] == [(message.pk, target.number)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "'",
        "AND",
        "OR NOT",
        "paczka AND",
        "NEAR(paczka)",
        "*",
        "paczka*",
        "pa*ka",
        "-paczka",
        "(paczka",
        "paczka)",
        "terms:paczka",
        "{terms}: x",
        "^paczka",
        "a & b | !c",
        "paczka:*",
        "'paczka':*",
        "\x00",
        "pa\x00czka",
        "\\",
        "%",
        "_",
        ";DROP TABLE conversations_message;--",
        "😀",
        "x" * 10_000,
        "paczka " * 2000,
        "",
        "   ",
        "?!.,",
        "ё",
        "\u0301",
        "\ufeff",
        "I the and",
    ],
)
def test_weird_input_never_errors(shop, query):
    message = _inbound(_conversation(shop), "Paczka AND NOT terms przyszła.")
    hits = search_messages(shop_id=shop.pk, query=query)
    assert isinstance(hits, list)
    # Syntax characters are separators: the words around them still search as words.
    if query in (
        "paczka AND",
        "paczka*",
        "(paczka",
        "paczka)",
        "^paczka",
        "paczka:*",
        "'paczka':*",
        "-paczka",
        "terms:paczka",
        "paczka " * 2000,
    ):
        assert _ids(hits) == [message.pk]


@pytest.mark.django_db
def test_empty_and_punctuation_only_queries_return_nothing(shop):
    _inbound(_conversation(shop), "Cokolwiek. ?!")
    for query in ("", " ", "?!", "...", "\x00", "-- ** ''"):
        assert parse_query(query).groups == ()
        assert search_messages(shop_id=shop.pk, query=query) == []


@pytest.mark.django_db
def test_snippet_is_around_the_match(shop):
    text = (
        "Dzień dobry. "
        + "Piszę w sprawie, która jest długa. " * 10
        + "Niestety paczka nie dotarła. "
        + "Pozdrawiam. " * 10
    )
    _inbound(_conversation(shop), text)
    (hit,) = search_messages(shop_id=shop.pk, query="paczki")
    assert "paczka" in hit.snippet
    assert len(hit.snippet) <= search.SNIPPET_CHARS + 2
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


@pytest.mark.django_db
def test_rebuild_indexes_existing_messages_once(shop):
    conversation = _conversation(shop)
    made_directly = factories.MessageFactory(conversation=conversation, text="Zaległa faktura za luty.")
    assert search_messages(shop_id=shop.pk, query="faktura") == []  # not stored through a service
    stored = _inbound(conversation, "Druga faktura.")
    assert search_rebuild() == 2
    assert set(_ids(search_messages(shop_id=shop.pk, query="faktury"))) == {made_directly.pk, stored.pk}
    assert search_rebuild() == 2  # no duplicates on a second rebuild
    assert len(search_messages(shop_id=shop.pk, query="faktury")) == 2


@pytest.mark.django_db
def test_html_only_message_is_searchable(shop):
    conversation = _conversation(shop)
    message = message_record_inbound(
        conversation=conversation, channel=ChannelKind.EMAIL, text="", html="<p>Prośba o <b>fakturę</b></p>"
    )
    assert _ids(search_messages(shop_id=shop.pk, query="faktura")) == [message.pk]


@pytest.mark.django_db
def test_deleted_message_is_not_a_hit(shop):
    conversation = _conversation(shop)
    message = _inbound(conversation, "Anulowane zamówienie.")
    message.delete()
    assert search_messages(shop_id=shop.pk, query="zamówienie") == []


@pytest.mark.django_db
def test_postgresql_never_walks_the_primary_key_for_a_rare_term(shop):
    """The planner trap (DESIGN.md): newest-first must not become a backward primary-key scan."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.test.utils import CaptureQueriesContext

    conversation = _conversation(shop)
    for i in range(30):
        _inbound(conversation, f"Zwykła wiadomość numer {i}.")
    rare = _inbound(conversation, "Rzadkie słowo: hulajnoga.")
    with CaptureQueriesContext(connection) as captured:
        assert _ids(search_messages(shop_id=shop.pk, query="hulajnoga")) == [rare.pk]
    searches = [q["sql"] for q in captured.captured_queries if "@@" in q["sql"]]
    assert searches
    with connection.cursor() as cursor:
        # Make the trap the cheapest plan on this tiny table: only an ordered index walk could avoid a sort.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        for sql in searches:
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Backward" not in plan, plan


@pytest.mark.django_db
def test_whole_words_come_before_prefix_matches_when_they_fill_the_page(shop):
    conversation = _conversation(shop)
    exact = _inbound(conversation, "Proszę o zwrot.")
    prefix_only = _inbound(conversation, "Adres zwrotny jest na stronie.")  # newer, matches "zwrot*" only
    assert _ids(search_messages(shop_id=shop.pk, query="zwrot", limit=1)) == [exact.pk]
    assert _ids(search_messages(shop_id=shop.pk, query="zwrot", limit=5)) == [prefix_only.pk, exact.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("expansion_max", [64, 1])
def test_prefix_finds_every_completion_expanded_or_not(shop, monkeypatch, expansion_max):
    monkeypatch.setattr(search, "PREFIX_EXPANSION_MAX", expansion_max)  # 1: too many, FTS5 does the prefix
    conversation = _conversation(shop)
    first = _inbound(conversation, "Reklamacja butów.")
    second = _inbound(conversation, "Reklamówka w paczce.")
    _inbound(_conversation(shop), "Nic wspólnego.")
    assert set(_ids(search_messages(shop_id=shop.pk, query="rekl"))) == {first.pk, second.pk}
    _inbound(_conversation(factories.ShopFactory()), "Reklamacja w innym sklepie.")
    assert set(_ids(search_messages(shop_id=shop.pk, query="rekl"))) == {first.pk, second.pk}
