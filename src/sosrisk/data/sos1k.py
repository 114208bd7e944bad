"""The official SOS-1K layout: five development folds, the test set, the fold-4 split and the pools.

Paths are those of the authors' repository (github.com/HongzhiQ/FineGrainedSuicideDetection) at the
pinned commit in :mod:`sosrisk.data.fetch`. The root is a folder with that layout: the data home's
``sos1k`` folder filled by ``sosrisk data fetch``, or a local copy passed explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..home import sos1k_dir
from ..scale import Task, check_task
from .errors import DataError, Problem
from .posts import PostSet, read_posts

N_FOLDS = 5
FOLD_PATHS: dict[str, str] = {
    "level": "suicideDataProcessing/data/fine-grained/fold{fold}.tsv",
    "binary": "suicideDataProcessing/data/binary/fold{fold}_twoClass.tsv",
}
TEST_PATHS: dict[str, str] = {
    "level": "suicideDataProcessing/data/fine-grained/test_data.tsv",
    "binary": "suicideDataProcessing/data/binary/testdata_twoClass.tsv",
}
# The split the authors' training script uses (fold 4 as validation; binary is a different split).
FOLD4_PATHS: dict[str, tuple[str, str]] = {
    "level": ("ModelTrain/data/train_data4.tsv", "ModelTrain/data/val_data4.tsv"),
    "binary": ("ModelTrain/twoClassData/train1-data.tsv", "ModelTrain/twoClassData/val1-data.tsv"),
}
_AUG = "suicideDataProcessing/data augmentation"
POOL_METHODS: dict[str, tuple[str, re.Pattern[str]]] = {
    "synonym": (
        f"{_AUG}/traditionalMethods/synonyms/New GenerateData",
        re.compile(r"round(?P<round>\d)-train/tongyiciData-round\d-(?P<level>\d+)\.tsv$"),
    ),
    "back-translation": (
        f"{_AUG}/traditionalMethods/back-translation/New GenerateData",
        re.compile(r"round(?P<round>\d)-train/baiduHuiyidata-round\d-myLabel(?P<level>\d+)\.tsv$"),
    ),
    "llm": (
        f"{_AUG}/LLMs/New GenerateData",
        re.compile(r"round(?P<round>\d)-train/LLMsData-round\d-myLabel(?P<level>\d+)-new\.tsv$"),
    ),
}


def resolve_root(root: str | Path | None = None) -> Path:
    """The SOS-1K folder to read: ``root`` if given, else the data home's ``sos1k`` folder.

    Raises a clear error when the development folds are not there.
    """
    folder = Path(root) if root is not None else sos1k_dir()
    first_fold = folder / FOLD_PATHS["level"].format(fold=1)
    if not first_fold.is_file():
        hint = (
            "run 'sosrisk data fetch' (or 'sosrisk data fetch --from DIR' with a local copy)"
            if root is None
            else "pass the folder that holds 'suicideDataProcessing/' and 'ModelTrain/'"
        )
        raise DataError(folder, f"SOS-1K not found: expected {FOLD_PATHS['level'].format(fold=1)} here; {hint}")
    return folder


def fold_path(task: Task, fold: int, root: str | Path | None = None) -> Path:
    """Path of official development fold ``fold`` (1-5) of ``task``."""
    check_task(task)
    if not 1 <= fold <= N_FOLDS:
        raise ValueError(f"The fold must be from 1 to {N_FOLDS}. Got {fold!r} instead.")
    return resolve_root(root) / FOLD_PATHS[task].format(fold=fold)


def load_folds(task: Task, root: str | Path | None = None) -> list[PostSet]:
    """The five official development folds of ``task``, each with its labels checked."""
    return [read_posts(fold_path(task, k, root), task=task) for k in range(1, N_FOLDS + 1)]


def load_development(task: Task, root: str | Path | None = None) -> PostSet:
    """All 999 development posts of ``task`` (the five folds joined, with a ``fold`` column)."""
    folds = load_folds(task, root)
    joined = PostSet.concat(folds)
    joined.frame["fold"] = [k for k, part in enumerate(folds, start=1) for _ in range(len(part))]
    return joined


def test_path(task: Task, root: str | Path | None = None) -> Path | None:
    """Path of the official test set of ``task`` when present (it is withheld in development copies)."""
    path = resolve_root(root) / TEST_PATHS[check_task(task)]
    return path if path.is_file() else None


def load_fold4_split(task: Task, root: str | Path | None = None) -> tuple[PostSet, PostSet]:
    """The (train, validation) split the authors' training script uses for ``task``."""
    base = resolve_root(root)
    train, val = FOLD4_PATHS[check_task(task)]
    return read_posts(base / train, task=task), read_posts(base / val, task=task)


@dataclass(frozen=True)
class PoolFile:
    """One file of the authors' augmentation pools: generated posts of one level in one round."""

    method: str
    round: int
    risk_level: int
    path: Path


def pool_files(root: str | Path | None = None, method: str | None = None) -> list[PoolFile]:
    """The published augmentation pools (synonym replacement, back-translation, LLM generation).

    Round ``k`` was generated from the training folds of round ``k``; see ``sosrisk augment`` for
    which development posts each round used.
    """
    base = resolve_root(root)
    if method is not None and method not in POOL_METHODS:
        raise ValueError(f"Unknown pool method {method!r}; expected one of {', '.join(POOL_METHODS)}.")
    found: list[PoolFile] = []
    for name, (folder, pattern) in POOL_METHODS.items():
        if method is not None and name != method:
            continue
        for path in sorted((base / folder).glob("round*-train/*.tsv")):
            match = pattern.search(path.relative_to(base / folder).as_posix())
            if match:
                found.append(PoolFile(name, int(match["round"]), int(match["level"]), path))
    return found


def read_pool(pool: PoolFile) -> PostSet:
    """Read one pool file; broken generated rows are left out and reported, never silently dropped."""
    return read_posts(pool.path, task="level", errors="report")


def summarize(root: str | Path | None = None) -> tuple[pd.DataFrame, list[Problem], dict[str, object]]:
    """Counts per level/class, task and fold, the problems found, and facts about what is present.

    Returns ``(counts, problems, facts)``: ``counts`` has one row per (task, label) and one column per
    fold plus ``total``.
    """
    base = resolve_root(root)
    rows = []
    problems: list[Problem] = []
    facts: dict[str, object] = {"root": str(base)}
    for task in ("level", "binary"):
        folds = load_folds(task, base)
        joined = PostSet.concat(folds)
        problems.extend(joined.problems)
        labels = range(11) if task == "level" else range(2)
        for label in labels:
            per_fold = [int((part.labels(task) == label).sum()) for part in folds]
            row: dict[str, object] = {"task": task, "label": label}
            row.update({f"fold{k}": count for k, count in enumerate(per_fold, start=1)})
            row["total"] = sum(per_fold)
            rows.append(row)
        test = test_path(task, base)
        facts[f"{task}_test_set"] = str(test) if test else "absent (withheld in this copy)"
    level_dev = load_development("level", base)
    binary_dev = load_development("binary", base)
    if level_dev.texts == binary_dev.texts:
        cross = pd.crosstab(level_dev.labels("level"), binary_dev.labels("binary"))
        facts["high_risk_by_level"] = {int(k): int(v) for k, v in cross.get(1, pd.Series(dtype=int)).items()}
        facts["binary_is_not_a_cut_of_level"] = (
            f"{int(cross.loc[0:5, 1].sum()) if 1 in cross else 0} posts at levels 0-5 are high risk, "
            f"{int(cross.loc[6:10, 0].sum()) if 0 in cross else 0} at levels 6-10 are low risk"
        )
    else:
        problems.append(
            Problem("mismatch", str(base), None, "the binary folds do not hold the same posts as the level folds")
        )
    pools = pool_files(base)
    facts["pool_files"] = len(pools)
    for pool in pools:
        problems.extend(read_pool(pool).problems)
    return pd.DataFrame(rows), problems, facts
