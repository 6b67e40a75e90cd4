"""Words → search terms for the message index: tokenise, lemmatise (pl/ru/en with simplemma), fold.

The index stores, for every word of a message, the word itself, its lemma in each likely language and
the same without diacritics; a query word is expanded the same way and matches if any of its terms is
there. So "paczka" finds "paczki"/"paczkę", "посылка" finds "посылку", "orders" finds "order", and
"zolw" finds "żółw" (customers often type without Polish letters).

Terms are built only from letters and digits (Unicode categories L* and N*), which is exactly what
SQLite's unicode61 tokenizer keeps in one token and what a PostgreSQL lexeme may hold unquoted: a
term we store is never split or reinterpreted by the database, and user text never becomes FTS5 or
tsquery syntax.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

from . import dictionaries

# Languages every Latin-script / Cyrillic word is tried in, besides the conversation's own language.
LATIN_LANGUAGES = ("pl", "en")
CYRILLIC_LANGUAGES = ("ru",)
MAX_WORD = 40  # longer "words" are hashes, base64 or URLs: not worth an index entry
MIN_PREFIX = 3  # the last query word matches as a prefix only from this length on

# Function words too frequent to help a search (each would index nearly every message). Kept short:
# a word dropped here is unsearchable, so only the obvious ones.
_STOP_EN = (
    "a an and are as at be but by for from has have i in is it of on or that the this to was we were will"
)
_STOP_EN += " with you your my me our"
_STOP_PL = "i w z na do nie że się jest to o od po za ze co jak ale by już czy tak mi mnie go ja ty pan pani"
_STOP_RU = "и в во не на я с со что а как по но к у же бы за из от о об для мы вы он она они это так мне ли"  # noqa: RUF001
STOPWORDS = frozenset(f"{_STOP_EN} {_STOP_PL} {_STOP_RU}".split())

_WORD = re.compile(r"[^\W_]+")
_SUPPORTED = frozenset(SUPPORTED_LANGUAGES)
# Letters that Unicode does not decompose but people type without their mark.
_FOLD_EXTRA = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ё": "е"})  # noqa: RUF001


def _is_token_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN"


def words(text: str) -> list[str]:
    """The words of `text`: lower-cased, NFC, runs of letters and digits (everything else separates).

    `[^\\W_]` is exactly Unicode L* and N* (checked over all code points), the token characters of
    SQLite's unicode61 tokenizer, so every word here is one database token.
    """
    text = unicodedata.normalize("NFC", text).lower()
    return [w for w in _WORD.findall(text) if len(w) <= MAX_WORD]


def fold(word: str) -> str:
    """`word` without diacritics (żółw → zolw, ё → е); Cyrillic й/ї keep their marks (distinct letters)."""  # noqa: RUF002
    if _is_cyrillic(word):
        return word.replace("ё", "е")  # noqa: RUF001
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD_EXTRA))
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in unicodedata.normalize("NFC", folded) if _is_token_char(ch)) or word


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in word)


def languages_for(language: str = "") -> tuple[str, ...]:
    """The languages tried for a text whose language is `language` (may be empty or unsupported)."""
    base = language.lower().split("-")[0][:3] if language else ""
    extra = (base,) if base and base in _SUPPORTED else ()
    return extra


@lru_cache(maxsize=300_000)
def word_terms(word: str, extra_languages: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every term one (lower-case) word stands for: itself, its lemmas, their folded forms."""
    if word in STOPWORDS:
        return ()
    langs = extra_languages + (CYRILLIC_LANGUAGES if _is_cyrillic(word) else LATIN_LANGUAGES)
    terms = {word}
    if not word.isdigit():
        for lang in dict.fromkeys(langs):
            try:
                lemma = dictionaries.lemmatize(word, lang=lang).lower()
            except (ValueError, KeyError):
                continue
            if lemma and len(lemma) <= MAX_WORD and all(_is_token_char(ch) for ch in lemma):
                terms.add(lemma)
    terms |= {fold(t) for t in terms}
    return tuple(sorted(terms))


def text_terms(text: str, language: str = "") -> set[str]:
    """The set of terms indexed for a message `text` written (probably) in `language`."""
    extra = languages_for(language)
    out: set[str] = set()
    for word in words(text):
        out.update(word_terms(word, extra))
    return out
