"""Loading a model directory: every damaged or tampered file gives one clear ModelError, checked before use."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import tiny_dataset
from sosrisk.models import ModelError, load_model
from sosrisk.models.char_linear import CharLinearModel

RESTORE = "Restore the model directory from where it came, or train the model again."


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = tiny_dataset("level")
    return CharLinearModel(task="level", cv_folds=3).fit(texts, labels).save(tmp_path_factory.mktemp("m") / "level")


def edit_config(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        config = json.loads((directory / "config.json").read_text("utf-8"))
        change(config)
        (directory / "config.json").write_text(json.dumps(config), "utf-8")

    return apply


def truncate(name: str, keep: float) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        data = (directory / name).read_bytes()
        (directory / name).write_bytes(data[: int(len(data) * keep)])

    return apply


def replace_weights(**arrays: np.ndarray) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        with np.load(directory / "weights.npz") as data:
            weights = {name: data[name] for name in data.files}
        weights.update(arrays)
        with open(directory / "weights.npz", "wb") as handle:
            np.savez(handle, **weights)  # type: ignore[arg-type]

    return apply


def a_folder_instead_of(name: str) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        (directory / name).unlink()
        (directory / name).mkdir()

    return apply


def set_field(field: str, value: Any) -> Callable[[Path], None]:
    return edit_config(lambda config: config.update({field: value}))


NOT_AN_ARCHIVE = "not a readable .npz archive (File is not a zip file); it may be truncated or damaged. " + RESTORE
LEVELS = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"
CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated weights": (truncate("weights.npz", 0.5), "{d}/weights.npz: " + NOT_AN_ARCHIVE),
    "empty weights": (truncate("weights.npz", 0), "{d}/weights.npz: " + NOT_AN_ARCHIVE),
    "truncated membership hashes": (
        truncate("training_membership.npz", 0.5),
        "{d}/training_membership.npz: " + NOT_AN_ARCHIVE,
    ),
    "pickled weights": (
        lambda d: (d / "weights.npz").write_bytes(pickle.dumps({"coef": [1.0]})),
        "{d}/weights.npz: " + NOT_AN_ARCHIVE,
    ),
    "weights a folder": (
        a_folder_instead_of("weights.npz"),
        "{d}/weights.npz is missing: the model directory is incomplete.",
    ),
    "object array": (
        replace_weights(ngrams=np.array(["好", 1], dtype=object)),
        "{d}/weights.npz: array 'ngrams' holds Python objects, which would have to be unpickled; refused. " + RESTORE,
    ),
    "wrong dtype": (
        replace_weights(coef=np.zeros((11, 2), dtype=np.int64)),
        "{d}/weights.npz: array 'coef' has dtype int64, expected kind 'f'. " + RESTORE,
    ),
    "missing array": (
        lambda d: np.savez(d / "weights.npz", ngrams=np.array(["好"]), idf=np.ones(1), coef=np.ones((11, 1))),
        "{d}/weights.npz: expected the arrays ['coef', 'idf', 'intercept', 'ngrams'], found ['coef', 'idf', "
        "'ngrams']. " + RESTORE,
    ),
    "shapes disagree": (
        replace_weights(idf=np.ones(3)),
        "{d}/weights.npz: array shapes {shapes} do not match the 11 labels in config.json and a vocabulary of n "
        "n-grams (ngrams (n,), idf (n,), coef (labels, n), intercept (labels,)). " + RESTORE,
    ),
    "non-UTF-8 config": (
        lambda d: (d / "config.json").write_bytes((d / "config.json").read_bytes().replace(b"char-", b"\xff")),
        "{d}/config.json: not UTF-8 (undecodable byte at position {position}); sosrisk writes it as UTF-8. " + RESTORE,
    ),
    "wrong task": (
        set_field("task", "levels"),
        "{d}/config.json: field 'task': expected 'level' or 'binary', got 'levels'. " + RESTORE,
    ),
    "task and labels disagree": (
        set_field("task", "binary"),
        f"{{d}}/config.json: field 'labels': expected the labels of the binary task, [0, 1], got {LEVELS}. " + RESTORE,
    ),
    "null labels": (
        set_field("labels", None),
        f"{{d}}/config.json: field 'labels': expected the labels of the level task, {LEVELS}, got None. " + RESTORE,
    ),
    "null files": (
        set_field("files", None),
        "{d}/config.json: field 'files': expected a JSON object, got None. " + RESTORE,
    ),
    "null params": (
        set_field("params", None),
        "{d}/config.json: field 'params': expected a JSON object, got None. " + RESTORE,
    ),
    "bad param": (
        edit_config(lambda c: c["params"].update(C="high")),
        "{d}/config.json: field 'params': The 'C' parameter of char-linear must be None or a number > 0. Got 'high' "
        "instead.",
    ),
    "bad ngram range": (
        edit_config(lambda c: c["params"].update(ngram_range=3)),
        "{d}/config.json: field 'params': The 'ngram_range' parameter of char-linear must be None or two ints 1 <= "
        "min <= max <= 4. Got 3 instead.",
    ),
    "negative temperature": (
        set_field("calibration", {"temperature": -1.0}),
        "{d}/config.json: field 'calibration': expected a temperature that is a number > 0, got "
        "{{'temperature': -1.0}}. " + RESTORE,
    ),
    "text temperature": (
        set_field("calibration", {"temperature": "hot"}),
        "{d}/config.json: field 'calibration': expected a temperature that is a number > 0, got "
        "{{'temperature': 'hot'}}. " + RESTORE,
    ),
    "unknown decision rule": (
        set_field("decision", {"rule": "magic"}),
        "{d}/config.json: field 'decision': The 'rule' of a DecisionRule must be one of ('argmax', 'expected_cost', "
        "'threshold'). Got 'magic' instead. " + RESTORE,
    ),
    "decision of the other task": (
        set_field("decision", {"rule": "threshold", "threshold": 0.5}),
        "{d}/config.json: field 'decision': expected a decision rule of the level task ('threshold' is for binary, "
        "'expected_cost' for level), got {{'rule': 'threshold', 'threshold': 0.5}}. " + RESTORE,
    ),
    "training a list": (
        set_field("training", [1]),
        "{d}/config.json: field 'training': expected a JSON object, got [1]. " + RESTORE,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_model_directory_gives_one_clear_error(saved_model: Path, tmp_path: Path, case: str) -> None:
    directory = tmp_path / "model"
    shutil.copytree(saved_model, directory)
    damage, expected = CASES[case]
    damage(directory)
    with pytest.raises(ModelError) as info:
        load_model(directory)
    raw = (directory / "config.json").read_bytes()
    shapes = "{'ngrams': (" + str(len(np.load(saved_model / "weights.npz")["ngrams"])) + ",), 'idf': (3,), "
    shapes += "'coef': (11, " + shapes.split("(")[1].split(",")[0] + "), 'intercept': (11,)}"
    assert str(info.value) == expected.format(d=directory, position=raw.find(b"\xff"), shapes=shapes)


def oversized_coef_archive(path: Path, ngrams: np.ndarray, columns: int) -> None:
    """A weights file whose ``coef`` honestly holds ``11 x columns`` zeros (they compress to almost nothing)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in {"ngrams": ngrams, "idf": np.ones(len(ngrams)), "intercept": np.zeros(11)}.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value)
            archive.writestr(f"{name}.npy", buffer.getvalue())
        with archive.open("coef.npy", "w", force_zip64=True) as member:
            header = io.BytesIO()
            declared = {"descr": "<f8", "fortran_order": False, "shape": (11, columns)}
            np.lib.format.write_array_header_1_0(header, declared)
            member.write(header.getvalue())
            block = bytes(1 << 20)
            left = 11 * columns * 8
            while left:
                member.write(block[: min(left, len(block))])
                left -= min(left, len(block))


def load_with_oversized_coef(saved_model: Path, directory: Path, columns: int) -> tuple[str, int]:
    """Load a copy of ``saved_model`` in ``directory`` whose ``coef`` declares ``11 x columns``: the refusal's
    message and the peak of memory traced while loading."""
    shutil.copytree(saved_model, directory)
    ngrams = np.load(saved_model / "weights.npz")["ngrams"]
    oversized_coef_archive(directory / "weights.npz", ngrams, columns=columns)
    tracemalloc.start()
    try:
        with pytest.raises(ModelError) as info:
            load_model(directory)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(info.value), peak


def test_array_shapes_are_checked_before_anything_is_allocated(saved_model: Path, tmp_path: Path) -> None:
    directory = tmp_path / "model"
    message, peak = load_with_oversized_coef(saved_model, directory, columns=1_000_000)  # 88 MB declared
    assert message.startswith(f"{directory / 'weights.npz'}: array 'coef' expands from ")
    assert message.endswith(
        " to 88000128 bytes, more than 100 times; refused as a possible decompression bomb. " + RESTORE
    )
    assert peak < 16 << 20  # the 88 MB were never allocated


def test_shapes_that_disagree_with_the_vocabulary_are_refused_unread(saved_model: Path, tmp_path: Path) -> None:
    # 13.2 MB declared: under the ratio floor, so the shape check against the vocabulary refuses it
    message, peak = load_with_oversized_coef(saved_model, tmp_path / "model", columns=150_000)
    assert "do not match the 11 labels in config.json" in message
    assert peak < 8 << 20
