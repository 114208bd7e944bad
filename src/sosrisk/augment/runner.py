"""Augmented training sets from files or the official folds, for ``sosrisk augment run`` and
``sosrisk train --augment``."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data import PostSet, load_folds, read_many
from ..home import data_home
from ..scale import Task, check_task
from .core import AUGMENTERS, AugmentError, AugmentResources, AugmentResult, AugmentSpec, augment_posts
from .posts import write_augmented


def default_ledger_path() -> Path:
    """The ledger of augmentation calls in the data home (reruns answer from it)."""
    return data_home() / "augment" / "llm-ledger.jsonl"


def build_resources(
    spec: AugmentSpec,
    *,
    root: str | Path | None = None,
    llm: Mapping[str, Any] | None = None,
    ledger_path: str | Path | None = None,
    translator: str = "chat",
    translator_options: Mapping[str, Any] | None = None,
    pivots: Sequence[str] | None = None,
    table_path: str | Path | None = None,
    synonym_rate: float = 0.3,
    generation: Any = None,
) -> AugmentResources:
    """What ``spec``'s method needs: the endpoint (options, else ``SOSRISK_LLM_*``) and ledger for the
    LLM methods, the translator for back-translation; nothing is opened for the offline methods."""
    resources = AugmentResources(
        root=root, synonym_table_path=table_path, synonym_rate=synonym_rate, generation=generation
    )
    if pivots:
        from .translate import check_language

        resources.pivots = tuple(check_language(p) for p in pivots)
    uses = AUGMENTERS.get(spec.method).uses
    if not uses:
        return resources
    from ..llm import ChatClient, Ledger, LLMOptions

    resources.ledger = Ledger(ledger_path or default_ledger_path())
    needs_chat = "chat" in uses or ("translator" in uses and translator == "chat")
    if needs_chat:
        options = LLMOptions.build(dict(llm or {}))
        resources.client = ChatClient(options)
        resources.model = options.model
    if "translator" in uses:
        from .translate import make_translator

        extra = dict(translator_options or {})
        if translator == "chat":
            extra.setdefault("client", resources.client)
            extra.setdefault("ledger", resources.ledger)
        resources.translator = make_translator(translator, **extra)
    return resources


def augmented_training_set(
    task: Task,
    spec: AugmentSpec | str,
    *,
    train_files: Sequence[str | Path] | None = None,
    root: str | Path | None = None,
    holdout_fold: int | None = None,
    evaluation_files: Sequence[str | Path] | None = None,
    resources: AugmentResources | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> tuple[PostSet, AugmentResult]:
    """The training posts and what augmenting them made.

    Training posts: ``train_files``, else the official folds (all five, or all but ``holdout_fold``).
    Evaluation posts (only used to leave look-alikes out): ``evaluation_files``, else the held-out fold.
    Pool methods need the official folds: with ``train_files`` every pool round is used, and the
    training files must not share posts with what is later evaluated.
    """
    check_task(task)
    chosen = spec if isinstance(spec, AugmentSpec) else AugmentSpec.parse(spec)
    evaluation: PostSet | None = None
    if train_files:
        if holdout_fold is not None:
            raise AugmentError("--holdout-fold picks the training folds; it cannot be used with --train files")
        train = read_many(list(train_files), task=task)
    else:
        folds = load_folds(task, root)
        if holdout_fold is not None:
            if not 1 <= holdout_fold <= len(folds):
                raise AugmentError(f"holdout fold: expected 1 to {len(folds)}, got {holdout_fold}")
            evaluation = folds[holdout_fold - 1]
        train = PostSet.concat([f for k, f in enumerate(folds, start=1) if k != holdout_fold])
    if evaluation_files:
        extra = read_many(list(evaluation_files))
        evaluation = PostSet.concat([evaluation, extra]) if evaluation is not None else extra
    needs = resources or AugmentResources(root=root)
    if needs.root is None:
        needs.root = root
    result = augment_posts(
        train,
        task,
        chosen,
        holdout_fold=holdout_fold,
        evaluation=evaluation,
        resources=needs,
        seed=seed,
        show_progress=show_progress,
    )
    if train_files and chosen.method.startswith("pool-"):
        result.notes.append(
            "the pools were made from the SOS-1K development folds: evaluate this model only on posts outside them"
        )
    return train, result


def augmented_training_file(
    task: Task,
    spec: AugmentSpec | str,
    *,
    train_files: Sequence[str | Path] | None = None,
    root: str | Path | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """An augmented training file in a temporary folder removed at exit, and the augmentation summary
    (for ``sosrisk train --augment``; the LLM methods read ``SOSRISK_LLM_*`` from the environment)."""
    chosen = spec if isinstance(spec, AugmentSpec) else AugmentSpec.parse(spec)
    resources = build_resources(chosen, root=root)
    try:
        train, result = augmented_training_set(
            task,
            chosen,
            train_files=train_files,
            root=root,
            resources=resources,
            seed=seed,
            show_progress=show_progress,
        )
    finally:
        if resources.client is not None:
            resources.client.close()
    folder = Path(tempfile.mkdtemp(prefix="sosrisk-augment-"))
    atexit.register(_remove, folder)
    path = write_augmented(folder / "augmented_train.tsv", result.rows(train))
    summary = result.to_dict()
    summary["seed"] = seed
    summary["original_sources"] = sorted({str(s) for s in train.frame["source"]})
    return path, summary


def _remove(folder: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(folder)
