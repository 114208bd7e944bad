"""The built-in augmentation methods, each an :class:`~sosrisk.augment.core.Augmenter`.

``synonym`` (offline, :mod:`.synonyms`), ``back-translation`` (a translator, :mod:`.translate`), ``llm``
(generation, :mod:`.generate`) and the authors' pools ``pool-synonym``, ``pool-back-translation``,
``pool-llm`` (:mod:`.pools`). They are registered lazily in :data:`sosrisk.augment.core.AUGMENTERS`, the
same way another package registers its own (entry-point group ``sosrisk.augmenters``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..data import normalize_for_matching
from ..scale import Task
from .core import AugmentError, AugmentJob, AugmentResources, AugmentResult, EvaluationGuard, LabelMaker
from .posts import AugmentedPost


@dataclass(frozen=True)
class SynonymAugmenter:
    """Offline synonym replacement with the guards of :mod:`.guards`."""

    name: str = "synonym"
    offline: bool = True
    uses: frozenset[str] = frozenset()

    def begin(self, job: AugmentJob) -> LabelMaker:
        def make(label: int, wanted: int, sources: list[AugmentedPost], rng: random.Random) -> list[AugmentedPost]:
            return _synonym_posts(
                sources, wanted, rng, job.resources, job.taken, job.guard, job.result, job.show_progress
            )

        return make


@dataclass(frozen=True)
class BackTranslationAugmenter:
    """Chinese -> pivot language -> Chinese through the job's translator; guard violations are rejected."""

    name: str = "back-translation"
    offline: bool = False
    uses: frozenset[str] = frozenset({"translator"})

    def begin(self, job: AugmentJob) -> LabelMaker:
        def make(label: int, wanted: int, sources: list[AugmentedPost], rng: random.Random) -> list[AugmentedPost]:
            return _back_translated_posts(sources, wanted, rng, job.resources, job.taken, job.guard, job.result)

        return make


@dataclass(frozen=True)
class GenerationAugmenter:
    """New posts written by an LLM with the paper's prompt strategy."""

    name: str = "llm"
    offline: bool = False
    uses: frozenset[str] = frozenset({"chat"})

    def begin(self, job: AugmentJob) -> LabelMaker:
        def make(label: int, wanted: int, sources: list[AugmentedPost], rng: random.Random) -> list[AugmentedPost]:
            return _generated_posts(
                job.task, label, sources, wanted, rng, job.resources, job.training, job.guard, job.result, job.seed
            )

        return make


@dataclass(frozen=True)
class PoolAugmenter:
    """Posts drawn from one of the authors' published pools, leaving out rounds made from the held-out fold."""

    name: str
    pool: str
    offline: bool = True
    uses: frozenset[str] = frozenset()

    def begin(self, job: AugmentJob) -> LabelMaker:
        from .pools import pool_candidates

        pool = pool_candidates(self.pool, job.task, root=job.resources.root, holdout_fold=job.holdout_fold)
        job.result.rejected.update({f"pool: {k}": v for k, v in pool.left_out.items()})
        job.result.notes.append(
            f"pool rounds used: {', '.join(map(str, pool.rounds))}"
            + (f" (the rounds not made from fold {job.holdout_fold})" if job.holdout_fold else " (nothing held out)")
        )

        def make(label: int, wanted: int, sources: list[AugmentedPost], rng: random.Random) -> list[AugmentedPost]:
            candidates = pool.by_label.get(label, [])
            flagged = job.guard.rejects([c.text for c in candidates])
            if any(flagged):
                job.result.rejected["closest to an evaluation post"] += sum(flagged)
            usable = [c for c, bad in zip(candidates, flagged, strict=True) if not bad]
            return rng.sample(usable, min(wanted, len(usable)))

        return make


SYNONYM = SynonymAugmenter()
BACK_TRANSLATION = BackTranslationAugmenter()
GENERATION = GenerationAugmenter()
POOL_SYNONYM = PoolAugmenter("pool-synonym", "synonym")
POOL_BACK_TRANSLATION = PoolAugmenter("pool-back-translation", "back-translation")
POOL_LLM = PoolAugmenter("pool-llm", "llm")


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
