"""The model-directory format: ``config.json`` (allow-listed fields, checked before use) and ``.npz`` weights.

Nothing in a model directory is ever unpickled or executed: :func:`read_config` checks every field the
loader relies on, :func:`read_npz` reads each array's header before a byte of its data and refuses object
arrays, sizes that do not add up and decompression bombs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..scale import labels_for
from .decision import DecisionRule
from .errors import ModelError

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
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
            f"{RESTORE}"
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


RESTORE = "Restore the model directory from where it came, or train the model again."


def _check_config_values(config_path: Path, config: dict[str, Any]) -> None:
    """The values the loader relies on, checked before any of them is used (a clear error, never a traceback)."""

    def bad(field: str, expected: str) -> ModelError:
        return ModelError(f"{config_path}: field {field!r}: expected {expected}, got {config.get(field)!r}. {RESTORE}")

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
        raise ModelError(f"{config_path}: field 'decision': {exc} {RESTORE}") from None
    if rule.rule == ("expected_cost" if task == "binary" else "threshold"):
        raise bad(
            "decision", f"a decision rule of the {task} task ('threshold' is for binary, 'expected_cost' for level)"
        )


def shapes_differ(shapes: Mapping[str, tuple[int, ...]], wanted: Mapping[str, tuple[int, ...]]) -> str | None:
    """A ``check_shapes`` answer for :func:`read_npz`: which arrays do not have the ``wanted`` shapes, or ``None``."""
    wrong = [name for name, shape in wanted.items() if shapes[name] != shape]
    return f"array shapes do not fit together ({', '.join(wrong)})" if wrong else None


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
        return ModelError(f"{path}: {problem}. {RESTORE}")

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


def one_dimensional(shapes: dict[str, tuple[int, ...]], name: str) -> str | None:
    """A problem when the array ``name`` is not one-dimensional, else ``None`` (for :func:`read_npz` checks)."""
    return None if len(shapes[name]) == 1 else f"expected {name!r} to be one-dimensional, got shape {shapes[name]}"
