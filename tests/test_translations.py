"""The model labels agents see (statuses, priorities, channels, roles…) exist in Polish and Russian.

Catalogues: conversations/locale (conversations' models and attachments) and core/locale (shops,
agents, contacts, inboxes and settings; see CONTRIBUTING.md "Translations" for how they are built).
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
CATALOGUES = [
    PACKAGE / area / "locale" / lang / "LC_MESSAGES"
    for area in ("core", "conversations")
    for lang in ("pl", "ru")
]
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


def _entries(po: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for every entry but the header."""
    text = po.read_text()
    found = []
    for block in text.split("\n\n"):
        ids = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        strs = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if not ids or not strs:
            continue
        msgid = "".join(re.findall(r'"(.*)"', ids.group(1)))
        if msgid:
            found.append((msgid, "".join(re.findall(r'"(.*)"', strs.group(1))), "#, fuzzy" in block))
    return found


@pytest.mark.parametrize("folder", CATALOGUES, ids=lambda p: f"{p.parts[-4]}-{p.parts[-2]}")
def test_every_entry_is_translated_and_compiled(folder):
    entries = _entries(folder / "django.po")
    assert entries
    assert [e[0] for e in entries if not e[1] or e[2]] == []  # nothing empty, nothing fuzzy
    with open(folder / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for msgid, msgstr, _ in entries:
        wanted = msgstr.encode().decode("unicode_escape").encode("latin-1").decode()
        assert (
            compiled.gettext(msgid.encode().decode("unicode_escape").encode("latin-1").decode()) == wanted
        ), f"{msgid!r}: the .mo is older than the .po (run msgfmt)"


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
