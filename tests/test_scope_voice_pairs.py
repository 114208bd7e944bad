"""The voice pairs: fixed first-person sentences, apart from the behavioural cases, extra in-scope examples only."""

from __future__ import annotations

from pathlib import Path

import pytest

from scope_support import copies_and_near_copies, suite_texts, tiny_scoped_model
from sosrisk.behaviour import SUITES
from sosrisk.scope.training import ScopeSettings
from sosrisk.scope.voice_pairs import FAMILIES, VERSION, voice_pairs


def test_the_sentences_are_fixed_distinct_and_in_the_writers_voice() -> None:
    pairs = voice_pairs()
    assert pairs == voice_pairs()  # the same on every call (and machine: a seeded generator)
    assert pairs != voice_pairs(seed=1)
    sentences = [s for _, s in pairs]
    assert len(sentences) == len(set(sentences)) == sum(wanted for _, wanted in FAMILIES.values())
    assert {family for family, _ in pairs} == set(FAMILIES)
    assert all("我" in s for s in sentences)
    assert VERSION == "voice-pairs-1"


@pytest.mark.parametrize("suite", SUITES)
def test_no_behavioural_case_is_a_training_sentence_or_close_to_one(suite: str) -> None:
    copies, close = copies_and_near_copies(suite_texts(suite), tuple(s for _, s in voice_pairs()))
    assert copies == []
    assert close == []


def test_they_are_off_by_default_and_only_extra_in_scope_examples_when_on(tmp_path: Path) -> None:
    assert ScopeSettings().voice_pairs is False
    plain = tiny_scoped_model("level", tmp_path)
    model = tiny_scoped_model("level", tmp_path, voice_pairs=True)
    n = len(voice_pairs())
    assert model.scope_ is not None and plain.scope_ is not None
    assert model.scope_.training["voice_pairs"] == {"gate": n, "prefilter": n, "version": VERSION}
    assert "voice_pairs" not in plain.scope_.training
    assert model.scope_.training["hard_positives_in"] == plain.scope_.training["hard_positives_in"]
    report, plain_report = model.scope_.gate.report_, plain.scope_.gate.report_
    assert report["extra_in_scope_posts"] == n and "extra_in_scope_posts" not in plain_report
    # they never set the threshold: its basis is still the model's own in-scope posts
    assert report["in_scope_posts"] == plain_report["in_scope_posts"]
    assert model.scope_.prefilter is not None and model.scope_.prefilter.report_["extra_in_scope_posts"] == n
