"""The telephony catalogue in use: the desk and texts speak Polish and Russian (completeness and
compilation of every catalogue: tests/test_translations.py)."""

from __future__ import annotations

from django.utils import translation

from opiekun.telephony import timeline


def test_words_in_polish_and_russian():
    with translation.override("pl"):
        assert translation.gettext("Callbacks") == "Oddzwonienia"
        assert timeline.event_text("call.missed", {"number": "+48601"}) == "Nieodebrane połączenie od +48601"
    with translation.override("ru"):
        assert timeline.event_text("callback.exhausted", {"attempts": 3}) == (
            "Обратный звонок прекращён после 3 попыток"
        )
