"""Temperature calibration and the choice of decision rule from out-of-fold scores.

Every model kind finishes training the same way: out-of-fold logits (from cross-validation inside
the training data) fit one softmax temperature, then the decision rule is chosen on the calibrated
out-of-fold probabilities, and the out-of-fold metrics are recorded in the model directory.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .base import RiskModel, softmax
from .decision import DecisionRule, choose_binary_threshold, choose_level_rule, describe
from .params import SEED, Constraint, Interval, Options, none_or

logger = logging.getLogger(__name__)

DECISIONS = ("auto", "argmax", "expected_cost", "threshold")
# the settings of a logistic-regression head finished by finalize_from_oof (char-linear, embedding-linear)
LOGISTIC_HEAD_CONSTRAINTS: dict[str, Constraint] = {
    "C": none_or(Interval(0, None, closed="neither")),
    "class_weight": Options(("balanced", "none")),
    "decision": Options(DECISIONS),
    "target_recall": Interval(0, 1, closed="right"),
    "cv_folds": Interval(2, None, integer=True),
    "seed": SEED,
}


def fit_temperature(logits: np.ndarray, y_index: np.ndarray) -> float:
    """The temperature ``T`` minimising the negative log-likelihood of ``softmax(logits / T)``."""
    from scipy.optimize import minimize_scalar  # imported when training only: loading a model stays light

    logits = np.asarray(logits, dtype=float)
    rows = np.arange(len(y_index))

    def nll(log_t: float) -> float:
        scaled = logits / np.exp(log_t)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[rows, y_index]))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def finalize_from_oof(
    model: RiskModel,
    oof_logits: np.ndarray,
    y: np.ndarray,
    *,
    decision: str = "auto",
    target_recall: float | None = 0.9,
    calibrate: bool = True,
    rows: np.ndarray | None = None,
) -> dict[str, Any]:
    """Set the model's temperature and decision rule from out-of-fold logits; record OOF metrics.

    ``decision``: ``auto`` chooses among argmax and expected-cost rules (levels) by
    :func:`~sosrisk.models.decision.choose_level_rule`, or a threshold for ``target_recall`` (binary);
    ``argmax`` / ``expected_cost`` force a level rule; ``threshold`` forces the recall-targeted
    threshold for binary. Returns a report of the choice (also stored in ``cv_metrics_``).

    ``rows``: the training indices the out-of-fold logits belong to (default: all, in order). While the model
    is being fitted with ``calibrate_on``, only those posts count.
    """
    from ..metrics import evaluate_predictions  # sklearn: imported when training only

    if decision not in DECISIONS:
        raise ValueError(f"The 'decision' parameter must be one of {DECISIONS}. Got {decision!r} instead.")
    assert model.classes_ is not None
    mask = model.calibrate_on_
    if mask is not None:
        keep = mask if rows is None else mask[rows]
        oof_logits, y = np.asarray(oof_logits)[keep], np.asarray(y)[keep]
    classes = model.classes_
    y_index = np.searchsorted(classes, y)
    temperature = fit_temperature(oof_logits, y_index) if calibrate else 1.0
    model.set_calibration(temperature)
    proba = softmax(np.asarray(oof_logits, dtype=float) / temperature)
    report: dict[str, Any] = {"temperature": temperature}
    if model.task == "level":
        if decision in {"auto", "expected_cost"}:
            from .decision import LEVEL_CANDIDATES

            candidates = LEVEL_CANDIDATES if decision == "auto" else LEVEL_CANDIDATES[1:]
            rule, scores = choose_level_rule(proba, y, classes, candidates=candidates)
            report["rule_scores"] = scores
        elif decision == "argmax":
            rule = DecisionRule("argmax")
        else:
            raise ValueError(
                "The 'threshold' decision is for the binary task; use 'auto', 'argmax' or 'expected_cost'."
            )
    else:
        if decision == "expected_cost":
            raise ValueError("The 'expected_cost' decision is for the level task; use 'auto', 'threshold' or 'argmax'.")
        if decision == "argmax":
            rule = DecisionRule("threshold", threshold=0.5)
        else:
            rule, threshold_report = choose_binary_threshold(proba, y, target_recall=target_recall)
            report.update(threshold_report)
            report["target_recall"] = target_recall
    model.set_decision(rule)
    report["decision"] = describe(rule)
    oof_metrics = evaluate_predictions(model.task, y, rule.decide(proba, classes), proba)
    model.cv_metrics_ = {
        "protocol": "out-of-fold predictions of a cross-validation inside the training data; the decision "
        "rule was chosen on these same predictions, so they are slightly optimistic",
        "oof": oof_metrics,
        "selection": report,
    }
    logger.info("decision rule %s, temperature %.3f", describe(rule), temperature)
    return report
