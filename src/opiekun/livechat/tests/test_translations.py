"""The chat's catalogue (livechat/locale): every entry translated into Polish and Russian, compiled;
and the screens use it (the desk panel, the offline answers, the widget's own pl/ru texts)."""

import gettext
import re
from pathlib import Path

import pytest
from django.utils import translation

import opiekun.livechat

LOCALE = Path(opiekun.livechat.__file__).resolve().parent / "locale"
WIDGET = Path(opiekun.livechat.__file__).resolve().parent / "static" / "livechat" / "widget.js"


def entries(po: Path) -> list[tuple[str, str, bool]]:
    found = []
    for block in po.read_text().split("\n\n"):
        ids = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        strs = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if ids and strs:
            msgid = "".join(re.findall(r'"(.*)"', ids.group(1)))
            if msgid:
                found.append((msgid, "".join(re.findall(r'"(.*)"', strs.group(1))), "#, fuzzy" in block))
    return found


@pytest.mark.parametrize("language", ["pl", "ru"])
def test_every_entry_is_translated_and_compiled(language):
    folder = LOCALE / language / "LC_MESSAGES"
    found = entries(folder / "django.po")
    assert len(found) > 50
    assert [msgid for msgid, msgstr, fuzzy in found if not msgstr or fuzzy] == []
    with open(folder / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for msgid, msgstr, _ in found:
        decode = lambda s: s.encode().decode("unicode_escape").encode("latin-1").decode()  # noqa: E731
        assert compiled.gettext(decode(msgid)) == decode(msgstr), f"{msgid!r}: compile the catalogue again"


def test_the_desk_panel_speaks_polish_and_russian(db):
    for language, word in (("pl", "Przejmij ten czat"), ("ru", "Взять этот чат")):
        with translation.override(language):
            assert translation.gettext("Take this chat") == word


def test_the_widget_carries_every_text_in_three_languages():
    source = WIDGET.read_text()
    blocks = {
        lang: re.search(rf"\n    {lang}: \{{(.*?)\n    \}},", source, re.S).group(1)
        for lang in ("en", "pl", "ru")
    }
    keys = {lang: set(re.findall(r"(\w+): \"", body)) for lang, body in blocks.items()}
    assert keys["en"] and keys["en"] == keys["pl"] == keys["ru"]
