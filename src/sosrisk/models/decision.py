"""Decision rules: how a model turns class probabilities into one answer.

For the ordinal ``level`` task the rule may pick the level with the smallest expected cost, where the
cost of answering ``k`` for a post at level ``j`` grows with ``|j - k|`` and underestimation can cost
more than overestimation (a missed level-9 post is worse than an over-cautious one). For the ``binary``
task the rule is a threshold on the probability of high risk. Rules are chosen by cross-validation on
out-of-fold probabilities (:func:`choose_level_rule`, :func:`choose_binary_threshold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

RULES = ("argmax", "expected_cost", "threshold")


@dataclass(frozen=True)
class DecisionRule:
    """How probabilities become a label.

    ``argmax``: the most probable class. ``expected_cost`` (levels): the level ``k`` minimising
    ``sum_j p_j * cost(j, k)`` with ``cost(j, k) = zero_one * [j != k] + w(j, k) * |j - k| ** power``,
    where ``w = under_weight`` when ``k < j`` (the answer underestimates the risk) and 1 otherwise.
    With ``zero_one = 0`` this is the pure distance cost; a large ``zero_one`` approaches argmax, and
    values between let the distance break near-ties toward the levels close to the probability mass.
    ``threshold`` (binary): high risk when ``p(high) >= threshold``.
    """

    rule: str = "argmax"
    power: float = 1.0
    under_weight: float = 1.0
    zero_one: float = 0.0
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"The 'rule' of a DecisionRule must be one of {RULES}. Got {self.rule!r} instead.")
        if self.power <= 0:
            raise ValueError(f"The 'power' of a DecisionRule must be > 0. Got {self.power!r} instead.")
        if self.under_weight <= 0:
            raise ValueError(f"The 'under_weight' of a DecisionRule must be > 0. Got {self.under_weight!r} instead.")
        if self.zero_one < 0:
            raise ValueError(f"The 'zero_one' of a DecisionRule must be >= 0. Got {self.zero_one!r} instead.")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(
                f"The 'threshold' of a DecisionRule must be within [0, 1]. Got {self.threshold!r} instead."
            )

    def cost_matrix(self, n_classes: int) -> np.ndarray:
        """``cost[j, k]``: the cost of answering ``k`` when the truth is ``j``."""
        idx = np.arange(n_classes)
        distance = np.abs(idx[:, None] - idx[None, :]).astype(float) ** self.power
        weight = np.where(idx[None, :] < idx[:, None], self.under_weight, 1.0)
        return distance * weight + self.zero_one * (distance > 0)

    def decide(self, proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Apply the rule to an ``(n, n_classes)`` probability matrix; returns labels from ``classes``."""
        proba = np.asarray(proba, dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(classes):
            raise ValueError(f"Expected probabilities of shape (n, {len(classes)}). Got {proba.shape} instead.")
        if self.rule == "threshold":
            if len(classes) != 2:
                raise ValueError("The 'threshold' rule needs exactly two classes (binary task).")
            return np.where(proba[:, 1] >= self.threshold, classes[1], classes[0])
        if self.rule == "argmax":
            return np.asarray(classes)[np.argmax(proba, axis=1)]
        expected = proba @ self.cost_matrix(len(classes))
        return np.asarray(classes)[np.argmin(expected, axis=1)]

    def to_dict(self) -> dict[str, Any]:
        """The fields written to ``config.json``; only those that matter for the rule."""
        data = asdict(self)
        if self.rule == "threshold":
            return {"rule": "threshold", "threshold": self.threshold}
        if self.rule == "argmax":
            return {"rule": "argmax"}
        data.pop("threshold")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionRule:
        """Rebuild a rule from ``config.json``; unknown fields are an error."""
        allowed = {"rule", "power", "under_weight", "zero_one", "threshold"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"Unknown decision-rule fields {sorted(unknown)}; expected a subset of {sorted(allowed)}.")
        return cls(**data)


# The candidates tried for the level task. The chosen one is whichever maximises the selection score
# on out-of-fold probabilities; ties go to the simpler rule (earlier in the list).
LEVEL_CANDIDATES: tuple[DecisionRule, ...] = (
    DecisionRule("argmax"),
    *(
        DecisionRule("expected_cost", power=1.0, under_weight=under, zero_one=zero_one)
        for zero_one in (20.0, 10.0, 5.0, 2.0, 0.0)
        for under in (1.0, 1.5)
    ),
    DecisionRule("expected_cost", power=2.0),
)


MAX_F1_LOSS = 0.01


def choose_level_rule(
    oof_proba: np.ndarray,
    y_true: np.ndarray,
    classes: np.ndarray,
    *,
    candidates: tuple[DecisionRule, ...] = LEVEL_CANDIDATES,
    max_f1_loss: float = MAX_F1_LOSS,
) -> tuple[DecisionRule, dict[str, dict[str, float]]]:
    """Pick the level rule on out-of-fold probabilities: the best ordinal agreement at a bounded F1 cost.

    Among the candidates whose weighted F1 (the SOS-1K paper's metric) is at most ``max_f1_loss``
    below the best candidate's, the rule with the highest quadratic weighted kappa wins; ties go to the
    earlier (simpler) candidate. Returns the rule and each candidate's weighted F1 and QWK.
    """
    from sklearn.metrics import cohen_kappa_score, f1_score

    scores: dict[str, dict[str, float]] = {}
    measured = []
    for rule in candidates:
        pred = rule.decide(oof_proba, classes)
        wf1 = float(f1_score(y_true, pred, average="weighted", zero_division=0))
        qwk = float(cohen_kappa_score(y_true, pred, labels=list(classes), weights="quadratic"))
        scores[describe(rule)] = {"weighted_f1": wf1, "qwk": qwk}
        measured.append((wf1, qwk))
    return candidates[select_level_rule(measured, max_f1_loss=max_f1_loss)], scores


def select_level_rule(measured: Sequence[tuple[float, float]], *, max_f1_loss: float = MAX_F1_LOSS) -> int:
    """:func:`choose_level_rule`'s criterion on scores already measured: ``(weighted F1, QWK)`` per candidate.

    Returns the index of the candidate with the highest QWK among those whose weighted F1 is at most
    ``max_f1_loss`` below the best; ties go to the earlier candidate.
    """
    best_f1 = max(wf1 for wf1, _ in measured)
    best, best_qwk = -1, -np.inf
    for index, (wf1, qwk) in enumerate(measured):
        if wf1 >= best_f1 - max_f1_loss and qwk > best_qwk + 1e-12:
            best, best_qwk = index, qwk
    assert best >= 0
    return best


# The binary threshold is chosen so that the target recall holds on new posts with this confidence, not only on
# the posts it was chosen on: an ensemble chooses on ~120 validation posts (~58 high-risk), where a threshold
# that just reaches the target there misses it on new posts about half the time.
RECALL_CONFIDENCE = 0.8


def recall_to_aim_for(target_recall: float, n_high: int, confidence: float = RECALL_CONFIDENCE) -> float:
    """The recall to reach on ``n_high`` high-risk posts so that ``target_recall`` holds on new posts.

    One-sided normal bound on a proportion: ``target + z * sqrt(target * (1 - target) / n_high)`` with
    ``z`` the ``confidence`` quantile of the standard normal (0 at ``confidence=0.5``: the target itself),
    capped at 1.
    """
    from statistics import NormalDist

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1). Got {confidence!r} instead.")
    if n_high <= 0:
        return target_recall
    z = NormalDist().inv_cdf(confidence)
    return float(min(1.0, max(0.0, target_recall + z * np.sqrt(target_recall * (1 - target_recall) / n_high))))


def choose_binary_threshold(
    oof_proba: np.ndarray,
    y_true: np.ndarray,
    *,
    target_recall: float | None,
    confidence: float = RECALL_CONFIDENCE,
) -> tuple[DecisionRule, dict[str, float]]:
    """Pick the binary threshold on out-of-fold probabilities of high risk.

    With ``target_recall`` set, the threshold is the highest one whose out-of-fold recall of high-risk
    posts reaches :func:`recall_to_aim_for` (the target plus a margin that shrinks with the number of
    high-risk posts, so that new posts reach the target with probability about ``confidence``; 0.5 aims at
    the target itself): the most precise threshold that still finds that share of high-risk posts.
    With ``target_recall=None`` it is the threshold with the best weighted F1.
    Returns the rule and a report of the recall aimed at, and the recall, precision and weighted F1 it
    reached out of fold.
    """
    from sklearn.metrics import f1_score, recall_score

    p_high = np.asarray(oof_proba)[:, 1]
    y = np.asarray(y_true)
    if target_recall is not None and not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target_recall must be within (0, 1]. Got {target_recall!r} instead.")
    candidates = np.unique(np.concatenate([p_high, [0.5]]))
    best_t = 0.5
    aimed: dict[str, float] = {}  # what a recall target aimed at (reported)
    if target_recall is None:
        best_f1 = -1.0
        for t in candidates:
            f1 = f1_score(y, (p_high >= t).astype(int), average="weighted", zero_division=0)
            if f1 > best_f1 + 1e-12:
                best_t, best_f1 = float(t), f1
    else:
        aim = recall_to_aim_for(target_recall, int(np.sum(y == 1)), confidence)
        aimed = {"recall_confidence": confidence, "recall_aimed_at": aim}
        positives = np.sort(p_high[y == 1])[::-1]
        if len(positives):
            # the highest threshold keeping ceil(aim * n) high-risk posts at or above it
            k = min(len(positives), max(1, int(np.ceil(aim * len(positives) - 1e-9))))
            best_t = float(positives[k - 1])
        else:
            best_t = float(candidates.min())
        lower = candidates[candidates < best_t]
        if len(lower):
            # halfway to the next lower score: the same out-of-fold decisions, less tight on new data
            best_t = float((best_t + lower.max()) / 2)
    pred = (p_high >= best_t).astype(int)
    report = {
        "threshold": best_t,
        **aimed,
        "oof_high_risk_recall": float(recall_score(y, pred, zero_division=0)),
        "oof_weighted_f1": float(f1_score(y, pred, average="weighted", zero_division=0)),
    }
    return DecisionRule("threshold", threshold=best_t), report


def describe(rule: DecisionRule) -> str:
    """A short readable name of a rule, for reports."""
    if rule.rule == "argmax":
        return "argmax"
    if rule.rule == "threshold":
        return f"threshold={rule.threshold:.3f}"
    return f"expected_cost(power={rule.power:g}, under_weight={rule.under_weight:g}, zero_one={rule.zero_one:g})"
