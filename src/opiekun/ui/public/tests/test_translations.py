from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext

LOCALE = Path(__file__).resolve().parents[1] / "locale"


def entries(po: Path) -> list[tuple[str, list[str], bool]]:
    """(msgid, msgstrs, fuzzy) of every entry but the header."""
    found = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        if block.lstrip().startswith("#~"):
            continue
        msgid = "".join(
            re.findall(r'^(?:msgid |")"?(.*?)"$', block.split("msgid_plural")[0].split("msgstr")[0], re.M)
        )
        strs = [
            "".join(re.findall(r'"(.*)"', part))
            for part in re.split(r"^msgstr(?:\[\d\])? ", block, flags=re.M)[1:]
        ]
        if msgid:
            found.append((msgid, strs, "#, fuzzy" in block))
    return found


@pytest.mark.parametrize("language", ["pl", "ru"])
def test_catalogue_is_complete_and_compiled(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    found = entries(po)
    assert len(found) > 90
    assert [m for m, strs, fuzzy in found if fuzzy or not strs or not all(strs)] == []
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime - 1


@pytest.mark.parametrize(("language", "text"), [("pl", "Napisz do nas"), ("ru", "Напишите нам")])
def test_screens_speak_the_language(language, text):
    with translation.override(language):
        assert gettext("Write to us") == text
