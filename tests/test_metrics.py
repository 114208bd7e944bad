"""Metrics against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sosrisk.metrics import (
    confusion,
    evaluate_predictions,
    expected_calibration_error,
    per_class_report,
    quadratic_weighted_kappa,
    summarize_folds,
)


def test_binary_metrics_by_hand() -> None:
    y_true = [1, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 0, 1]
    m = evaluate_predictions("binary", y_true, y_pred)
    # high risk: tp=2, fp=1, fn=1 -> precision 2/3, recall 2/3; low: tp=1, fp=1, fn=1 -> 1/2, 1/2
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["high_risk_precision"] == pytest.approx(2 / 3)
    assert m["high_risk_recall"] == pytest.approx(2 / 3)
    assert m["high_risk_f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["weighted_f1"] == pytest.approx(3 / 5 * 2 / 3 + 2 / 5 * 1 / 2)
    assert "qwk" not in m


def test_level_metrics_by_hand() -> None:
    y_true = np.array([9, 9, 4, 0])
    y_pred = np.array([9, 5, 4, 1])
    m = evaluate_predictions("level", y_true, y_pred)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["mae"] == pytest.approx((0 + 4 + 0 + 1) / 4)
    assert m["within_one"] == pytest.approx(3 / 4)
    assert m["under_by_3plus"] == pytest.approx(1 / 4)  # the level-9 post answered 5


def test_qwk_by_hand() -> None:
    # two posts: truth (0, 10), prediction (10, 0): the worst possible disagreement -> kappa -1
    assert quadratic_weighted_kappa(np.array([0, 10]), np.array([10, 0])) == pytest.approx(-1.0)
    assert quadratic_weighted_kappa(np.array([0, 5, 10]), np.array([0, 5, 10])) == pytest.approx(1.0)
    # hand computation: truth (0, 1), prediction (0, 0); weights w_ij = (i-j)^2 / 100
    # observed: cell (1,0) has 1/2 -> sum w*O = 0.5 * 0.01; expected = outer([.5,.5],[1,0]) -> w*E = 0.5*0.01
    # kappa = 1 - 0.005/0.005 = 0
    assert quadratic_weighted_kappa(np.array([0, 1]), np.array([0, 0])) == pytest.approx(0.0)


def test_ece_by_hand() -> None:
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    y_true = np.array([0, 1, 1, 1])
    # bins: 0.9 (two posts, accuracy 1/2): |0.5 - 0.9| * 2/4 = 0.2; 0.8: |1 - 0.8| * 1/4 = 0.05;
    # 0.6: |1 - 0.6| * 1/4 = 0.1 -> 0.35
    assert expected_calibration_error(y_true, proba, [0, 1]) == pytest.approx(0.35)


def test_confusion_and_per_class_cover_all_labels() -> None:
    matrix = confusion("level", np.array([0, 10]), np.array([0, 9]))
    assert matrix.shape == (11, 11)
    assert matrix[0, 0] == 1 and matrix[10, 9] == 1
    rows = per_class_report("level", np.array([0, 10]), np.array([0, 9]))
    assert len(rows) == 11
    assert rows[0] == {"label": 0.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1.0}


def test_summary_mean_and_std() -> None:
    summary = summarize_folds([{"n": 2.0, "accuracy": 0.5}, {"n": 2.0, "accuracy": 0.7}])
    assert summary == {"accuracy": {"mean": pytest.approx(0.6), "std": pytest.approx(np.std([0.5, 0.7], ddof=1))}}


def test_bad_inputs() -> None:
    with pytest.raises(ValueError) as info:
        evaluate_predictions("level", [1, 2], [1])
    assert str(info.value) == "Expected two 1-d label arrays of equal length. Got (2,) and (1,)."
    with pytest.raises(ValueError) as info:
        evaluate_predictions("level", [], [])
    assert str(info.value) == "Expected at least one post to evaluate; got none."
