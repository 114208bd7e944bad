"""The one interface every model kind implements, and saving and loading model directories.

A model directory holds ``config.json`` (allow-listed fields, format version, task, labels, model
settings, calibration, decision rule, training record, cross-validated metrics), weights as
``.npz`` / ``.safetensors`` / JSON, keyed hashes of the training posts (:mod:`.membership`), the scope
stage when there is one, and a ``README.md`` model card. Nothing in a model directory is ever unpickled
or executed; the readers that check every file before use are in :mod:`.directory`. Parameters follow
scikit-learn's estimator contract (:mod:`.params`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, overload

import numpy as np

from .. import __version__
from ..atomic import WriteError, atomic_write_text
from ..scale import RECOVERED_LEVEL, Task, labels_for
from .decision import DecisionRule
from .directory import CONFIG_FIELDS, CONFIG_NAME, FORMAT_VERSION, read_config, read_npz
from .errors import ModelError, NotFittedError
from .membership import LEGACY_FILE, Overlap, TrainingMembership
from .params import Constraint, Estimator, Options, is_int, is_number

if TYPE_CHECKING:
    from ..scope.stage import ScopeDecision, ScopeStage

logger = logging.getLogger(__name__)

__all__ = [
    "CONFIG_FIELDS",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "ModelError",
    "NotFittedError",
    "Overlap",
    "Predictions",
    "RiskModel",
    "data_fingerprint",
    "is_int",
    "is_number",
    "read_config",
    "read_npz",
    "softmax",
]
TRAINING_HASHES_FILE = LEGACY_FILE  # the unkeyed hashes of directories written before keyed ones (read only)
# what a model (or an ensemble member) does with the ordinary posts a scope-stage training adds: learn them
# ("train") or learn only the posts that count for calibration ("skip")
ORDINARY_POSTS = ("train", "skip")


@dataclass
class Predictions:
    """A model's answers for a batch: labels (after the decision rule and the safety-net rules), probabilities,
    and the scope decision (``None`` when the model has no scope stage or it was not applied).

    Posts out of scope have probability 1 for label 0 (level 0, low risk) and the model never ran on them.
    """

    labels: np.ndarray
    proba: np.ndarray
    scope: ScopeDecision | None = None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def data_fingerprint(texts: Sequence[str], labels: Sequence[int]) -> str:
    """A sha256 over the sorted (label, text) pairs of a training set: same data, same fingerprint."""
    digest = hashlib.sha256()
    for label, text in sorted(zip((int(v) for v in labels), texts, strict=True)):
        digest.update(f"{label}\t{text}\n".encode())
    return "sha256:" + digest.hexdigest()


class RiskModel(Estimator, ABC):
    """Base class of every model kind.

    Subclasses declare their parameters as keyword-only arguments of ``__init__`` (stored unchanged) and
    in ``_parameter_constraints`` (checked in :meth:`fit` and when a directory is loaded; see
    :mod:`sosrisk.models.params`), and implement :meth:`_fit`, :meth:`_logits`, :meth:`_save_weights`
    and :meth:`_load_weights`. The base class handles the task and labels, temperature calibration, the
    decision rule, the scope stage, the membership hashes, the model card and the model directory.

    Learned state ends in ``_``: ``classes_``, ``temperature_``, ``decision_``.
    """

    kind: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {"task": Options(("level", "binary"))}
    # parameters that steer one training run and are not model settings (never written to config.json)
    _run_only_params: ClassVar[frozenset[str]] = frozenset()
    # defaults that depend on the task: {task: {parameter: value}}, used where the parameter is None
    _task_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    # scope settings this kind was measured best with (benchmarks/cv_encoders.py), used where the caller's
    # ScopeSettings leave them None: see ScopeSettings.for_model
    scope_defaults: ClassVar[dict[str, Any]] = {}
    # ... and where a task chose otherwise, {task: {setting: value}} over scope_defaults: see scope_defaults_for
    scope_task_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    # whether _fit honours ``sample_weight_`` (see fit); kinds that do not refuse weights instead of ignoring them
    supports_sample_weight: ClassVar[bool] = False

    @classmethod
    def scope_defaults_for(cls, task: str) -> dict[str, Any]:
        """The scope settings this kind chose for ``task``: :attr:`scope_defaults` and the task's own choices."""
        return {**cls.scope_defaults, **cls.scope_task_defaults.get(task, {})}

    def __init__(self, *, task: Task = "level") -> None:
        self.task = task
        self.classes_: np.ndarray | None = None
        self.temperature_: float = 1.0
        self.decision_: DecisionRule = DecisionRule()
        self.training_: dict[str, Any] = {}
        self.cv_metrics_: dict[str, Any] = {}
        self.membership_: TrainingMembership | None = None
        self.scope_: ScopeStage | None = None
        self.calibrate_on_: np.ndarray | None = None  # set during fit only (see fit)
        self.sample_weight_: np.ndarray | None = None  # set during fit only (see fit)

    # ----------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _fit(self, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        """Learn the weights from texts and integer labels (``classes_`` is set, the parameters are checked)."""

    @abstractmethod
    def _logits(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        """Uncalibrated class scores ``(n, n_classes)`` whose softmax is the model's probability."""

    @abstractmethod
    def _save_weights(self, directory: Path) -> dict[str, str]:
        """Write the weights into ``directory``; return ``{role: file name}`` for ``config.json['files']``."""

    @abstractmethod
    def _load_weights(self, directory: Path, files: dict[str, str]) -> None:
        """Read the weights written by :meth:`_save_weights` (the parameters are already checked)."""

    def _card_description(self) -> list[str]:
        """The model card's lines on what this model is (its kind, settings and weight files)."""
        settings = ", ".join(f"{k} {v!r}" for k, v in self.config_params().items())
        return [f"A `{self.kind}` model ({settings})."]

    def _card_privacy(self) -> list[str]:
        """The model card's lines on what this kind's weights reveal of the training posts."""
        return []

    # ----------------------------------------------------------------- public API
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        *,
        show_progress: bool = False,
        calibrate_on: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        """Train on ``texts`` with integer ``labels`` of the model's task; returns ``self``.

        ``calibrate_on`` (one bool per text) limits the temperature, the decision rule and the recorded
        out-of-fold metrics to those posts: the ordinary posts a scope-stage training adds as level 0 teach
        the model, but would make its own cross-validated numbers look better than they are.

        ``sample_weight`` (one finite weight > 0 per text) makes a post count that much in the loss; class
        balancing then uses the weighted class totals. Only kinds with ``supports_sample_weight`` take it;
        the others refuse it rather than train as if it were not there.
        """
        self._validate_params()
        task = self.task
        texts_list = _check_texts(texts)
        y = np.asarray([int(v) for v in labels], dtype=np.int64)
        if len(y) != len(texts_list):
            raise ModelError(f"Expected one label per text. Got {len(texts_list)} texts and {len(y)} labels.")
        if calibrate_on is not None:
            calibrate_on = np.asarray(calibrate_on, dtype=bool)
            if calibrate_on.shape != (len(y),) or not calibrate_on.any():
                raise ModelError(f"Expected 'calibrate_on' to be one bool per text, some True; got {calibrate_on!r}.")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, len(y), self.kind, self.supports_sample_weight)
        allowed = labels_for(task)
        bad = sorted(set(y.tolist()) - set(allowed))
        if bad:
            raise ModelError(f"Labels {bad} are not labels of the {task!r} task; expected values in {list(allowed)}.")
        self.classes_ = np.asarray(allowed, dtype=np.int64)
        self.temperature_ = 1.0
        self.decision_ = DecisionRule("threshold", threshold=0.5) if task == "binary" else DecisionRule()
        self.scope_ = None  # a scope stage belongs to one training run (see sosrisk.training.train_model)
        self.calibrate_on_ = calibrate_on
        self.sample_weight_ = sample_weight
        try:
            self._fit(texts_list, y, show_progress=show_progress)
        finally:
            self.calibrate_on_ = None
            self.sample_weight_ = None
        self.membership_ = TrainingMembership.of(texts_list)
        self.training_ = {
            "data_fingerprint": data_fingerprint(texts_list, y.tolist()),
            "n_posts": len(texts_list),
            "label_counts": {str(c): int((y == c).sum()) for c in self.classes_},
            "trained_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        }
        return self

    def predict_details(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 256,
        scope: ScopeDecision | None = None,
        apply_scope: bool = True,
    ) -> Predictions:
        """Labels, probabilities and the scope decision for ``texts``: the one place every caller predicts through.

        With a scope stage (and ``apply_scope``), the stage decides first; the model runs only on posts in
        scope, posts out of scope get label 0 with probability 1, and safety-net rules raise the label of
        the posts they fire on (a level to the rule's floor, the binary label to high risk where that floor
        is in the plan tier or above); they never lower it. Posts the stage's recovery cap reads as looking back
        on a crisis (``scope.recovered``; no such rule fired) keep a level of at most 5 and are low risk; the
        probabilities stay the model's. ``scope`` passes a decision already made (by the other task's model,
        say) instead.
        """
        self._check_fitted()
        assert self.classes_ is not None
        texts_list = _check_texts(texts, allow_empty_list=True)
        n = len(texts_list)
        if scope is None and apply_scope and self.scope_ is not None:
            scope = self.scope_.decide(texts_list)
        if scope is None:
            proba = self._calibrated(texts_list, batch_size)
            labels = self.decision_.decide(proba, self.classes_) if n else np.zeros(0, dtype=np.int64)
            return Predictions(np.asarray(labels, dtype=np.int64), proba, None)
        if len(scope.in_scope) != n:
            raise ModelError(f"The scope decision covers {len(scope.in_scope)} posts, not the {n} given.")
        proba = np.zeros((n, len(self.classes_)))
        proba[:, 0] = 1.0
        rows = np.flatnonzero(scope.in_scope)
        if len(rows):
            proba[rows] = self._calibrated([texts_list[i] for i in rows], batch_size)
        labels = np.asarray(self.decision_.decide(proba, self.classes_), dtype=np.int64) if n else np.zeros(0, np.int64)
        if self.task == "level":
            raised = np.flatnonzero(scope.floors >= 0)
            labels[raised] = np.maximum(labels[raised], scope.floors[raised])
            if scope.recovered is not None:
                labels[scope.recovered] = np.minimum(labels[scope.recovered], RECOVERED_LEVEL)
        else:
            labels[scope.rule_flags_high_risk] = 1
            if scope.recovered is not None:
                labels[scope.recovered] = 0
        return Predictions(labels, proba, scope)

    def _calibrated(self, texts: list[str], batch_size: int) -> np.ndarray:
        assert self.classes_ is not None
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return softmax(self._logits(texts, batch_size=batch_size) / self.temperature_)

    def predict_proba(self, texts: str | Sequence[str], *, batch_size: int = 256) -> np.ndarray:
        """Calibrated probabilities ``(n, n_classes)``; columns follow ``classes_`` (out of scope: label 0).

        One text (a ``str``) gives its row ``(n_classes,)``.
        """
        if isinstance(texts, str):
            return self.predict_details([texts], batch_size=1).proba[0]
        return self.predict_details(texts, batch_size=batch_size).proba

    @overload
    def predict(self, texts: str, *, batch_size: int = ...) -> int: ...  # type: ignore[overload-overlap]

    @overload
    def predict(self, texts: Sequence[str], *, batch_size: int = ...) -> np.ndarray: ...

    def predict(self, texts: str | Sequence[str], *, batch_size: int = 256) -> int | np.ndarray:
        """Labels (levels 0-10, or 0/1 for binary): the decision rule, the scope stage and the safety-net rules.

        One text (a ``str``) gives its label as an ``int``; a list gives an array.
        """
        if isinstance(texts, str):
            return int(self.predict_details([texts], batch_size=1).labels[0])
        return self.predict_details(texts, batch_size=batch_size).labels

    def predict_one(self, text: str) -> int:
        """The label of one text (the same as ``predict(text)``)."""
        return int(self.predict_details([text], batch_size=1).labels[0])

    def score(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> float:
        """Accuracy of :meth:`predict` on ``texts`` (scikit-learn's default score of a classifier)."""
        predicted = self.predict(list(texts))
        return float(np.mean(predicted == np.asarray(labels, dtype=np.int64)))

    def config_params(self) -> dict[str, Any]:
        """The model's settings as written to ``config.json['params']`` (task defaults resolved, JSON types).

        Every parameter of ``__init__`` but ``task`` and the run-only ones (checkpoints); kinds whose
        settings are stored in another shape override this and :meth:`_from_config`.
        """
        names = [n for n in self._get_param_names() if n != "task" and n not in self._run_only_params]
        return {name: _to_json(self.resolved(name)) for name in names}

    def resolved(self, name: str) -> Any:
        """The value of parameter ``name`` in use: its value, or the task's default where it is ``None``."""
        value = getattr(self, name)
        if value is None:
            return self._task_defaults.get(self.task, {}).get(name)
        return value

    def set_calibration(self, temperature: float) -> None:
        """Set the softmax temperature (fitted by :func:`sosrisk.models.calibration.fit_temperature`)."""
        if not temperature > 0:
            raise ModelError(f"The temperature must be > 0. Got {temperature!r} instead.")
        self.temperature_ = float(temperature)

    def set_decision(self, rule: DecisionRule) -> None:
        """Set the decision rule, checking it suits the task."""
        if self.task == "binary" and rule.rule == "expected_cost":
            raise ModelError("The 'expected_cost' rule is for the level task; use 'threshold' for binary.")
        if self.task == "level" and rule.rule == "threshold":
            raise ModelError("The 'threshold' rule is for the binary task; use 'argmax' or 'expected_cost'.")
        self.decision_ = rule

    @property
    def is_fitted(self) -> bool:
        """Whether the model can predict."""
        return self.classes_ is not None

    def config(self) -> dict[str, Any]:
        """The ``config.json`` content of this model (without the ``files`` entry)."""
        self._check_fitted()
        assert self.classes_ is not None
        from ..scale import label_name

        return {
            "format_version": FORMAT_VERSION,
            "sosrisk_version": __version__,
            "kind": self.kind,
            "task": self.task,
            "labels": [int(c) for c in self.classes_],
            "label_names": [label_name(self.task, int(c)) for c in self.classes_],
            "params": self.config_params(),
            "calibration": {"temperature": self.temperature_},
            "decision": self.decision_.to_dict(),
            "training": self.training_,
            "cv_metrics": self.cv_metrics_,
            "scope": self.scope_.describe() if self.scope_ is not None else None,
        }

    def save(self, directory: str | Path) -> Path:
        """Write the model directory (``config.json`` last, so a half-saved directory never loads)."""
        self._check_fitted()
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError.of(path, exc) from None
        files = self._save_weights(path)
        if self.membership_ is not None:
            files["training_hashes" if self.membership_.key_id is None else "training_membership"] = (
                self.membership_.save(path)
            )
        files["model_card"] = self._write_card(path)
        if self.scope_ is not None:
            files["scope"] = self.scope_.save(path)
        elif (path / "scope").is_dir():  # a stale stage of an earlier model saved here must not ship with this one
            import shutil

            shutil.rmtree(path / "scope")
        config = self.config()
        config["files"] = files
        atomic_write_text(path / CONFIG_NAME, json.dumps(config, ensure_ascii=False, indent=2) + "\n")
        logger.info("saved %s model (%s task) to %s", self.kind, self.task, path)
        return path

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Self:
        """An unfitted instance from ``config['params']``: each name must be a parameter of this kind."""
        params = dict(config["params"])
        allowed = set(cls._get_param_names()) - {"task"} - cls._run_only_params
        unknown = set(params) - allowed
        if unknown:
            raise ModelError(f"Unknown {cls.kind} params {sorted(unknown)} in config.json.")
        return cls(task=config["task"], **params)

    @classmethod
    def load(cls, directory: str | Path) -> RiskModel:
        """Load a model directory written by :meth:`save` (any registered kind)."""
        from .registry import get_model_class

        path = Path(directory)
        config = read_config(path)
        model_cls = get_model_class(config["kind"])
        if cls is not RiskModel and not issubclass(model_cls, cls):
            raise ModelError(f"{path} holds a {config['kind']!r} model, not a {cls.kind!r} model.")
        try:
            model = model_cls._from_config(config)
        except ModelError as exc:
            raise ModelError(f"{path / CONFIG_NAME}: field 'params': {exc}") from None
        model.classes_ = np.asarray(config["labels"], dtype=np.int64)
        model.temperature_ = float(config["calibration"]["temperature"])
        model.decision_ = DecisionRule.from_dict(config["decision"])
        model.training_ = dict(config.get("training") or {})
        model.cv_metrics_ = dict(config.get("cv_metrics") or {})
        files = dict(config["files"])
        scope_name = files.pop("scope", None)
        if scope_name is not None:
            from ..scope.stage import ScopeStage

            model.scope_ = ScopeStage.load(path, scope_name)
        files.pop("model_card", None)  # for people: never read back
        for role in ("training_membership", "training_hashes"):
            name = files.pop(role, None)
            if name is not None:
                model.membership_ = TrainingMembership.load(path, role, name)
        try:
            model._validate_params()
        except ModelError as exc:
            raise ModelError(f"{path / CONFIG_NAME}: field 'params': {exc}") from None
        model._load_weights(path, files)
        return model

    def training_overlap(self, texts: Sequence[str]) -> Overlap:
        """Which ``texts`` were in this model's training data (normalised match), where this machine can tell.

        ``mask`` is ``None`` when it cannot: the model has no membership hashes, or they are keyed with the
        key of another machine (see :mod:`sosrisk.models.membership`); ``note`` says which.
        """
        if self.membership_ is None:
            return Overlap(None, "not checked: the model directory holds no hashes of its training posts")
        return self.membership_.overlap(list(texts))

    def _write_card(self, directory: Path) -> str:
        from .model_card import write_model_card

        privacy = self._card_privacy()
        if self.membership_ is not None:
            privacy = [*privacy, *self.membership_.card_lines()]
        else:
            privacy = [*privacy, "- No hashes of the training posts: `sosrisk evaluate` cannot check for leakage."]
        if self.scope_ is not None:
            privacy.append(
                "- `scope/`: the scope gate's character n-grams are those of the training posts and of the ordinary "
                "text it learned from, like `char-linear`'s (fragments of training posts can be read from them)."
            )
            if self.scope_.raiser is not None:
                privacy.append(
                    "- `scope/raiser/`: an encoder fine-tuned on the training posts at risk and calm among others; "
                    "treat its weights as derived from the training posts (its own model card says more)."
                )
        return write_model_card(self, directory, description=self._card_description(), privacy=privacy)

    def _check_fitted(self) -> None:
        if self.classes_ is None:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call 'fit' with training data, or load a "
                "model directory with sosrisk.load_model(path)."
            )


def _to_json(value: Any) -> Any:
    """Tuples as lists, numpy scalars as Python numbers: what ``config.json`` holds."""
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_sample_weight(weight: Any, n: int, kind: str, supported: bool) -> np.ndarray:
    """``weight`` as floats, one finite value > 0 per post; refused for a kind that cannot use it."""
    if not supported:
        raise ModelError(f"The {kind!r} model cannot learn from weighted posts ('sample_weight').")
    try:
        values = np.asarray(weight, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f"Expected 'sample_weight' to be numbers. Got {weight!r} instead.") from None
    if values.shape != (n,):
        raise ModelError(f"Expected one sample weight per text ({n}). Got shape {values.shape} instead.")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        bad = int(np.flatnonzero(~np.isfinite(values) | (values <= 0))[0])
        raise ModelError(f"Sample weights must be finite and > 0; the weight of text {bad} is {float(values[bad])!r}.")
    return values


def _check_texts(texts: Sequence[str], *, allow_empty_list: bool = False) -> list[str]:
    if isinstance(texts, str):
        raise ModelError("Expected a list of texts, got a single str. Wrap it in a list or use predict_one().")
    texts_list = list(texts)
    if not texts_list and not allow_empty_list:
        raise ModelError("Expected at least one text; got an empty list.")
    if not all(issubclass(kind, str) for kind in set(map(type, texts_list))):  # one C pass over the list
        i, text = next((i, t) for i, t in enumerate(texts_list) if not isinstance(t, str))
        raise ModelError(f"Text {i} is a {type(text).__name__}, expected str.")
    return texts_list
