"""Augmenting a training set to a balancing plan with one method, and cross-validating the result.

A method is an :class:`Augmenter` registered in :data:`AUGMENTERS` (the built-ins of
:mod:`.methods`: ``synonym``, ``back-translation``, ``llm``, ``pool-synonym``, ``pool-back-translation``,
``pool-llm``; another package adds one the same way or through the entry-point group
``sosrisk.augmenters``). Only the training posts are read to plan and to make new posts; evaluation posts
are used for one thing only, to leave out any new post that looks more like an evaluation post than like
its own source.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..data import PostSet, load_folds, normalize_for_matching
from ..registry import Registry
from ..scale import Task, check_task
from .neardup import SOURCE_SIMILARITY, NearestIndex
from .plan import BalancePlan, BalanceSize, plan_balance
from .posts import AugmentedPost, originals

if TYPE_CHECKING:
    from ..llm import ChatClient, Ledger
    from ..models.base import RiskModel
    from .generate import GenerationSettings
    from .synonyms import SynonymTable
    from .translate import Translator

logger = logging.getLogger(__name__)

DEFAULT_SIZE = "largest"


class AugmentError(ValueError):
    """Augmentation cannot run as asked."""


# Makes up to ``wanted`` new posts of ``label`` from that label's training posts (``sources``), drawing
# randomness only from ``rng``.
LabelMaker = Callable[[int, int, list[AugmentedPost], random.Random], list[AugmentedPost]]


class Augmenter(Protocol):
    """A method of making new training posts.

    ``offline``: runs without an LLM endpoint (``sosrisk augment cv`` runs only these). ``uses``: what
    :func:`sosrisk.augment.runner.build_resources` must open for it (``"chat"``: the chat endpoint,
    ``"translator"``: a translator). :meth:`begin` prepares one augmentation (``job``) and returns the
    function that makes the posts of each label.
    """

    @property
    def name(self) -> str: ...

    @property
    def offline(self) -> bool: ...

    @property
    def uses(self) -> frozenset[str]: ...

    def begin(self, job: AugmentJob) -> LabelMaker: ...


AUGMENTERS: Registry[Augmenter] = Registry(
    "augmentation method", entry_point_group="sosrisk.augmenters", error=AugmentError
)
for _name, _attribute in (
    ("synonym", "SYNONYM"),
    ("back-translation", "BACK_TRANSLATION"),
    ("llm", "GENERATION"),
    ("pool-synonym", "POOL_SYNONYM"),
    ("pool-back-translation", "POOL_BACK_TRANSLATION"),
    ("pool-llm", "POOL_LLM"),
):
    AUGMENTERS.register_lazy(_name, f"sosrisk.augment.methods:{_attribute}")


def augmentation_methods(*, offline_only: bool = False) -> list[str]:
    """The names of the registered methods (``offline_only``: those that need no endpoint)."""
    return [name for name in AUGMENTERS.names() if not offline_only or AUGMENTERS.get(name).offline]


@dataclass(frozen=True)
class AugmentSpec:
    """A method and a balancing size, written ``METHOD[:SIZE]`` (``synonym:116``, ``pool-llm:2xlargest``)."""

    method: str
    size: BalanceSize

    @classmethod
    def parse(cls, text: str) -> AugmentSpec:
        method, _, size = text.strip().partition(":")
        if method not in AUGMENTERS:
            raise AugmentError(
                f"augmentation: expected METHOD[:SIZE] with METHOD one of {', '.join(AUGMENTERS.names())}, got {text!r}"
            )
        return cls(method, BalanceSize.parse(size or DEFAULT_SIZE))

    def __str__(self) -> str:
        return f"{self.method}:{self.size}"


@dataclass
class AugmentResult:
    """What one augmentation made: the plan, the new posts, what fell short and what was rejected."""

    task: Task
    spec: AugmentSpec
    plan: BalancePlan
    added: list[AugmentedPost]
    shortfall: dict[int, int] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def made(self) -> dict[int, int]:
        """Posts added per label."""
        counts: Counter[int] = Counter(_label_of(p, self.task) for p in self.added)
        return dict(sorted(counts.items()))

    def render(self) -> str:
        """The plan with a ``made`` column, then shortfalls, rejections and notes."""
        made = self.made()
        lines = self.plan.render().splitlines()
        lines[1] += f" {'made':>6}"
        for i, row in enumerate(self.plan.rows, start=2):
            lines[i] += f" {made.get(row.label, 0):>6}"
        lines.append(f"made {len(self.added)} posts with {self.spec.method} in {self.seconds:.1f} s")
        for label, missing in sorted(self.shortfall.items()):
            lines.append(f"short by {missing} posts at label {label} (not enough usable material)")
        for reason, count in self.rejected.most_common():
            lines.append(f"rejected {count}: {reason}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no post text)."""
        return {
            "task": self.task,
            "augment": str(self.spec),
            "plan": self.plan.to_dict(),
            "made": {str(k): v for k, v in self.made().items()},
            "shortfall": {str(k): v for k, v in self.shortfall.items()},
            "rejected": dict(self.rejected),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 2),
        }

    def rows(self, train: PostSet) -> list[AugmentedPost]:
        """The training posts followed by the new ones: the rows of the augmented training file."""
        return [*originals(train), *self.added]


def _label_of(post: AugmentedPost, task: str) -> int:
    value = post.risk_level if task == "level" else post.high_risk
    if value is None:
        raise AugmentError(f"an augmented post has no {task} label (origin {post.origin})")
    return int(value)


@dataclass
class AugmentResources:
    """What the methods need beyond the training posts (each made on first use where possible)."""

    root: str | Path | None = None
    synonym_table: SynonymTable | None = None
    synonym_table_path: str | Path | None = None
    synonym_rate: float = 0.3
    translator: Translator | None = None
    pivots: Sequence[str] = ("en", "es", "fr", "ar", "ja")
    client: ChatClient | None = None
    ledger: Ledger | None = None
    model: str | None = None
    generation: GenerationSettings | None = None
    build_missing: bool = True

    def table(self, show_progress: bool) -> SynonymTable:
        if self.synonym_table is None:
            from .synonyms import load_synonym_table

            self.synonym_table = load_synonym_table(
                self.synonym_table_path, build=self.build_missing, show_progress=show_progress
            )
        return self.synonym_table


@dataclass
class AugmentJob:
    """One augmentation in progress: what every method may read, and where it records what it did."""

    task: Task
    holdout_fold: int | None
    resources: AugmentResources
    taken: set[str]  # normalised texts of the training posts and of the posts made so far
    guard: EvaluationGuard
    result: AugmentResult
    training: list[AugmentedPost]
    seed: int
    show_progress: bool


def augment_posts(
    train: PostSet,
    task: Task,
    spec: AugmentSpec | str,
    *,
    holdout_fold: int | None = None,
    evaluation: PostSet | None = None,
    resources: AugmentResources | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> AugmentResult:
    """New posts for the ``train`` posts of ``task`` by ``spec``'s method, to ``spec``'s balancing plan.

    ``holdout_fold`` is the official fold being evaluated (pool rounds made from it are not used);
    ``evaluation`` posts, when given, only serve to leave out new posts that look more like one of them
    than like any training post. Results are the same for the same inputs and ``seed``.
    """
    from ..progress import progress_bar

    check_task(task)
    chosen = spec if isinstance(spec, AugmentSpec) else AugmentSpec.parse(spec)
    needs = resources or AugmentResources()
    started = time.perf_counter()
    labels = train.labels(task)
    plan = plan_balance(task, labels, chosen.size)
    result = AugmentResult(task=task, spec=chosen, plan=plan, added=[])
    additions = plan.additions()
    if not additions:
        result.notes.append("nothing to add: every class already reaches the size")
        return result
    source_rows = originals(train)
    by_label: dict[int, list[AugmentedPost]] = {}
    for row, label in zip(source_rows, labels, strict=True):
        by_label.setdefault(int(label), []).append(row)
    job = AugmentJob(
        task=task,
        holdout_fold=holdout_fold,
        resources=needs,
        taken={normalize_for_matching(r.text) for r in source_rows},
        guard=EvaluationGuard(train, evaluation),
        result=result,
        training=source_rows,
        seed=seed,
        show_progress=show_progress,
    )
    make = AUGMENTERS.get(chosen.method).begin(job)
    with progress_bar(len(additions), f"augmenting with {chosen.method}", enabled=show_progress) as advance:
        for label, wanted in additions.items():
            rng = random.Random(f"{seed}:{chosen.method}:{task}:{label}")
            made = make(label, wanted, by_label.get(label, []), rng)
            if len(made) < wanted:
                result.shortfall[label] = wanted - len(made)
            result.added.extend(made)
            advance()
    result.seconds = time.perf_counter() - started
    logger.info("augmented %s: %d posts added with %s", task, len(result.added), chosen)
    return result


class EvaluationGuard:
    """Tells whether a new post looks more like an evaluation post than like any training post
    (its closest known post is an evaluation post at cosine >= 0.3); such posts are never added."""

    def __init__(self, train: PostSet, evaluation: PostSet | None) -> None:
        self._train_size = len(train)
        self._index = (
            NearestIndex([*train.texts, *evaluation.texts]) if evaluation is not None and len(evaluation) else None
        )

    def rejects(self, texts: Sequence[str]) -> list[bool]:
        if self._index is None or not texts:
            return [False] * len(texts)
        best, similarity = self._index.nearest(texts)
        return [bool(b >= self._train_size and s >= SOURCE_SIMILARITY) for b, s in zip(best, similarity, strict=True)]


# ---------------------------------------------------------------------------------------------------------
# Cross-validation with augmentation inside each training part


@dataclass
class AugmentedCrossValidation:
    """Per-fold metrics of a model trained on augmented training parts, and what each fold added."""

    task: str
    model: str
    augment: str
    per_fold: list[dict[str, float]]
    summary: dict[str, dict[str, float]]
    added: list[dict[int, int]]
    rejected: list[dict[str, int]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "augment": self.augment,
            "per_fold": self.per_fold,
            "mean": {k: v["mean"] for k, v in self.summary.items()},
            "std": {k: v["std"] for k, v in self.summary.items()},
            "added_per_fold": [{str(k): v for k, v in a.items()} for a in self.added],
            "rejected_per_fold": self.rejected,
            "seconds": round(self.seconds, 2),
        }


def cross_validate_augmented(
    task: Task,
    spec: AugmentSpec | str | None,
    *,
    model: str = "char-linear",
    params: dict[str, Any] | None = None,
    root: str | Path | None = None,
    folds: Sequence[PostSet] | None = None,
    resources: AugmentResources | None = None,
    seed: int = 0,
    show_progress: bool = False,
) -> AugmentedCrossValidation:
    """Five-fold cross-validation over the official folds where each training part (four folds) is
    augmented by ``spec`` before training, with the fifth fold held out from every step. ``spec=None``
    is the baseline without augmentation (same protocol)."""
    from ..metrics import summarize_folds
    from ..training import fold_runs

    check_task(task)
    parts = list(folds) if folds is not None else load_folds(task, root)
    chosen = AugmentSpec.parse(spec) if isinstance(spec, str) else spec
    needs = resources or AugmentResources(root=root)
    if needs.root is None:
        needs.root = root
    per_fold: list[dict[str, float]] = []
    added: list[dict[int, int]] = []
    rejected: list[dict[str, int]] = []
    train_posts: list[int] = []
    started = time.perf_counter()

    def fit(estimator: RiskModel, number: int, train: PostSet, held_out: PostSet) -> None:
        texts, labels = train.texts, train.labels(task).tolist()
        if chosen is not None:
            result = augment_posts(
                train, task, chosen, holdout_fold=number, evaluation=held_out, resources=needs, seed=seed,
                show_progress=show_progress,
            )  # fmt: skip
            texts = [*texts, *(p.text for p in result.added)]
            labels = [*labels, *(_label_of(p, task) for p in result.added)]
            added.append(result.made())
            rejected.append(dict(result.rejected))
        else:
            added.append({})
            rejected.append({})
        train_posts.append(len(texts))
        estimator.fit(texts, labels, show_progress=False)

    for fold in fold_runs(task, parts, model=model, params=params, fit=fit):
        metrics = fold.metrics
        metrics["train_posts"] = float(train_posts[-1])
        inner = (fold.estimator.cv_metrics_ or {}).get("oof", {})
        if "weighted_f1" in inner:  # the model's own cross-validation inside the (augmented) training part
            metrics["inner_oof_weighted_f1"] = float(inner["weighted_f1"])
        per_fold.append(metrics)
    summary = summarize_folds([{k: v for k, v in m.items() if k not in {"fold", "train_posts"}} for m in per_fold])
    return AugmentedCrossValidation(
        task=task,
        model=model,
        augment=str(chosen) if chosen is not None else "none",
        per_fold=per_fold,
        summary=summary,
        added=added,
        rejected=rejected,
        seconds=time.perf_counter() - started,
    )


def fold_gains(
    augmented: AugmentedCrossValidation, baseline: AugmentedCrossValidation, metric: str
) -> tuple[float, float, list[float]]:
    """Mean and standard deviation over folds of the paired gain in ``metric``, and the per-fold gains."""
    gains = [a[metric] - b[metric] for a, b in zip(augmented.per_fold, baseline.per_fold, strict=True)]
    return float(np.mean(gains)), float(np.std(gains, ddof=1)) if len(gains) > 1 else 0.0, gains
