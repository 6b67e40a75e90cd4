"""A cheap language guess for an incoming mail: 'pl', 'ru', 'uk', 'en' or '' (not sure / other).

It only has to route a case to an agent who reads the language, so it looks at letters and a few
very common words of the first lines; a wrong '' is better than a confident wrong answer.
"""

from __future__ import annotations

import re

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")
_OTHER_LATIN_LETTERS = re.compile(r"[äöüßàâçèéêëîïôùûÿñãõåæøÄÖÜÀÂÇÈÉÊËÎÏÔÙÛÑÃÕÅÆØřěůčšžťďňŘĚŮČŠŽ]")
_POLISH_WORDS = re.compile(
    r"\b(?:i|w|z|na|nie|się|jest|że|czy|jak|mam|moje|mój|proszę|dzień|dobry|pozdrawiam|zamówienie|"
    r"zamówienia|przesyłka|przesyłki|paczka|zwrot|dziękuję|witam|bardzo|kiedy|już|ale|oraz|jestem)\b",
    re.I,
)
_ENGLISH_WORDS = re.compile(
    r"\b(?:the|and|is|are|to|of|you|your|my|order|please|thank|thanks|hello|hi|regards|have|has|with|for|"
    r"not|this|that|was|will|can|would|when|where|received|package|refund)\b",
    re.I,
)


def guess_language(text: str) -> str:
    """'pl' | 'ru' | 'uk' | 'en' | '' from the letters and common words of a short sample."""
    sample = text[:700]
    cyrillic = len(_CYRILLIC.findall(sample))
    latin = len(_LATIN.findall(sample))
    if cyrillic >= 3 and cyrillic > latin:
        ukrainian = sum(map(sample.count, "іїєґІЇЄҐ"))
        russian = sum(map(sample.count, "ыэъёЫЭЪЁ"))
        if ukrainian > russian:
            return "uk"
        return "ru" if russian or cyrillic >= 10 else ""
    if latin < 3:
        return ""
    polish = sum(map(sample.count, "ąćęłńśźżĄĆĘŁŃŚŹŻ")) * 2 + len(_POLISH_WORDS.findall(sample))
    english = len(_ENGLISH_WORDS.findall(sample))
    other = len(_OTHER_LATIN_LETTERS.findall(sample))
    if polish >= 3 and polish > english and polish > other:
        return "pl"
    if english >= 2 and english > polish and english > other * 2:
        return "en"
    return ""
