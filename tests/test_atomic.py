"""sosrisk.atomic: the sha256 of files (the digest every fetcher and model check compares)."""

from __future__ import annotations

import hashlib

from sosrisk.atomic import sha256_file


def test_sha256_file_matches_the_digest_of_the_bytes(tmp_path):
    # larger than any read chunk, with every byte value, so that chunked reading shows if it drops or repeats bytes
    data = bytes(range(256)) * 9000 + b"tail"
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()


def test_sha256_file_of_an_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
