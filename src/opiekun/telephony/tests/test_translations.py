"""The telephony catalogue: every entry translated (pl, ru), compiled, and used by the desk and texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from opiekun.telephony import timeline

LOCALE = Path(__file__).resolve().parent.parent / "locale"


@pytest.mark.parametrize("language", ["pl", "ru"])
def test_every_entry_is_translated_and_the_mo_is_fresh(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    blocks = po.read_text().split("\n\n")[1:]
    assert blocks
    for block in blocks:
        assert "#, fuzzy" not in block, block
        assert not re.search(r'^msgstr(\[\d\])? ""$(?!\n")', block, re.M), block
    assert mo.stat().st_mtime >= po.stat().st_mtime


def test_words_in_polish_and_russian():
    with translation.override("pl"):
        assert translation.gettext("Callbacks") == "Oddzwonienia"
        assert timeline.event_text("call.missed", {"number": "+48601"}) == "Nieodebrane połączenie od +48601"
    with translation.override("ru"):
        assert timeline.event_text("callback.exhausted", {"attempts": 3}) == (
            "Обратный звонок прекращён после 3 попыток"
        )
