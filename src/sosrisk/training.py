"""Training and cross-validation over the official SOS-1K folds or any labelled post files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import PostSet, find_leaks, load_folds, read_many
from .data.errors import Problem
from .metrics import evaluate_predictions, scope_metrics, summarize_folds
from .models import RiskModel, get_model_class
from .models.base import ModelError, Predictions
from .scale import Task, check_task

if TYPE_CHECKING:
    from .scope.raiser import Raiser
    from .scope.stage import ScopeStage
    from .scope.training import ScopeSettings

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "char-linear"


def make_model(kind: str, task: Task, params: dict[str, Any] | None = None) -> RiskModel:
    """An unfitted model of a registered ``kind`` for ``task`` with ``params``.

    Unknown parameters are an error naming the kind and the parameter.
    """
    check_task(task)
    model_cls = get_model_class(kind)
    try:
        return model_cls(task=task, **(params or {}))
    except TypeError as exc:
        raise ModelError(f"Bad parameters for the {kind!r} model: {exc}.") from None


def training_data(
    task: Task, train_files: Sequence[str | Path] | None = None, root: str | Path | None = None
) -> PostSet:
    """The posts to train on: ``train_files`` when given, else all five official development folds."""
    if train_files:
        return read_many(list(train_files), task=task)
    return PostSet.concat(load_folds(task, root))


def train_model(
    task: Task,
    *,
    model: str = DEFAULT_MODEL,
    train_files: Sequence[str | Path] | None = None,
    root: str | Path | None = None,
    params: dict[str, Any] | None = None,
    scope: bool | ScopeSettings | dict[str, Any] | None = True,
    show_progress: bool = True,
) -> tuple[RiskModel, PostSet]:
    """Train a model of kind ``model`` for ``task``; returns the fitted model and the training posts.

    With ``scope`` (the default), the model gets a scope stage trained on these posts against ordinary
    text, and learns from ``risk_negatives`` ordinary posts as level 0 / low risk (see
    :class:`sosrisk.scope.training.ScopeSettings`); ``scope=False`` trains on the posts alone.
    """
    from .scope.training import ScopeSettings

    settings = ScopeSettings.from_value(scope)
    posts = training_data(task, train_files, root)
    if len(posts) == 0:
        raise ModelError("No training posts: every training file is empty.")
    estimator = make_model(model, task, params)
    started = time.perf_counter()
    fit_with_scope(estimator, posts.texts, posts.labels(task), settings, show_progress=show_progress)
    estimator.training_["seconds"] = round(time.perf_counter() - started, 2)
    estimator.training_["sources"] = sorted({str(s) for s in posts.frame["source"]})
    logger.info("trained %s for %s on %d posts in %.1f s", model, task, len(posts), estimator.training_["seconds"])
    return estimator, posts


def fit_with_scope(
    estimator: RiskModel,
    texts: list[str],
    labels: np.ndarray,
    settings: ScopeSettings,
    *,
    negatives: dict[str, list[str]] | None = None,
    pool: list[str] | None = None,
    show_progress: bool = False,
) -> RiskModel:
    """Fit ``estimator`` on ``texts`` (+ ordinary posts as label 0) and give it a scope stage trained on ``texts``.

    ``negatives`` (by source) and ``pool`` (:func:`~sosrisk.scope.training.risk_negative_pool`) may be passed in
    when several models share them (cross-validation).
    """
    from .scope.training import (
        at_risk_mask,
        fit_scope,
        gate_negatives,
        mined_risk_negatives,
        risk_negative_pool,
        risk_negative_weight,
        risk_negatives,
    )

    settings = settings.for_model(type(estimator).scope_defaults_for(estimator.task))
    if settings.enabled and settings.risk_negatives_all:
        if settings.risk_negatives_from != "gate":
            raise ModelError(
                "'risk_negatives_all' needs risk_negatives_from='gate' (the posts the stage lets through)."
            )
        if not type(estimator).supports_sample_weight:
            raise ModelError(
                f"'risk_negatives_all' weighs the ordinary posts, and the {estimator.kind!r} model cannot learn "
                "from weighted posts; leave it False."
            )
    if not settings.enabled:
        estimator.fit(texts, labels, show_progress=show_progress)
        estimator.training_["scope"] = None
        return estimator
    if negatives is None:
        negatives = gate_negatives(settings)
    y = np.asarray(labels, dtype=np.int64)
    # the stage is trained on the in-scope posts and ordinary text only, so it can choose the ordinary posts
    if pool is None and settings.mines:
        pool = risk_negative_pool(settings)
    mining_quantile = settings.danger_mining_quantile
    # the stage chooses the ordinary posts without the own-voice bar, which is set after the choice
    choosing = replace(settings, danger_guarded_quantile=None)
    if mining_quantile is not None:
        choosing = replace(choosing, danger_quantile=mining_quantile)
    stage = fit_scope(
        texts, at_risk_mask(estimator.task, y), choosing, negatives, pool=pool, show_progress=show_progress
    )
    mined: dict[str, int] | None = None
    if settings.risk_negatives_from == "gate" and settings.risk_negatives:
        extra, mined = mined_risk_negatives(settings, stage, pool or [], show_progress=show_progress)
    else:
        extra = risk_negatives(settings, negatives)
    if stage.danger is not None:
        # the ordinary posts were chosen at the mining bar, without the own-voice bar; predictions use both
        if mining_quantile is not None:
            stage.danger.requantile(settings.danger_quantile)
        stage.danger.set_own_voice_bar(settings.danger_guarded_quantile)
    stage.training["settings"] = settings.to_dict()
    if settings.raiser:
        stage.raiser = fit_stage_raiser(stage, estimator.task, texts, y, settings, negatives, show_progress)
    positives, positive_labels = hard_positive_posts(estimator.task) if settings.hard_positives else ([], [])
    # the ordinary posts (and the team's hard positives) teach the model, but its temperature, decision rule
    # and recorded metrics come from the in-scope posts alone
    calibrate_on = np.concatenate([np.ones(len(y), dtype=bool), np.zeros(len(extra) + len(positives), dtype=bool)])
    all_labels = np.concatenate([y, np.zeros(len(extra), dtype=np.int64), np.asarray(positive_labels, dtype=np.int64)])
    weight = risk_negative_weight(settings, len(extra))
    sample_weight = None
    if weight != 1.0:
        sample_weight = np.ones(len(all_labels))
        sample_weight[len(y) : len(y) + len(extra)] = weight
    estimator.fit(
        list(texts) + extra + positives,
        all_labels,
        show_progress=show_progress,
        calibrate_on=calibrate_on,
        sample_weight=sample_weight,
    )
    estimator.scope_ = stage
    estimator.training_["scope"] = {"risk_negatives": len(extra), "in_scope_posts": len(texts)}
    if weight != 1.0:
        estimator.training_["scope"]["risk_negative_weight"] = round(weight, 6)
    if mined is not None:
        estimator.training_["scope"]["risk_negatives_mined"] = mined
    if positives:
        from .scope.hard_positives import VERSION

        estimator.training_["scope"]["hard_positives"] = {"posts": len(positives), "version": VERSION}
    return estimator


def fit_stage_raiser(
    stage: ScopeStage,
    task: str,
    texts: list[str],
    labels: np.ndarray,
    settings: ScopeSettings,
    negatives: dict[str, list[str]],
    show_progress: bool,
) -> Raiser:
    """The stage's fine-tuned raiser: it learns the training posts at risk (level 6+ or high risk) against the calm
    ones (level 0-3, or low risk) and the ordinary sentences of ``negatives`` (not the team's hard negatives, which it
    samples itself)."""
    from .scope.raiser import fit_raiser
    from .scope.training import HARD_NEGATIVES, at_risk_mask

    at_risk = at_risk_mask(task, labels)
    calm = labels <= 3 if task == "level" else labels == 0
    ordinary = [t for name, posts in negatives.items() if name != HARD_NEGATIVES for t in posts]
    return fit_raiser(
        stage,
        [t for t, keep in zip(texts, at_risk, strict=True) if keep],
        [t for t, keep in zip(texts, calm, strict=True) if keep],
        ordinary,
        quantile=settings.raiser_quantile,
        band_quantile=settings.raiser_band_quantile,
        ordinary_posts=settings.raiser_ordinary,
        model_settings=settings.raiser_model,
        show_progress=show_progress,
    )


def hard_positive_posts(task: str) -> tuple[list[str], list[int]]:
    """The team's hard-positive sentences with their labels for ``task`` (their level, or 1: high risk)."""
    from .scope.hard_positives import hard_positives

    triples = hard_positives()
    return [sentence for _, sentence, _ in triples], [level if task == "level" else 1 for _, _, level in triples]


@dataclass
class CrossValidation:
    """Per-fold metrics, their mean and standard deviation, and the out-of-fold predictions."""

    task: str
    model: str
    per_fold: list[dict[str, float]]
    summary: dict[str, dict[str, float]]
    oof_labels: np.ndarray
    oof_predictions: np.ndarray
    oof_proba: np.ndarray
    params: dict[str, Any]
    seconds: float
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-fold and mean +/- std metrics, plus the settings."""
        return {
            "task": self.task,
            "model": self.model,
            "protocol": "five official SOS-1K development folds: train on four, evaluate on the fifth",
            "params": self.params,
            "per_fold": self.per_fold,
            "mean": {k: v["mean"] for k, v in self.summary.items()},
            "std": {k: v["std"] for k, v in self.summary.items()},
            "pooled": evaluate_predictions(self.task, self.oof_labels, self.oof_predictions, self.oof_proba),
            "seconds": round(self.seconds, 2),
            "problems": [str(p) for p in self.problems],
        }


@dataclass
class FoldRun:
    """One fold of a cross-validation: the model trained without it and its answers on it."""

    number: int  # 1-based, as the official files are numbered
    estimator: RiskModel
    labels: np.ndarray  # the held-out fold's true labels
    predictions: Predictions
    metrics: dict[str, float]  # evaluate_predictions + scope_metrics on the held-out fold, then "fold"


def fold_runs(
    task: Task,
    parts: Sequence[PostSet],
    *,
    model: str,
    params: dict[str, Any] | None,
    fit: Callable[[RiskModel, int, PostSet, PostSet], object],
) -> Iterator[FoldRun]:
    """The fold loop of every cross-validation (:func:`cross_validate`, ``augment.cross_validate_augmented``).

    For each fold of ``parts``, a fresh ``model`` is made and ``fit(estimator, number, train, held_out)``
    trains it on the other folds (``train``; how is the caller's: with a scope stage, on augmented posts
    ...); the model then predicts the held-out fold through ``predict_details`` and the fold's metrics are
    computed here, the one place they are.
    """
    for number, held_out in enumerate(parts, start=1):
        train = PostSet.concat([p for j, p in enumerate(parts, start=1) if j != number])
        estimator = make_model(model, task, params)
        fit(estimator, number, train, held_out)
        details = estimator.predict_details(held_out.texts)
        y = held_out.labels(task)
        metrics = evaluate_predictions(task, y, details.labels, details.proba)
        metrics.update(scope_metrics(task, y, details.scope))
        metrics["fold"] = float(number)
        yield FoldRun(number, estimator, y, details, metrics)


def cross_validate(
    task: Task,
    *,
    model: str = DEFAULT_MODEL,
    root: str | Path | None = None,
    params: dict[str, Any] | None = None,
    folds: Sequence[PostSet] | None = None,
    scope: bool | ScopeSettings | dict[str, Any] | None = True,
    show_progress: bool = True,
) -> CrossValidation:
    """Cross-validate over the five official folds: for each fold, train on the other four and evaluate.

    Each fold's model is trained as :func:`train_model` trains one (with its own scope stage, fitted on
    the four training folds only). Text shared between a training part and its evaluation fold is
    reported as a leak.
    """
    from .scope.training import ScopeSettings, gate_negatives, risk_negative_pool

    check_task(task)
    settings = ScopeSettings.from_value(scope).for_model(get_model_class(model).scope_defaults_for(task))
    negatives = gate_negatives(settings) if settings.enabled else None
    pool = risk_negative_pool(settings) if settings.mines else None
    parts = list(folds) if folds is not None else load_folds(task, root)
    per_fold: list[dict[str, float]] = []
    labels, predictions, probas = [], [], []
    problems: list[Problem] = []
    started = time.perf_counter()
    from .progress import progress_bar

    def fit(estimator: RiskModel, _number: int, train: PostSet, held_out: PostSet) -> None:
        problems.extend(find_leaks(train, held_out))
        fit_with_scope(estimator, train.texts, train.labels(task), settings, negatives=negatives, pool=pool)

    with progress_bar(len(parts), f"cross-validating {model} ({task})", enabled=show_progress) as advance:
        for fold in fold_runs(task, parts, model=model, params=params, fit=fit):
            per_fold.append(fold.metrics)
            labels.append(fold.labels)
            predictions.append(fold.predictions.labels)
            probas.append(fold.predictions.proba)
            advance()
    summary = summarize_folds([{k: v for k, v in m.items() if k != "fold"} for m in per_fold])
    return CrossValidation(
        task=task,
        model=model,
        per_fold=per_fold,
        summary=summary,
        oof_labels=np.concatenate(labels),
        oof_predictions=np.concatenate(predictions),
        oof_proba=np.vstack(probas),
        params={**make_model(model, task, params).config_params(), "scope": settings.to_dict()},
        seconds=time.perf_counter() - started,
        problems=problems,
    )
