"""Full-text search over messages: one selector, SQLite FTS5 or PostgreSQL tsvector underneath.

Every message is indexed in the transaction that stores it, as the set of its lemmatised terms (see
`lemmas`), worked out before that transaction begins (`search_entry`, then `search_index_entries`).
Each term is stored prefixed with the shop (`s<shop id>x<term>`), so one shop's query can only ever
match that shop's entries, at the index level, and the message row is checked for the shop again
when the hits are read.

SQLite: a contentless FTS5 table (`conversations_message_fts`) keyed by message id, `detail=none`
(we store bags of terms, never phrases, so positions would only cost space). Internal notes carry
one extra marker term (`s<shop>yinternal`, which no word can produce) so "no internal notes" is part
of the FTS query rather than a filter that would eat into the page. A plain table of the indexed
word terms (`conversations_message_vocab`) turns a prefix into its exact completions.

PostgreSQL: a table (`conversations_message_search`) with a `tsvector` of the same terms built
literally (no parser, no dictionary) and a GIN index. Newest-first on GIN has a planner trap (a
backward primary-key scan that checks every row, ~300 ms on a rare term), so the query asks for the
matches in windows of recent ids, newest window first, each answered by the GIN index: a common word
fills the page from the first window; a rare one reaches the last window, which has no lower bound.

Neither table is a Django model: no foreign keys point at messages, so test flushes and cascades
work unchanged. A deleted message leaves an orphan entry, which the join to messages drops.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.utils.html import strip_tags

from opiekun.core.bulk import value_rows

from . import lemmas
from .models import Message

SQLITE_TABLE = "conversations_message_fts"
# SQLite only: every (shop-prefixed) word term ever indexed, so a prefix can be expanded into exact
# terms. FTS5 answers "pacz*" by merging every completion's full posting list (~150 ms at 3M
# messages); the same completions OR-ed as exact terms are read lazily, newest first (~1 ms).
SQLITE_VOCAB = "conversations_message_vocab"
PREFIX_EXPANSION_MAX = 64  # more completions than this: let FTS5 do the prefix itself
PG_TABLE = "conversations_message_search"
MAX_QUERY_WORDS = 12
MAX_QUERY_CHARS = 1000
SNIPPET_CHARS = 160
# PostgreSQL: id windows tried newest first (as a share of the id range); the last one is unbounded.
PG_WINDOWS = (0.002, 0.02, 0.2)


@dataclasses.dataclass(frozen=True)
class SearchHit:
    message_id: int
    conversation_id: int
    conversation_number: int
    subject: str
    snippet: str
    created_at: dt.datetime
    direction: str = ""
    is_internal: bool = False
    channel: str = ""
    contact_id: int | None = None
    contact_name: str = ""


@dataclasses.dataclass(frozen=True)
class ParsedQuery:
    """The query as term groups: a message matches when every group has at least one of its terms."""

    groups: tuple[tuple[str, ...], ...]
    prefix: str = ""  # the last word, matched as a prefix too (it may be half typed)

    def __bool__(self) -> bool:
        return bool(self.groups)


def parse_query(query: str, *, language: str = "") -> ParsedQuery:
    """Words of the user's query → term groups. Never raises; operators and quotes are just separators."""
    text = (query or "")[:MAX_QUERY_CHARS].replace("\x00", " ")
    extra = lemmas.languages_for(language)
    groups: list[tuple[str, ...]] = []
    seen: set[tuple[str, ...]] = set()
    words = lemmas.words(text)
    prefix = ""
    for index, word in enumerate(words):
        terms = lemmas.word_terms(word, extra)
        if not terms or terms in seen:
            continue  # a stop word (it would match nearly everything) or a repeat
        seen.add(terms)
        groups.append(terms)
        # The last word may be half typed ("reklam…"): it also matches as a prefix.
        if index == len(words) - 1 and len(word) >= lemmas.MIN_PREFIX and not word.isdigit():
            prefix = lemmas.fold(word)
        if len(groups) >= MAX_QUERY_WORDS:
            break
    return ParsedQuery(groups=tuple(groups), prefix=prefix)


def _shop_term(shop_id: int, term: str) -> str:
    return f"s{int(shop_id)}x{term}"


def _internal_marker(shop_id: int) -> str:
    return f"s{int(shop_id)}yinternal"


def _index_terms(shop_id: int, text: str, language: str) -> list[str]:
    return sorted(_shop_term(shop_id, t) for t in lemmas.text_terms(text, language))


def message_search_text(message: Message) -> str:
    """What of a message is searchable: its text, else the text of its (sanitised) HTML."""
    return message.text or (strip_tags(message.html) if message.html else "")


# --- indexing -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IndexRow:
    message_id: int
    shop_id: int
    is_internal: bool
    text: str
    language: str = ""


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    """One message's search terms, worked out before its storing transaction: the lemmatising is the
    costly part of indexing, and on SQLite every moment inside a write transaction holds the one
    writers' lock that every other writer of the installation waits for."""

    is_internal: bool
    document: str  # SQLite: the FTS5 row's text; PostgreSQL: the tsvector literal
    vocabulary: frozenset[str] = frozenset()  # SQLite: the word terms remembered for prefix search


def search_entry(*, shop_id: int, is_internal: bool, text: str, language: str = "") -> IndexEntry:
    """The index entry of a message not yet stored (no database access)."""
    if connection.vendor == "postgresql":
        return IndexEntry(is_internal, pg_tsvector_literal(_index_terms(shop_id, text, language)))
    terms = lemmas.text_terms(text, language)
    return IndexEntry(
        is_internal,
        sqlite_document(shop_id, terms, is_internal),
        frozenset(sqlite_vocabulary(shop_id, terms)),
    )


def search_index_rows(rows: Iterable[IndexRow]) -> int:
    """Index many messages at once (bulk loads, rebuilds). Returns how many were written."""
    return search_index_entries(
        (
            r.message_id,
            search_entry(shop_id=r.shop_id, is_internal=r.is_internal, text=r.text, language=r.language),
        )
        for r in rows
    )


def search_index_entries(entries: Iterable[tuple[int, IndexEntry]]) -> int:
    """Write prepared entries, each under its stored message's id. Returns how many were written."""
    entries = list(entries)
    if not entries:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(
                f"INSERT INTO {PG_TABLE} (message_id, is_internal, terms) VALUES (%s, %s, %s::tsvector) "
                "ON CONFLICT (message_id) DO UPDATE "
                "SET is_internal = EXCLUDED.is_internal, terms = EXCLUDED.terms",
                [(pk, e.is_internal, e.document) for pk, e in entries],
            )
            return len(entries)
        for values, flat in value_rows([(pk, e.document) for pk, e in entries]):
            cursor.execute(f"INSERT INTO {SQLITE_TABLE} (rowid, terms) VALUES {values}", flat)
        sqlite_remember_terms(cursor, set().union(*(e.vocabulary for _pk, e in entries)))
    return len(entries)


def sqlite_vocabulary(shop_id: int, terms: Iterable[str]) -> set[str]:
    """The shop-prefixed word terms worth remembering for prefix expansion (numbers never expand)."""
    return {_shop_term(shop_id, t) for t in terms if not t.isdigit()}


def sqlite_remember_terms(cursor, terms: Iterable[str]) -> None:  # type: ignore[no-untyped-def]
    for values, flat in value_rows([(t,) for t in sorted(terms)]):
        cursor.execute(f"INSERT OR IGNORE INTO {SQLITE_VOCAB} (term) VALUES {values}", flat)


def sqlite_terms_text(shop_id: int, text: str, language: str, is_internal: bool) -> str:
    """The FTS5 document of one message: its shop-prefixed terms, space-separated."""
    return sqlite_document(shop_id, lemmas.text_terms(text, language), is_internal)


def sqlite_document(shop_id: int, terms: Iterable[str], is_internal: bool) -> str:
    """The FTS5 document for a message with these (unprefixed) terms."""
    out = sorted(_shop_term(shop_id, t) for t in terms)
    if is_internal:
        out.append(_internal_marker(shop_id))
    return " ".join(out)


def pg_tsvector_literal(terms: Sequence[str]) -> str:
    """A tsvector in its text form. Terms are letters and digits only, so quoting needs no escapes."""
    return " ".join(f"'{t}'" for t in terms)


def pg_document(shop_id: int, terms: Iterable[str]) -> str:
    """The tsvector (text form) for a message with these (unprefixed) terms (PostgreSQL sorts them)."""
    return pg_tsvector_literal([_shop_term(shop_id, t) for t in terms])


def search_rebuild(*, batch: int = 5000) -> int:
    """Drop and rebuild the whole index from the messages (after a restore or a lemmatiser upgrade)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"TRUNCATE {PG_TABLE}")
            else:
                cursor.execute(f"INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}) VALUES ('delete-all')")
                cursor.execute(f"DELETE FROM {SQLITE_VOCAB}")
        total = 0
        last = 0
        while True:
            chunk = list(
                Message.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "shop_id", "is_internal", "text", "html", "conversation__language")[:batch]
            )
            if not chunk:
                return total
            total += search_index_rows(
                IndexRow(pk, shop_id, internal, text or (strip_tags(html) if html else ""), language or "")
                for pk, shop_id, internal, text, html, language in chunk
            )
            last = chunk[-1][0]


# --- querying -------------------------------------------------------------------------------------


def _fts5_match(shop_id: int, parsed: ParsedQuery, include_internal: bool) -> str:
    # Every term is letters/digits only and double-quoted: FTS5 sees strings, never operators.
    parts = []
    for group in parsed.groups[:-1] if parsed.prefix else parsed.groups:
        parts.append("(" + " OR ".join(f'"{_shop_term(shop_id, t)}"' for t in group) + ")")
    if parsed.prefix:
        last = [f'"{_shop_term(shop_id, t)}"' for t in parsed.groups[-1] if not t.startswith(parsed.prefix)]
        completions = _sqlite_completions(_shop_term(shop_id, parsed.prefix))
        if completions is None:
            last.append(f'"{_shop_term(shop_id, parsed.prefix)}" *')
        else:
            last += [f'"{t}"' for t in completions]
        if not last:
            return ""
        parts.append("(" + " OR ".join(last) + ")")
    expr = " AND ".join(parts)
    if not include_internal:
        expr = f'({expr}) NOT "{_internal_marker(shop_id)}"'
    return expr


def _sqlite_completions(prefix: str) -> list[str] | None:
    """The indexed terms starting with `prefix` (shop-prefixed), or None when there are too many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT term FROM {SQLITE_VOCAB} WHERE term >= %s AND term < %s ORDER BY term LIMIT %s",
            [prefix, prefix + "\U0010ffff", PREFIX_EXPANSION_MAX + 1],
        )
        terms = [row[0] for row in cursor.fetchall()]
    return None if len(terms) > PREFIX_EXPANSION_MAX else terms


def _tsquery(shop_id: int, parsed: ParsedQuery) -> str:
    parts = []
    for group in parsed.groups[:-1] if parsed.prefix else parsed.groups:
        parts.append("(" + " | ".join(f"'{_shop_term(shop_id, t)}'" for t in group) + ")")
    if parsed.prefix:
        last = [f"'{_shop_term(shop_id, t)}'" for t in parsed.groups[-1] if not t.startswith(parsed.prefix)]
        last.append(f"'{_shop_term(shop_id, parsed.prefix)}':*")
        parts.append("(" + " | ".join(last) + ")")
    return " & ".join(parts)


def _match_ids_sqlite(shop_id: int, parsed: ParsedQuery, limit: int, include_internal: bool) -> list[int]:
    expr = _fts5_match(shop_id, parsed, include_internal)
    if not expr:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH %s ORDER BY rowid DESC LIMIT %s",
            [expr, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _match_ids_postgresql(shop_id: int, parsed: ParsedQuery, limit: int, include_internal: bool) -> list[int]:
    tsquery = _tsquery(shop_id, parsed)
    internal = "" if include_internal else "AND NOT is_internal"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(message_id), max(message_id) FROM {PG_TABLE}")
        low, high = cursor.fetchone()
        if high is None:
            return []
        bounds = [int(high - (high - low) * share) for share in PG_WINDOWS] + [None]
        ids: list[int] = []
        upper: int | None = None
        for lower in bounds:
            # `message_id + 0` keeps the planner off the primary key's order (the trap); the id range is
            # then a cheap filter on the GIN bitmap, and the sort only sees this window's matches.
            window = ("AND message_id > %s " if lower is not None else "") + (
                "AND message_id <= %s " if upper is not None else ""
            )
            params: list[object] = [tsquery]
            params += [lower] if lower is not None else []
            params += [upper] if upper is not None else []
            cursor.execute(
                f"SELECT message_id FROM {PG_TABLE} WHERE terms @@ %s::tsquery {internal} {window}"
                f"ORDER BY message_id + 0 DESC LIMIT %s",
                [*params, limit - len(ids)],  # type: ignore[list-item]
            )
            ids += [row[0] for row in cursor.fetchall()]
            if len(ids) >= limit or lower is None:
                return ids
            upper = lower
    return ids


def search_messages(
    *, shop_id: int, query: str, limit: int = 50, include_internal: bool = True, language: str = ""
) -> list[SearchHit]:
    """Messages of the shop matching every word of `query` (lemmatised, pl/ru/en), newest first.

    Reads the search index, then the matching messages with their conversations and contacts.
    `language` (e.g. the agent's) is tried for the query words besides pl/en/ru.
    """
    parsed = parse_query(query, language=language)
    limit = max(0, min(int(limit), 500))
    if not parsed or not limit:
        return []
    match = _match_ids_postgresql if connection.vendor == "postgresql" else _match_ids_sqlite
    # Whole words first; the last word as a prefix only when they do not fill the page. A prefix of a
    # common word ("pacz*") expands to dozens of terms with long posting lists (~100 ms at 3M messages),
    # and when the exact words already give a full page of newest hits, the expansion adds nothing.
    ids = match(shop_id, dataclasses.replace(parsed, prefix=""), limit, include_internal)
    if parsed.prefix and len(ids) < limit:
        ids = match(shop_id, parsed, limit, include_internal)
    if not ids:
        return []
    qs = (
        Message.objects.filter(pk__in=ids, shop_id=shop_id)
        .select_related("conversation__contact")
        .only(
            "id",
            "created_at",
            "text",
            "html",
            "direction",
            "is_internal",
            "channel",
            "conversation__id",
            "conversation__number",
            "conversation__subject",
            "conversation__contact__id",
            "conversation__contact__name",
        )
    )
    if not include_internal:
        qs = qs.filter(is_internal=False)
    all_terms = {t for group in parsed.groups for t in group}
    hits = [
        SearchHit(
            message_id=m.pk,
            conversation_id=m.conversation.pk,
            conversation_number=m.conversation.number,
            subject=m.conversation.subject,
            snippet=snippet(message_search_text(m), all_terms, parsed.prefix),
            created_at=m.created_at,
            direction=m.direction,
            is_internal=m.is_internal,
            channel=m.channel,
            contact_id=m.conversation.contact.pk,
            contact_name=m.conversation.contact.name,
        )
        for m in qs
    ]
    hits.sort(key=lambda h: (h.created_at, h.message_id), reverse=True)
    return hits


_SPACE = re.compile(r"\s+")


def snippet(text: str, terms: set[str], prefix: str = "", width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` around its first word that matches the query (plain text)."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= width:
        return text
    start = 0
    lowered = text.lower()
    for match in re.finditer(r"[^\W_]+", lowered):
        word = match.group()
        word_terms = set(lemmas.word_terms(word)) if len(word) <= lemmas.MAX_WORD else set()
        if word_terms & terms or (prefix and lemmas.fold(word).startswith(prefix)):
            start = match.start()
            break
    begin = max(0, start - width // 3)
    if begin:
        space = text.find(" ", begin)
        begin = space + 1 if 0 <= space < start else begin
    end = min(len(text), begin + width)
    if end < len(text):
        space = text.rfind(" ", begin, end)
        end = space if space > start else end
    return ("…" if begin else "") + text[begin:end].strip() + ("…" if end < len(text) else "")
