"""split_reply / is_reply_header against the reply-text oracles of ../shared/corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.conftest import (
    print_scores,
    score_crisp,
    score_discourse,
    score_mail_parser_reply,
    score_reply_headers,
    score_talon,
    score_zapier,
)

pytestmark = pytest.mark.corpus


def test_discourse_trimmer_exact(corpus_dir: Path) -> None:
    scores = score_discourse(corpus_dir)
    print_scores(*scores.values())
    assert scores["exact"].ratio >= 0.9
    assert scores["slavic"].total >= 5
    assert scores["slavic"].ratio == 1.0  # every Polish/Russian/Ukrainian case


def test_every_reply_header_pattern_is_detected(corpus_dir: Path) -> None:
    score = score_reply_headers(corpus_dir)
    print_scores(score)
    assert score.total >= 78
    assert score.ratio == 1.0


# The other oracles follow their own parsers' conventions (signature handling, forwarded mail); they
# guard against regressions at the level reached, and the printout shows where we differ.


def test_crisp(corpus_dir: Path) -> None:
    score = score_crisp(corpus_dir)
    print_scores(score)
    assert score.ratio >= 0.8


def test_talon(corpus_dir: Path) -> None:
    scores = score_talon(corpus_dir)
    print_scores(*scores.values())
    assert scores["html"].ratio == 1.0
    assert scores["text"].ratio >= 0.8
    assert scores["standard"].ratio >= 0.8


def test_zapier(corpus_dir: Path) -> None:
    score = score_zapier(corpus_dir)
    print_scores(score)
    assert score.ratio >= 0.95


def test_mail_parser_reply(corpus_dir: Path) -> None:
    score = score_mail_parser_reply(corpus_dir)
    print_scores(score)
    assert score.ratio >= 0.5
