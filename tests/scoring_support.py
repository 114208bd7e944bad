"""Shared helpers of the batch-scoring tests: tiny real models and generated input files."""

from __future__ import annotations

import json
import random
from pathlib import Path

from conftest import TINY_POSTS, tiny_dataset

ALL_POSTS = [post for posts in TINY_POSTS.values() for post in posts]


def train_tiny_models(folder: Path) -> tuple[Path, Path]:
    """A char-linear level model and binary model trained on the tiny posts; returns their directories."""
    from sosrisk.models.char_linear import CharLinearModel

    level_dir, binary_dir = folder / "level", folder / "binary"
    if not (level_dir / "config.json").is_file():
        texts, labels = tiny_dataset("level")
        CharLinearModel(task="level", cv_folds=3).fit(texts, labels).save(level_dir)
        texts, labels = tiny_dataset("binary")
        CharLinearModel(task="binary", cv_folds=3).fit(texts, labels).save(binary_dir)
    return level_dir, binary_dir


def generated_posts(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` posts with ids, texts drawn from the tiny posts with a numbered suffix (so they differ)."""
    rng = random.Random(seed)
    return [{"id": f"p{i}", "text": f"{rng.choice(ALL_POSTS)}（{i}）"} for i in range(n)]


def write_jsonl(path: Path, posts: list[dict[str, str]]) -> Path:
    """Write posts as UTF-8 JSONL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for post in posts:
            handle.write(json.dumps(post, ensure_ascii=False) + "\n")
    return path
