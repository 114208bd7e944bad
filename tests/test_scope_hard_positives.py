"""The team's hard positives: fixed, high-level, kept apart from the behavioural cases, and training-only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_dataset
from scope_support import copies_and_near_copies, suite_texts, tiny_scope_settings
from sosrisk.behaviour import SUITES
from sosrisk.scope.hard_positives import FAMILIES, VERSION, hard_positives
from sosrisk.training import fit_with_scope, make_model


def test_the_sentences_are_fixed_distinct_and_at_plan_level_or_above() -> None:
    triples = hard_positives()
    assert triples == hard_positives()  # the same on every call (and machine: a seeded generator)
    assert triples != hard_positives(seed=1)
    sentences = [s for _, s, _ in triples]
    assert len(sentences) == len(set(sentences)) == sum(wanted for _, wanted in FAMILIES.values())
    assert {family for family, _, _ in triples} == set(FAMILIES)
    assert {level for _, _, level in triples} <= {7, 8, 9, 10}
    assert VERSION == "hard-positives-1"


@pytest.mark.parametrize("suite", SUITES)
def test_no_behavioural_case_is_a_training_sentence_or_close_to_one(suite: str) -> None:
    cases = suite_texts(suite)
    assert len(cases) > 50
    copies, close = copies_and_near_copies(cases, tuple(s for _, s, _ in hard_positives()))
    assert copies == []
    assert close == []


def test_they_train_the_risk_model_but_never_its_calibration(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    plain = fit_with_scope(make_model("char-linear", "level"), texts, labels, tiny_scope_settings(tmp_path))
    model = make_model("char-linear", "level")
    fit_with_scope(model, texts, labels, tiny_scope_settings(tmp_path, hard_positives=True))
    n = len(hard_positives())
    assert model.training_["scope"]["hard_positives"] == {"posts": n, "version": VERSION}
    assert "hard_positives" not in plain.training_["scope"]
    assert model.training_["n_posts"] == plain.training_["n_posts"] + n
    # the out-of-fold metrics are still computed on the in-scope training posts alone
    assert model.cv_metrics_["oof"]["n"] == plain.cv_metrics_["oof"]["n"] == len(texts)
    for level in (7, 8, 9, 10):
        added = sum(1 for _, _, lv in hard_positives() if lv == level)
        assert model.training_["label_counts"][str(level)] == plain.training_["label_counts"][str(level)] + added


def test_binary_models_learn_them_as_high_risk(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("binary")
    model = make_model("char-linear", "binary")
    fit_with_scope(model, texts, labels, tiny_scope_settings(tmp_path, hard_positives=True))
    assert model.training_["label_counts"]["1"] == int(np.sum(np.asarray(labels) == 1)) + len(hard_positives())
