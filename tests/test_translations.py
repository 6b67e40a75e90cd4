"""Every catalogue is complete in Polish and Russian and compiled, and the model labels agents see
(statuses, priorities, channels, roles…) are translated. See CONTRIBUTING.md "Translations" for how
each area's catalogue is built.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.utils import translation

import opiekun
from opiekun.agents.models import Agent
from opiekun.contacts.models import Identity
from opiekun.conversations.models import ChannelKind, Message, Priority, Status
from opiekun.shops.models import Shop

PACKAGE = Path(opiekun.__file__).resolve().parent
# Every catalogue of every area (core, conversations, inboxes, the desk, commerce, telephony…): none may
# have an empty or fuzzy entry, and each .mo must hold what its .po says (compared by content, not by
# file times: a fresh clone gives every file the same time).
CATALOGUES = sorted(po.parent for po in PACKAGE.glob("**/locale/*/LC_MESSAGES/django.po"))
# Words that are the same in every language (names of things, not translations that were forgotten).
SAME_EVERYWHERE = {"SMS", "WhatsApp", "Messenger", "Telegram", "E-mail", "Administrator", "Opiekun", "login"}
CHOICES = [
    Status,
    Priority,
    ChannelKind,
    Agent.Role,
    Identity.Kind,
    Shop.ClosedReply,
    Message.Direction,
    Message.Delivery,
]


def _string(block: str, keyword: str) -> str | None:
    """The (possibly multi-line) quoted value after `keyword` at a line start, unescaped; None if absent."""
    found = re.search(rf"^{re.escape(keyword)} ((?:\".*\"\n?)+)", block, re.M)
    if not found:
        return None
    raw = "".join(re.findall(r'"(.*)"', found.group(1)))
    return raw.encode().decode("unicode_escape").encode("latin-1").decode()


def _entries(po: Path) -> list[tuple[str | None, str, str | None, list[str], bool]]:
    """(context, msgid, plural, msgstrs, fuzzy) for every entry but the header (obsolete #~ ones left out)."""
    found = []
    for block in po.read_text().split("\n\n"):
        msgid = _string(block, "msgid")
        if not msgid:
            continue
        plural = _string(block, "msgid_plural")
        if plural is None:
            strs = [_string(block, "msgstr") or ""]
        else:
            strs = [
                _string(block, f"msgstr[{n}]") or ""
                for n in range(len(re.findall(r"^msgstr\[", block, re.M)))
            ]
        found.append((_string(block, "msgctxt"), msgid, plural, strs, "#, fuzzy" in block))
    return found


def test_every_area_with_strings_has_polish_and_russian():
    areas = {folder.parent.parent.parent.relative_to(PACKAGE) for folder in CATALOGUES}
    assert {Path("core"), Path("conversations"), Path("ui/desk")} <= areas
    for area in areas:
        assert {f.parent.name for f in CATALOGUES if f.parent.parent.parent.relative_to(PACKAGE) == area} == {
            "pl",
            "ru",
        }, area


@pytest.mark.parametrize(
    "folder", CATALOGUES, ids=lambda p: f"{p.parent.parent.parent.relative_to(PACKAGE)}-{p.parent.name}"
)
def test_every_entry_is_translated_and_compiled(folder):
    entries = _entries(folder / "django.po")
    assert entries
    # nothing empty, nothing fuzzy
    assert [e[1] for e in entries if not all(e[3]) or not e[3] or e[4]] == []
    with open(folder / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for context, msgid, plural, strs, _ in entries:
        if plural is not None:
            got = (
                compiled.npgettext(context, msgid, plural, 1)
                if context
                else compiled.ngettext(msgid, plural, 1)
            )
        else:
            got = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
        assert got == strs[0], f"{msgid!r}: the .mo is older than the .po (run msgfmt)"


@pytest.mark.parametrize("language", ["pl", "ru"])
@pytest.mark.parametrize("choices", CHOICES, ids=lambda c: c.__qualname__)
def test_choice_labels_are_translated(language, choices):
    with translation.override(language):
        for choice in choices:
            english = str(choice.label)
            if english in SAME_EVERYWHERE or not english:
                continue
            with translation.override("en"):
                english = str(choice.label)
            assert str(choice.label) != english, f"{choices.__qualname__}.{choice.name} in {language}"
