"""The one interface every model kind implements, and the model-directory format.

A model directory holds ``config.json`` (allow-listed fields, format version, task, labels, model
settings, calibration, decision rule, training record, cross-validated metrics) and weights as
``.npz`` / ``.safetensors`` / JSON. Nothing in a model directory is ever unpickled or executed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from .. import __version__
from ..atomic import WriteError, atomic_write, atomic_write_text
from ..scale import Task, check_task, labels_for
from .decision import DecisionRule
from .errors import ModelError, NotFittedError

if TYPE_CHECKING:
    from ..scope.stage import ScopeDecision, ScopeStage

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
TRAINING_HASHES_FILE = "training_hashes.npz"
CONFIG_FIELDS = frozenset(
    {
        "format_version",
        "sosrisk_version",
        "kind",
        "task",
        "labels",
        "label_names",
        "params",
        "calibration",
        "decision",
        "training",
        "cv_metrics",
        "files",
        "scope",
    }
)


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


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """64-bit hashes of normalised texts: enough to recognise a training post, not to read it."""
    from ..data.leakage import normalize_for_matching

    out = np.empty(len(texts), dtype=np.uint64)
    for i, text in enumerate(texts):
        digest = hashlib.sha256(normalize_for_matching(text).encode()).digest()
        out[i] = int.from_bytes(digest[:8], "little")
    return out


def data_fingerprint(texts: Sequence[str], labels: Sequence[int]) -> str:
    """A sha256 over the sorted (label, text) pairs of a training set: same data, same fingerprint."""
    digest = hashlib.sha256()
    for label, text in sorted(zip((int(v) for v in labels), texts, strict=True)):
        digest.update(f"{label}\t{text}\n".encode())
    return "sha256:" + digest.hexdigest()


class RiskModel(ABC):
    """Base class of every model kind.

    Subclasses set ``kind`` (the registry name), store their settings in ``__init__`` (keyword-only,
    validated in :meth:`fit`), and implement :meth:`_fit`, :meth:`_logits`, :meth:`_params`,
    :meth:`_save_weights` and :meth:`_load_weights`. The base class handles the task and labels,
    temperature calibration, the decision rule, and the model directory.

    Learned state ends in ``_``: ``classes_``, ``temperature_``, ``decision_``.
    """

    kind: ClassVar[str] = ""

    def __init__(self, *, task: Task = "level") -> None:
        self.task = task
        self.classes_: np.ndarray | None = None
        self.temperature_: float = 1.0
        self.decision_: DecisionRule = DecisionRule()
        self.training_: dict[str, Any] = {}
        self.cv_metrics_: dict[str, Any] = {}
        self.training_hashes_: np.ndarray | None = None
        self.scope_: ScopeStage | None = None
        self.calibrate_on_: np.ndarray | None = None  # set during fit only (see fit)

    # ----------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _fit(self, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        """Learn the weights from texts and integer labels (``classes_`` is already set)."""

    @abstractmethod
    def _logits(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        """Uncalibrated class scores ``(n, n_classes)`` whose softmax is the model's probability."""

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """The model's settings, JSON-serialisable, written to ``config.json['params']``."""

    @abstractmethod
    def _save_weights(self, directory: Path) -> dict[str, str]:
        """Write the weights into ``directory``; return ``{role: file name}`` for ``config.json['files']``."""

    @abstractmethod
    def _load_weights(self, directory: Path, files: dict[str, str]) -> None:
        """Read the weights written by :meth:`_save_weights`."""

    # ----------------------------------------------------------------- public API
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        *,
        show_progress: bool = False,
        calibrate_on: np.ndarray | None = None,
    ) -> Self:
        """Train on ``texts`` with integer ``labels`` of the model's task; returns ``self``.

        ``calibrate_on`` (one bool per text) limits the temperature, the decision rule and the recorded
        out-of-fold metrics to those posts: the ordinary posts a scope-stage training adds as level 0 teach
        the model, but would make its own cross-validated numbers look better than they are.
        """
        task = check_task(self.task)
        texts_list = _check_texts(texts)
        y = np.asarray([int(v) for v in labels], dtype=np.int64)
        if len(y) != len(texts_list):
            raise ModelError(f"Expected one label per text. Got {len(texts_list)} texts and {len(y)} labels.")
        if calibrate_on is not None:
            calibrate_on = np.asarray(calibrate_on, dtype=bool)
            if calibrate_on.shape != (len(y),) or not calibrate_on.any():
                raise ModelError(f"Expected 'calibrate_on' to be one bool per text, some True; got {calibrate_on!r}.")
        allowed = labels_for(task)
        bad = sorted(set(y.tolist()) - set(allowed))
        if bad:
            raise ModelError(f"Labels {bad} are not labels of the {task!r} task; expected values in {list(allowed)}.")
        self.classes_ = np.asarray(allowed, dtype=np.int64)
        self.temperature_ = 1.0
        self.decision_ = DecisionRule("threshold", threshold=0.5) if task == "binary" else DecisionRule()
        self.scope_ = None  # a scope stage belongs to one training run (see sosrisk.training.train_model)
        self.calibrate_on_ = calibrate_on
        try:
            self._fit(texts_list, y, show_progress=show_progress)
        finally:
            self.calibrate_on_ = None
        self.training_hashes_ = np.unique(text_hashes(texts_list))
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
        the posts they fire on (a level to the rule's floor, the binary label to high risk); they never
        lower it. ``scope`` passes a decision already made (by the other task's model, say) instead.
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
        raised = np.flatnonzero(scope.floors >= 0)
        if len(raised):
            labels[raised] = np.maximum(labels[raised], scope.floors[raised]) if self.task == "level" else 1
        return Predictions(labels, proba, scope)

    def _calibrated(self, texts: list[str], batch_size: int) -> np.ndarray:
        assert self.classes_ is not None
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return softmax(self._logits(texts, batch_size=batch_size) / self.temperature_)

    def predict_proba(self, texts: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
        """Calibrated probabilities ``(n, n_classes)``; columns follow ``classes_`` (out of scope: label 0)."""
        return self.predict_details(texts, batch_size=batch_size).proba

    def predict(self, texts: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
        """Labels (levels 0-10, or 0/1 for binary): the decision rule, the scope stage and the safety-net rules."""
        return self.predict_details(texts, batch_size=batch_size).labels

    def predict_one(self, text: str) -> int:
        """The label of one text; delegates to :meth:`predict`."""
        return int(self.predict([text], batch_size=1)[0])

    def get_params(self) -> dict[str, Any]:
        """The model's settings as written to ``config.json['params']``."""
        return self._params()

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
            "params": self._params(),
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
        if self.training_hashes_ is not None:
            with atomic_write(path / TRAINING_HASHES_FILE, "wb") as handle:
                np.savez_compressed(handle, hashes=self.training_hashes_)
            files["training_hashes"] = TRAINING_HASHES_FILE
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
        """Build an unfitted instance from ``config['params']``; override when params need conversion."""
        return cls(task=config["task"], **config["params"])

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
        hashes_name = files.pop("training_hashes", None)
        if hashes_name is not None:
            if hashes_name != TRAINING_HASHES_FILE:
                raise ModelError(
                    f"{path}: expected files.training_hashes = {TRAINING_HASHES_FILE!r}, got {hashes_name!r}."
                )
            hashes = read_npz(path / hashes_name, {"hashes": "u"}, lambda shapes: _one_dimensional(shapes, "hashes"))
            model.training_hashes_ = hashes["hashes"].astype(np.uint64)
        model._load_weights(path, files)
        return model

    def count_training_overlap(self, texts: Sequence[str]) -> np.ndarray:
        """A boolean mask of the ``texts`` that were in this model's training data (normalised match)."""
        if self.training_hashes_ is None:
            return np.zeros(len(texts), dtype=bool)
        return np.isin(text_hashes(list(texts)), self.training_hashes_)

    def _check_fitted(self) -> None:
        if self.classes_ is None:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call 'fit' with training data, or load a "
                "model directory with sosrisk.load_model(path)."
            )


def read_config(directory: Path) -> dict[str, Any]:
    """Read and check the ``config.json`` of a model directory: every field the loader uses has the right type."""
    config_path = directory / CONFIG_NAME
    if not directory.is_dir():
        raise ModelError(f"No model directory at {directory}: expected a folder with {CONFIG_NAME}.")
    if not config_path.is_file():
        raise ModelError(f"{directory} is not a sosrisk model directory: {CONFIG_NAME} is missing.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{config_path}: not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    except UnicodeDecodeError as exc:
        raise ModelError(
            f"{config_path}: not UTF-8 (undecodable byte at position {exc.start}); sosrisk writes it as UTF-8. "
            f"{_RESTORE}"
        ) from None
    except OSError as exc:
        raise ModelError(f"{config_path}: cannot be read ({exc.strerror or exc}).") from None
    if not isinstance(config, dict):
        raise ModelError(f"{config_path}: expected a JSON object at the top level.")
    unknown = set(config) - CONFIG_FIELDS
    if unknown:
        raise ModelError(f"{config_path}: unknown fields {sorted(unknown)}; this file was not written by sosrisk.")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{config_path}: format_version {version!r} is not supported by sosrisk {__version__} "
            f"(expected {FORMAT_VERSION}). Retrain the model or use a matching sosrisk version."
        )
    for field in ("kind", "task", "labels", "params", "calibration", "decision", "files"):
        if field not in config:
            raise ModelError(f"{config_path}: the field {field!r} is missing.")
    _check_config_values(config_path, config)
    return config


_RESTORE = "Restore the model directory from where it came, or train the model again."


def _check_config_values(config_path: Path, config: dict[str, Any]) -> None:
    """The values the loader relies on, checked before any of them is used (a clear error, never a traceback)."""

    def bad(field: str, expected: str) -> ModelError:
        return ModelError(f"{config_path}: field {field!r}: expected {expected}, got {config.get(field)!r}. {_RESTORE}")

    if not isinstance(config["kind"], str) or not config["kind"]:
        raise bad("kind", "the name of a model kind")
    task = config["task"]
    if task not in ("level", "binary"):
        raise bad("task", "'level' or 'binary'")
    if config["labels"] != list(labels_for(task)):
        raise bad("labels", f"the labels of the {task} task, {list(labels_for(task))}")
    for field in ("params", "calibration", "decision", "files"):
        if not isinstance(config[field], dict):
            raise bad(field, "a JSON object")
    for field in ("training", "cv_metrics"):
        if config.get(field) is not None and not isinstance(config[field], dict):
            raise bad(field, "a JSON object")
    files = config["files"]
    if not all(isinstance(name, str) and name for name in files.values()):
        raise bad("files", "a JSON object of file names")
    temperature = config["calibration"].get("temperature")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise bad("calibration", "a temperature that is a number > 0")
    try:
        rule = DecisionRule.from_dict(config["decision"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{config_path}: field 'decision': {exc} {_RESTORE}") from None
    if rule.rule == ("expected_cost" if task == "binary" else "threshold"):
        raise bad(
            "decision", f"a decision rule of the {task} task ('threshold' is for binary, 'expected_cost' for level)"
        )


def read_npz(
    path: Path,
    arrays: dict[str, str],
    check_shapes: Callable[[dict[str, tuple[int, ...]]], str | None] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of a model's ``.npz`` file, checked before a byte of their data is read.

    ``arrays`` maps each expected array name to the dtype kinds it may have (``"f"`` float, ``"u"``
    unsigned int, ``"U"`` text ...). Every member's header is read first: object (pickled) arrays are
    refused, the declared size must be what the archive holds, and ``check_shapes`` (given the shapes)
    returns a problem or ``None``; only then is anything allocated. A file that is not a complete
    archive (truncated, empty, a pickle, a folder) gives a :class:`ModelError`, never a traceback.
    """
    import zipfile

    def refuse(problem: str) -> ModelError:
        return ModelError(f"{path}: {problem}. {_RESTORE}")

    if not path.is_file():
        raise ModelError(f"{path} is missing: the model directory is incomplete.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise refuse(f"not a readable .npz archive ({exc}); it may be truncated or damaged") from None
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        names = {name.removesuffix(".npy") for name in members}
        if set(members) != {f"{name}.npy" for name in arrays}:
            raise refuse(f"expected the arrays {sorted(arrays)}, found {sorted(names)}")
        shapes: dict[str, tuple[int, ...]] = {}
        dtypes: dict[str, np.dtype[Any]] = {}
        try:
            for name, kinds in arrays.items():
                info = members[f"{name}.npy"]
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    header = np.lib.format
                    read_header = header.read_array_header_1_0 if version == (1, 0) else header.read_array_header_2_0
                    shape, _fortran_order, dtype = read_header(member)
                    header_bytes = member.tell()
                if dtype.hasobject:
                    raise refuse(f"array {name!r} holds Python objects, which would have to be unpickled; refused")
                if dtype.kind not in kinds:
                    raise refuse(f"array {name!r} has dtype {dtype}, expected kind {kinds!r}")
                declared = math.prod(int(v) for v in shape) * dtype.itemsize
                if declared != info.file_size - header_bytes:
                    raise refuse(
                        f"array {name!r} declares {declared} bytes of data but the archive holds "
                        f"{info.file_size - header_bytes}"
                    )
                if info.file_size > _NPZ_RATIO_FLOOR and info.file_size > _NPZ_MAX_RATIO * max(info.compress_size, 1):
                    raise refuse(
                        f"array {name!r} expands from {info.compress_size} to {info.file_size} bytes, more than "
                        f"{_NPZ_MAX_RATIO} times; refused as a possible decompression bomb"
                    )
                shapes[name], dtypes[name] = tuple(int(v) for v in shape), dtype
            problem = check_shapes(shapes) if check_shapes is not None else None
            if problem is not None:
                raise refuse(problem)
            loaded = {}
            for name in arrays:
                with archive.open(members[f"{name}.npy"]) as member:
                    loaded[name] = np.lib.format.read_array(member, allow_pickle=False)
        except ModelError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise refuse(f"not a readable .npz archive ({exc}); it may be truncated or damaged") from None
    return loaded


# A member larger than this may expand at most this many times (real weights compress 1-10 times).
_NPZ_RATIO_FLOOR = 16 << 20
_NPZ_MAX_RATIO = 100


def is_number(value: object) -> bool:
    """Whether ``value`` is a real number (an int or float, not a bool): for checking settings read from JSON."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _one_dimensional(shapes: dict[str, tuple[int, ...]], name: str) -> str | None:
    return None if len(shapes[name]) == 1 else f"expected {name!r} to be one-dimensional, got shape {shapes[name]}"


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
