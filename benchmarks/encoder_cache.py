"""Reuse of finished encoder fine-tunings across benchmark runs (and processes), for benchmarks only.

``use_training_cache(folder)`` makes every ``EncoderModel.fit`` in this process first look for the same
run in ``folder``: a run is keyed by :meth:`sosrisk.models.encoder.EncoderModel.run_key` (its data and
their order, task, backbone and every setting), so a hit gives the model that run would train. An entry
holds the model directory and the validation split's logits (which ensembles read). The library knows
nothing of this cache; ``benchmarks/cv_encoders.py`` and ``augmentation_experiment.py`` switch it on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from sosrisk.models.encoder import HISTORY_KEYS  # what a restored model's record keeps of the cached run

logger = logging.getLogger(__name__)

DEFAULT_FOLDER = Path("/tmp/sosrisk-encoder-cache")


def use_training_cache(folder: str | os.PathLike[str] = DEFAULT_FOLDER) -> Path:
    """Switch the cache on for this process (idempotent); returns its folder."""
    from sosrisk.models.encoder import EncoderModel

    path = Path(folder)
    original = getattr(EncoderModel._fit, "uncached", EncoderModel._fit)

    def cached_fit(self: EncoderModel, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        key = self.run_key(texts, labels)
        if restore(self, path / key):
            logger.info("encoder restored from the training cache (%s)", key[:12])
            redecide(self, labels)
            return
        original(self, texts, labels, show_progress=show_progress)
        store(self, path / key)

    cached_fit.uncached = original  # type: ignore[attr-defined]
    EncoderModel._fit = cached_fit  # type: ignore[method-assign]
    return path


def restore(model: Any, entry: Path) -> bool:
    """Fill ``model`` (being fitted) from a cache entry; ``False`` when there is none."""
    from safetensors.numpy import load_file

    from sosrisk.models import load_model

    if not (entry / "config.json").is_file() or not (entry / "validation.safetensors").is_file():
        return False
    loaded = load_model(entry)
    for name in ("temperature_", "decision_", "cv_metrics_", "network_", "tokenizer_", "pad_id_"):
        setattr(model, name, getattr(loaded, name))
    model.resolved_pooling_ = loaded.resolved_pooling_
    model.resolved_prefix_ = loaded.resolved_prefix_
    validation = load_file(os.fspath(entry / "validation.safetensors"))
    model.validation_ = {"indices": validation["indices"], "logits": validation["logits"]}
    history = {k: v for k, v in loaded.training_.items() if k in HISTORY_KEYS}
    model.history_ = {**history, "restored_from_cache": True}
    return True


def redecide(model: Any, labels: np.ndarray) -> None:
    """Choose a restored model's temperature and decision rule again from its validation logits.

    The key names the training run, not the rule chosen after it: an entry made before a change to how rules
    are chosen (``sosrisk.models.decision``) still holds the weights that run trains, and the rule is chosen
    again here by the method ``EncoderModel._fit`` chooses it with.
    """
    if not model.validation_:
        return
    protocol = model.cv_metrics_.get("protocol")
    model.decide_on_validation(labels)
    if protocol is not None:
        model.cv_metrics_["protocol"] = protocol


def store(model: Any, entry: Path) -> None:
    """Write a freshly trained ``model`` (inside its ``fit``) as a cache entry."""
    from safetensors.numpy import save as save_arrays

    from sosrisk.atomic import atomic_write_bytes

    model.training_ = dict(model.history_)
    model.save(entry)
    if model.validation_:
        arrays = {k: np.ascontiguousarray(v) for k, v in model.validation_.items()}
        atomic_write_bytes(entry / "validation.safetensors", save_arrays(arrays))
