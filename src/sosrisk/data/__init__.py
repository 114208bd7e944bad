"""Reading and validating post files, the official SOS-1K layout, and leakage checks."""

from __future__ import annotations

from .errors import DataError, Problem
from .fetch import (
    REQUIRED_FILES,
    SOS1K_COMMIT,
    SOS1K_REPO,
    Failure,
    FetchError,
    FetchReport,
    Mismatch,
    fetch_sos1k,
    load_manifest,
)
from .leakage import find_leaks, normalize_for_matching
from .posts import PostSet, decode_bytes, read_many, read_posts
from .sos1k import (
    N_FOLDS,
    load_development,
    load_fold4_split,
    load_folds,
    pool_files,
    read_pool,
    resolve_root,
    test_path,
)

__all__ = [
    "N_FOLDS",
    "REQUIRED_FILES",
    "SOS1K_COMMIT",
    "SOS1K_REPO",
    "DataError",
    "Failure",
    "FetchError",
    "FetchReport",
    "Mismatch",
    "PostSet",
    "Problem",
    "decode_bytes",
    "fetch_sos1k",
    "find_leaks",
    "load_development",
    "load_fold4_split",
    "load_folds",
    "load_manifest",
    "normalize_for_matching",
    "pool_files",
    "read_many",
    "read_pool",
    "read_posts",
    "resolve_root",
    "test_path",
]
