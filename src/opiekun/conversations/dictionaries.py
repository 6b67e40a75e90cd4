"""simplemma's dictionaries, loaded in milliseconds instead of seconds.

simplemma ships its dictionaries lzma-compressed and decodes them into a Python dict on first use:
~4 s of CPU for Polish, ~1 s for Russian, per process — paid by whichever request first stores a
message. Instead we build a marisa-trie per language once per machine into a cache folder (derived
data, keyed by the simplemma version) and memory-map it afterwards (~10 ms). `warm()` builds and loads
them ahead of time: `opiekun run` calls it in the background at start, `opiekun warmup` on demand.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from simplemma import Lemmatizer
from simplemma.__metadata__ import __version__ as SIMPLEMMA_VERSION
from simplemma.strategies import DefaultStrategy
from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieDictionaryFactory

log = logging.getLogger(__name__)

WARM_LANGUAGES = ("pl", "ru", "en")


def cache_dir() -> Path:
    base = os.environ.get("OPIEKUN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "opiekun"
    )
    return Path(base) / "simplemma" / SIMPLEMMA_VERSION


class _AtomicTrieFactory(TrieDictionaryFactory):
    """The trie factory, but a half-written cache file is never visible to another process."""

    def _write_trie_to_disk(self, lang: str, trie) -> None:  # type: ignore[no-untyped-def]
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._cache_dir, prefix=f".{lang}-", suffix=".tmp")
        os.close(fd)
        try:
            trie.save(tmp)
            os.replace(tmp, self._cache_dir / f"{lang}.dic")
        finally:
            Path(tmp).unlink(missing_ok=True)


_lock = threading.Lock()
_lemmatizer: Lemmatizer | None = None


def lemmatizer() -> Lemmatizer:
    global _lemmatizer
    if _lemmatizer is None:
        with _lock:
            if _lemmatizer is None:
                factory = _AtomicTrieFactory(cache_max_size=16, disk_cache_dir=str(cache_dir()))
                _lemmatizer = Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=factory))
    return _lemmatizer


def lemmatize(word: str, lang: str) -> str:
    return lemmatizer().lemmatize(word, lang=lang)


def warm(languages: Iterable[str] = WARM_LANGUAGES) -> None:
    """Build (first time on this machine) and load the dictionaries of `languages`."""
    for lang in languages:
        lemmatize("a", lang)


def warm_in_background() -> threading.Thread:
    thread = threading.Thread(target=warm, name="opiekun-dictionaries", daemon=True)
    thread.start()
    return thread
