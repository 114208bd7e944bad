"""Keyed hashes of training posts: the owner's leakage check works, nobody else can test membership."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_dataset
from sosrisk.models import load_model
from sosrisk.models import membership as membership_module
from sosrisk.models.char_linear import CharLinearModel
from sosrisk.models.membership import key_path, unkeyed_hashes


@pytest.fixture
def trained(tmp_path: Path) -> tuple[Path, list[str]]:
    texts, labels = tiny_dataset("level")
    model = CharLinearModel(task="level", cv_folds=3).fit(texts, labels)
    return model.save(tmp_path / "model"), texts


def another_machine(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("SOSRISK_HOME", str(home))
    monkeypatch.setattr(membership_module, "_KEYS", {})


def test_the_hashes_are_keyed_and_the_key_stays_out_of_the_directory(trained: tuple[Path, list[str]]) -> None:
    directory, texts = trained
    stored = np.load(directory / "training_membership.npz")["hashes"]
    assert len(stored) == len(set(texts))
    assert not np.isin(unkeyed_hashes(texts), stored).any()  # a candidate post hashed without the key: no match
    key = bytes.fromhex(key_path().read_text("ascii").strip())
    for path in directory.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert key not in content and key.hex().encode() not in content, path
    assert stat.S_IMODE(key_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path().parent.stat().st_mode) == 0o700
    config = json.loads((directory / "config.json").read_text("utf-8"))
    key_id = str(np.load(directory / "training_membership.npz")["key_id"])
    assert key_id.startswith("hmac-sha256:") and key.hex() not in json.dumps(config)
    card = (directory / "README.md").read_text("utf-8")
    assert f"keyed with a secret key (id `{key_id}`) kept in the data home of the machine that trained" in card
    assert "short fragments of the training posts can be read from it" in card  # char-linear's vocabulary


def test_the_owner_checks_leakage_and_another_machine_is_told_it_cannot(
    trained: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, texts = trained
    probe = [texts[0], "从没见过的新句子"]
    overlap = load_model(directory).training_overlap(probe)
    assert overlap.mask is not None and overlap.mask.tolist() == [True, False]
    original_key = key_path()
    another_machine(monkeypatch, tmp_path / "elsewhere")
    elsewhere = load_model(directory).training_overlap(probe)
    assert elsewhere.mask is None
    key_id = str(np.load(directory / "training_membership.npz")["key_id"])
    assert elsewhere.note == (
        f"not checked: the model's training hashes are keyed with the key {key_id} of the machine that trained it, "
        f"and this machine has no key at {key_path()}; copy that machine's key file here to check"
    )
    key_path().parent.mkdir(parents=True)
    shutil.copy(original_key, key_path())  # a team copies its key to another of its machines
    monkeypatch.setattr(membership_module, "_KEYS", {})
    copied = load_model(directory).training_overlap(probe)
    assert copied.mask is not None and copied.mask.tolist() == [True, False]


def test_a_directory_with_the_unkeyed_hashes_of_earlier_versions_still_checks_and_says_so(
    trained: tuple[Path, list[str]],
) -> None:
    directory, texts = trained
    (directory / "training_membership.npz").unlink()
    np.savez_compressed(directory / "training_hashes.npz", hashes=np.unique(unkeyed_hashes(texts)))
    config = json.loads((directory / "config.json").read_text("utf-8"))
    del config["files"]["training_membership"]
    config["files"]["training_hashes"] = "training_hashes.npz"
    (directory / "config.json").write_text(json.dumps(config), "utf-8")
    model = load_model(directory)
    overlap = model.training_overlap([texts[1], "从没见过的新句子"])
    assert overlap.mask is not None and overlap.mask.tolist() == [True, False]
    assert overlap.note == "checked against the model's unkeyed training hashes (a directory written before keys)"
    again = model.save(directory.parent / "again")
    assert (again / "training_hashes.npz").is_file() and not (again / "training_membership.npz").exists()
    assert "Anyone holding this directory and a candidate post can test" in (again / "README.md").read_text("utf-8")


def test_one_key_per_machine_when_several_threads_ask_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    another_machine(monkeypatch, tmp_path / "fresh")
    with ThreadPoolExecutor(4) as pool:
        keys = list(pool.map(lambda _: membership_module.membership_key(create=True), range(8)))
    assert len(set(keys)) == 1 and keys[0] == bytes.fromhex(key_path().read_text("ascii").strip())
    assert sorted(p.name for p in key_path().parent.iterdir()) == ["training-membership.key"]


def test_a_damaged_key_gives_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    another_machine(monkeypatch, tmp_path / "damaged")
    key_path().parent.mkdir(parents=True)
    key_path().write_text("abcd\n", "ascii")
    with pytest.raises(ValueError) as caught:
        membership_module.membership_key(create=False)
    assert str(caught.value) == (
        f"{key_path()}: expected a key of 32 bytes written as hex, got 2 bytes. Fix: restore the file, or delete it "
        "(models trained with it then cannot be checked for leakage on this machine)."
    )


def test_without_a_key_the_model_trains_and_says_it_cannot_be_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unwritable(*, create: bool) -> bytes:
        raise PermissionError(13, "Permission denied", str(key_path()))

    monkeypatch.setattr(membership_module, "membership_key", unwritable)
    texts, labels = tiny_dataset("level")
    model = CharLinearModel(task="level", cv_folds=3).fit(texts, labels)
    directory = model.save(tmp_path / "m")
    assert not (directory / "training_membership.npz").exists()
    assert "No hashes of the training posts: `sosrisk evaluate` cannot check for leakage." in (
        directory / "README.md"
    ).read_text("utf-8")
    overlap = load_model(directory).training_overlap(texts[:1])
    assert overlap.mask is None
    assert overlap.note == "not checked: the model directory holds no hashes of its training posts"
