"""Augmenting a training set to a balancing plan with one method, and cross-validating the result.

Methods: ``synonym`` (offline, :mod:`.synonyms`), ``back-translation`` (a translator, :mod:`.translate`),
``llm`` (generation, :mod:`.generate`) and the authors' pools ``pool-synonym``,
``pool-back-translation``, ``pool-llm`` (:mod:`.pools`). Only the training posts are read to plan and
to make new posts; evaluation posts are used for one thing only, to leave out any new post that
looks more like an evaluation post than like its own source.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import PostSet, load_folds, normalize_for_matching
from ..scale import Task, check_task
from .neardup import SOURCE_SIMILARITY, NearestIndex
from .plan import BalancePlan, BalanceSize, plan_balance
from .posts import AugmentedPost, originals

if TYPE_CHECKING:
    from ..llm import ChatClient, Ledger
    from .generate import GenerationSettings
    from .synonyms import SynonymTable
    from .translate import Translator

logger = logging.getLogger(__name__)

OFFLINE_METHODS = ("synonym", "pool-synonym", "pool-back-translation", "pool-llm")
LLM_METHODS = ("back-translation", "llm")
METHODS = ("synonym", "back-translation", "llm", "pool-synonym", "pool-back-translation", "pool-llm")
DEFAULT_SIZE = "largest"


class AugmentError(ValueError):
    """Augmentation cannot run as asked."""


@dataclass(frozen=True)
class AugmentSpec:
    """A method and a balancing size, written ``METHOD[:SIZE]`` (``synonym:116``, ``pool-llm:2xlargest``)."""

    method: str
    size: BalanceSize

    @classmethod
    def parse(cls, text: str) -> AugmentSpec:
        method, _, size = text.strip().partition(":")
        if method not in METHODS:
            raise AugmentError(
                f"augmentation: expected METHOD[:SIZE] with METHOD one of {', '.join(METHODS)}, got {text!r}"
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
    training_keys = {normalize_for_matching(r.text) for r in source_rows}
    guard = EvaluationGuard(train, evaluation)
    pool = None
    if chosen.method.startswith("pool-"):
        from .pools import pool_candidates

        pool = pool_candidates(chosen.method.removeprefix("pool-"), task, root=needs.root, holdout_fold=holdout_fold)
        result.rejected.update({f"pool: {k}": v for k, v in pool.left_out.items()})
        result.notes.append(
            f"pool rounds used: {', '.join(map(str, pool.rounds))}"
            + (f" (the rounds not made from fold {holdout_fold})" if holdout_fold else " (nothing held out)")
        )
    with progress_bar(len(additions), f"augmenting with {chosen.method}", enabled=show_progress) as advance:
        for label, wanted in additions.items():
            rng = random.Random(f"{seed}:{chosen.method}:{task}:{label}")
            sources = by_label.get(label, [])
            if pool is not None:
                candidates = pool.by_label.get(label, [])
                flagged = guard.rejects([c.text for c in candidates])
                if any(flagged):
                    result.rejected["closest to an evaluation post"] += sum(flagged)
                usable = [c for c, bad in zip(candidates, flagged, strict=True) if not bad]
                made = rng.sample(usable, min(wanted, len(usable)))
            elif chosen.method == "synonym":
                made = _synonym_posts(sources, wanted, rng, needs, training_keys, guard, result, show_progress)
            elif chosen.method == "back-translation":
                made = _back_translated_posts(sources, wanted, rng, needs, training_keys, guard, result)
            else:
                made = _generated_posts(task, label, sources, wanted, rng, needs, source_rows, guard, result, seed)
            if len(made) < wanted:
                result.shortfall[label] = wanted - len(made)
            result.added.extend(made)
            advance()
    result.seconds = time.perf_counter() - started
    logger.info("augmented %s: %d posts added with %s", task, len(result.added), chosen)
    return result


def _synonym_posts(
    sources: list[AugmentedPost],
    wanted: int,
    rng: random.Random,
    needs: AugmentResources,
    taken: set[str],
    guard: EvaluationGuard,
    result: AugmentResult,
    show_progress: bool,
) -> list[AugmentedPost]:
    from .synonyms import SynonymReplacer

    replacer = SynonymReplacer(needs.table(show_progress), rate=needs.synonym_rate)
    order = list(range(len(sources)))
    rng.shuffle(order)
    made: list[AugmentedPost] = []
    idle_passes = 0
    while len(made) < wanted and idle_passes < 3 and order:
        progress = False
        for index in order:
            if len(made) >= wanted:
                break
            source = sources[index]
            variant = replacer.variant(source.text, rng)
            if variant is None:
                result.rejected["synonym: no replaceable word"] += 1
                continue
            key = normalize_for_matching(variant[0])
            if key in taken:
                result.rejected["synonym: repeats an earlier post"] += 1
                continue
            taken.add(key)
            if guard.rejects([variant[0]])[0]:
                result.rejected["closest to an evaluation post"] += 1
                continue
            made.append(AugmentedPost(variant[0], source.risk_level, source.high_risk, "synonym", source.derived_from))
            progress = True
        idle_passes = 0 if progress else idle_passes + 1
    return made


def _back_translated_posts(
    sources: list[AugmentedPost],
    wanted: int,
    rng: random.Random,
    needs: AugmentResources,
    taken: set[str],
    guard: EvaluationGuard,
    result: AugmentResult,
) -> list[AugmentedPost]:
    from .guards import guard_violations
    from .translate import back_translate

    if needs.translator is None:
        raise AugmentError(
            "back-translation needs a translator: an LLM endpoint (--base-url and --llm-model, or "
            "SOSRISK_LLM_BASE_URL and SOSRISK_LLM_MODEL) or a registered translation API (--translator)"
        )
    order = list(range(len(sources)))
    rng.shuffle(order)
    pairs = [(index, pivot) for pivot in needs.pivots for index in order]
    made: list[AugmentedPost] = []
    position = 0
    while len(made) < wanted and position < len(pairs):
        need = wanted - len(made)
        chunk = pairs[position : position + max(need + need // 2, 1)]
        position += len(chunk)
        for pivot in dict.fromkeys(p for _, p in chunk):
            indices = [i for i, p in chunk if p == pivot]
            outputs = back_translate([sources[i].text for i in indices], needs.translator, pivot)
            for index, output in zip(indices, outputs, strict=True):
                if len(made) >= wanted:
                    break
                if not output:
                    result.rejected["back-translation: translation failed"] += 1
                    continue
                key = normalize_for_matching(output)
                if key in taken:
                    result.rejected["back-translation: same as the source or an earlier post"] += 1
                    continue
                problems = guard_violations(sources[index].text, output)
                if problems:
                    result.rejected[f"back-translation guard: {problems[0].split(' ')[0]} changed"] += 1
                    continue
                taken.add(key)
                if guard.rejects([output])[0]:
                    result.rejected["closest to an evaluation post"] += 1
                    continue
                source = sources[index]
                made.append(
                    AugmentedPost(
                        output, source.risk_level, source.high_risk, f"back-translation:{pivot}", source.derived_from
                    )
                )
    return made


def _generated_posts(
    task: Task,
    label: int,
    sources: list[AugmentedPost],
    wanted: int,
    rng: random.Random,
    needs: AugmentResources,
    training: list[AugmentedPost],
    guard: EvaluationGuard,
    result: AugmentResult,
    seed: int,
) -> list[AugmentedPost]:
    from .generate import generate_for_label

    if needs.client is None and needs.model is None:
        raise AugmentError(
            "LLM generation needs an endpoint: --base-url and --llm-model (or SOSRISK_LLM_BASE_URL and "
            "SOSRISK_LLM_MODEL)"
        )
    generated = generate_for_label(
        task,
        label,
        [s.text for s in sources],
        wanted,
        client=needs.client,
        ledger=needs.ledger,
        rng=rng,
        settings=needs.generation,
        model=needs.model,
        avoid=[*(t.text for t in training), *(p.text for p in result.added)],  # other labels' posts too
        salt=f"seed{seed}",
        reject=lambda texts: guard.rejects(texts),
    )
    result.rejected.update({f"llm: {k}": v for k, v in generated.rejected.items()})
    level_value = label if task == "level" else None
    high_value = label if task == "binary" else None
    return [AugmentedPost(text, level_value, high_value, "llm") for text in generated.posts]


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
    from ..metrics import evaluate_predictions, summarize_folds
    from ..training import make_model

    check_task(task)
    parts = list(folds) if folds is not None else load_folds(task, root)
    chosen = AugmentSpec.parse(spec) if isinstance(spec, str) else spec
    needs = resources or AugmentResources(root=root)
    if needs.root is None:
        needs.root = root
    per_fold, added, rejected = [], [], []
    started = time.perf_counter()
    for k, held_out in enumerate(parts, start=1):
        train = PostSet.concat([p for j, p in enumerate(parts, start=1) if j != k])
        texts, labels = train.texts, train.labels(task).tolist()
        if chosen is not None:
            result = augment_posts(
                train, task, chosen, holdout_fold=k, evaluation=held_out, resources=needs, seed=seed,
                show_progress=show_progress,
            )  # fmt: skip
            texts = [*texts, *(p.text for p in result.added)]
            labels = [*labels, *(_label_of(p, task) for p in result.added)]
            added.append(result.made())
            rejected.append(dict(result.rejected))
        else:
            added.append({})
            rejected.append({})
        estimator = make_model(model, task, params)
        estimator.fit(texts, labels, show_progress=False)
        proba = estimator.predict_proba(held_out.texts)
        assert estimator.classes_ is not None
        prediction = estimator.decision_.decide(proba, estimator.classes_)
        metrics = evaluate_predictions(task, held_out.labels(task), prediction, proba)
        metrics["fold"] = float(k)
        metrics["train_posts"] = float(len(texts))
        inner = (estimator.cv_metrics_ or {}).get("oof", {})
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
