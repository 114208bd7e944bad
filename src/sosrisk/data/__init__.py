"""Reading and validating post files, the official SOS-1K layout, and leakage checks."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each public name and the module that defines it: imported on first use, so that importing a light
# module of this package (errors, columns) does not import pandas.
_EXPORTS = {
    "N_FOLDS": "sos1k",
    "REQUIRED_FILES": "fetch",
    "SOS1K_COMMIT": "fetch",
    "SOS1K_REPO": "fetch",
    "DataError": "errors",
    "Failure": "fetch",
    "FetchError": "fetch",
    "FetchReport": "fetch",
    "Mismatch": "fetch",
    "PostSet": "posts",
    "Problem": "errors",
    "decode_bytes": "posts",
    "fetch_sos1k": "fetch",
    "find_leaks": "leakage",
    "load_development": "sos1k",
    "load_fold4_split": "sos1k",
    "load_folds": "sos1k",
    "load_manifest": "fetch",
    "normalize_for_matching": "leakage",
    "pool_files": "sos1k",
    "read_many": "posts",
    "read_pool": "sos1k",
    "read_posts": "posts",
    "resolve_root": "sos1k",
    "test_path": "sos1k",
}

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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
