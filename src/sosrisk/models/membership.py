"""Keyed hashes of a model's training posts: a leakage check for its owner, no membership test for anyone else.

``sosrisk evaluate`` warns when evaluation posts were in a model's training data. To tell, a model directory
holds ``training_membership.npz``: 64 bits of HMAC-SHA256 of every normalised training post, keyed with a
secret key of the machine that trained it (``<data home>/keys/training-membership.key``, created on first
use, readable by its owner only). The key never enters a model directory; the directory records only a key
id (a hash of the key) to recognise it. Whoever holds the directory without the key cannot test whether a
post they have was a training post; on a machine with the key (or a copy of it: a team may copy the key
file to its other machines) the leakage check works as before.

Directories written by sosrisk before keyed hashes hold ``training_hashes.npz``: unkeyed sha256 hashes,
which anyone can test a post against. They are still read (the check keeps working for them) and the model
card of a directory written again says so; retraining replaces them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..home import keys_dir
from .directory import RESTORE, one_dimensional, read_npz
from .errors import ModelError

logger = logging.getLogger(__name__)

MEMBERSHIP_FILE = "training_membership.npz"
LEGACY_FILE = "training_hashes.npz"  # unkeyed sha256: written by sosrisk before keyed hashes, read only
KEY_FILE = "training-membership.key"
_KEY_BYTES = 32
_KEYS: dict[Path, bytes] = {}
_KEYS_LOCK = threading.Lock()


def key_path() -> Path:
    """Where this machine's membership key is kept."""
    return keys_dir() / KEY_FILE


def key_id(key: bytes) -> str:
    """A public name of ``key`` (a hash of it): recognises the key without revealing it."""
    return "hmac-sha256:" + hashlib.sha256(b"sosrisk training-membership key id\n" + key).hexdigest()[:16]


def membership_key(*, create: bool) -> bytes | None:
    """This machine's key (created with owner-only permissions when ``create``), or ``None`` if there is none."""
    path = key_path()
    with _KEYS_LOCK:
        if path in _KEYS:
            return _KEYS[path]
        try:
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            if not create:
                return None
            key = _create_key(path)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"{path}: the training-membership key cannot be read ({exc}). Fix: restore the file, or delete it "
                "(models trained with it then cannot be checked for leakage on this machine)."
            ) from None
        if len(key) != _KEY_BYTES:
            raise ModelError(
                f"{path}: expected a key of {_KEY_BYTES} bytes written as hex, got {len(key)} bytes. Fix: restore the "
                "file, or delete it (models trained with it then cannot be checked for leakage on this machine)."
            )
        _KEYS[path] = key
        return key


def _create_key(path: Path) -> bytes:
    """Write a new random key, readable by its owner only from the first byte, unless another process won."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    key = secrets.token_bytes(_KEY_BYTES)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic, and never replaces a key another process made meanwhile
        except FileExistsError:
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
    finally:
        temporary.unlink(missing_ok=True)
    logger.info("created the training-membership key %s", path)
    return key


def normalized(text: str) -> bytes:
    """The form of a post that is hashed: leakage matching ignores case, spacing and punctuation."""
    from ..data.leakage import normalize_for_matching

    return normalize_for_matching(text).encode()


def keyed_hashes(texts: Sequence[str], key: bytes) -> np.ndarray:
    """The first 64 bits of HMAC-SHA256(key, normalised text) of each text."""
    out = np.empty(len(texts), dtype=np.uint64)
    for i, text in enumerate(texts):
        out[i] = int.from_bytes(hmac.digest(key, normalized(text), "sha256")[:8], "little")
    return out


def unkeyed_hashes(texts: Sequence[str]) -> np.ndarray:
    """The first 64 bits of sha256 of each normalised text: the hashes of directories written before keys."""
    out = np.empty(len(texts), dtype=np.uint64)
    for i, text in enumerate(texts):
        out[i] = int.from_bytes(hashlib.sha256(normalized(text)).digest()[:8], "little")
    return out


@dataclass(frozen=True)
class Overlap:
    """Which evaluation posts were training posts (``mask``), or why that cannot be told here (``mask`` is None)."""

    mask: np.ndarray | None
    note: str


@dataclass
class TrainingMembership:
    """The hashes of a model's training posts and the id of the key they were made with (``None``: unkeyed)."""

    hashes: np.ndarray
    key_id: str | None

    @classmethod
    def of(cls, texts: Sequence[str]) -> TrainingMembership | None:
        """Keyed hashes of ``texts`` (the key is created on first use); ``None`` when no key can be made here."""
        try:
            key = membership_key(create=True)
        except (ModelError, OSError) as exc:
            logger.warning("no training-membership hashes: %s", exc)
            return None
        assert key is not None
        return cls(np.unique(keyed_hashes(texts, key)), key_id(key))

    def overlap(self, texts: Sequence[str]) -> Overlap:
        """Which of ``texts`` were in the training data, where this machine can tell."""
        if self.key_id is None:
            mask = np.isin(unkeyed_hashes(texts), self.hashes)
            return Overlap(
                mask, "checked against the model's unkeyed training hashes (a directory written before keys)"
            )
        key = membership_key(create=False)
        if key is None or key_id(key) != self.key_id:
            return Overlap(
                None,
                f"not checked: the model's training hashes are keyed with the key {self.key_id} of the machine that "
                f"trained it, and this machine has {'another key' if key is not None else 'no key'} at {key_path()}; "
                "copy that machine's key file here to check",
            )
        return Overlap(np.isin(keyed_hashes(texts, key), self.hashes), "checked with this machine's key")

    def save(self, directory: Path) -> str:
        """Write the hashes into ``directory``; return the file name for ``config.json['files']``."""
        name = MEMBERSHIP_FILE if self.key_id is not None else LEGACY_FILE
        with atomic_write(directory / name, "wb") as handle:
            if self.key_id is None:
                np.savez_compressed(handle, hashes=self.hashes)
            else:
                np.savez_compressed(handle, hashes=self.hashes, key_id=np.array(self.key_id))
        return name

    @classmethod
    def load(cls, directory: Path, role: str, name: str) -> TrainingMembership:
        """Read what :meth:`save` wrote (``role``: ``training_membership``, or ``training_hashes`` for old files)."""
        expected = MEMBERSHIP_FILE if role == "training_membership" else LEGACY_FILE
        if name != expected:
            raise ModelError(f"{directory}: expected files.{role} = {expected!r}, got {name!r}. {RESTORE}")
        if role == "training_hashes":
            arrays = read_npz(directory / name, {"hashes": "u"}, lambda shapes: one_dimensional(shapes, "hashes"))
            return cls(arrays["hashes"].astype(np.uint64), None)

        def check(shapes: dict[str, tuple[int, ...]]) -> str | None:
            problem = one_dimensional(shapes, "hashes")
            return problem or (None if shapes["key_id"] == () else f"expected a scalar key_id, got {shapes['key_id']}")

        arrays = read_npz(directory / name, {"hashes": "u", "key_id": "U"}, check)
        return cls(arrays["hashes"].astype(np.uint64), str(arrays["key_id"]))

    def card_lines(self) -> list[str]:
        """What the model card says about these hashes."""
        if self.key_id is None:
            return [
                f"- `{LEGACY_FILE}`: unkeyed sha256 hashes of every normalised training post, written by an older "
                "sosrisk. Anyone holding this directory and a candidate post can test whether it was a training "
                "post. Retrain the model to replace them with keyed hashes.",
            ]
        return [
            f"- `{MEMBERSHIP_FILE}`: 64-bit HMAC-SHA256 hashes of every normalised training post, keyed with a secret "
            f"key (id `{self.key_id}`) kept in the data home of the machine that trained the model, never in this "
            "directory. Without that key nobody can test whether a given post was a training post; with it, "
            "`sosrisk evaluate` warns when evaluation posts were training posts.",
        ]
