"""Tests of sosrisk.data.fetch: a real HTTP server on 127.0.0.1 serving tiny fixture files from tmp_path."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sosrisk.data.fetch import (
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    REQUIRED_FILES,
    SOS1K_COMMIT,
    SOS1K_REPO,
    Failure,
    FetchError,
    FetchReport,
    Mismatch,
    fetch_sos1k,
    load_manifest,
    parse_manifest,
    sos1k_url,
)

SHARED_SOS1K = Path(__file__).resolve().parents[1].parent / "shared" / "sos1k"
HEADER = f"SOS-1K ({SOS1K_REPO} at {SOS1K_COMMIT[:7]})"
OK_LINE = "ok: every fetched or present file matches its sha256"

FOLD1 = "suicideDataProcessing/data/fine-grained/fold1.tsv"
BINARY1 = "suicideDataProcessing/data/binary/fold1_twoClass.tsv"
SPACED = "suicideDataProcessing/data augmentation/LLMs/New GenerateData/round1-train/LLMsData-round1-myLabel0-new.tsv"
TEST_SET = "suicideDataProcessing/data/fine-grained/test_data.tsv"
CONTENT = {
    FOLD1: "comment\tmyLabel\n今天又失眠了\t0\n".encode(),
    BINARY1: "comment\ttwoClass\n今天又失眠了\t0\n".encode(),
    SPACED: "comment\tmyLabel\n生活好累\t0\n".encode(),
    TEST_SET: "comment\tmyLabel\n这一条不在镜像里\t1\n".encode(),
}
MANIFEST = {path: hashlib.sha256(data).hexdigest() for path, data in CONTENT.items()}
SERVED = [FOLD1, BINARY1, SPACED]  # the test set is withheld, like in the local development copy


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def temp_files(folder: Path) -> list[Path]:
    """Leftover temporary files of atomic writes (``.name.XXXX.tmp``)."""
    return [path for path in folder.rglob("*.tmp")]


@dataclass
class Mirror:
    """State of the fixture server: what it serves and how it misbehaves."""

    root: Path
    base_url: str = ""
    requests: list[str] = field(default_factory=list)
    truncate: dict[str, int] = field(default_factory=dict)  # path -> truncated answers still to give
    statuses: dict[str, list[int]] = field(default_factory=dict)  # path -> error codes to answer first
    delays: dict[str, list[float]] = field(default_factory=dict)  # path -> seconds to stall first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requested(self, path: str) -> int:
        """How many GET requests named ``path``."""
        return sum(urllib.parse.unquote(raw) == f"/mirror/{path}" for raw in self.requests)


class _Server(ThreadingHTTPServer):
    mirror: Mirror

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (timeout tests) is expected; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        mirror = self.server.mirror
        with mirror.lock:
            mirror.requests.append(self.path)
            path = urllib.parse.unquote(self.path).removeprefix("/mirror/")
            status = mirror.statuses.get(path, []).pop(0) if mirror.statuses.get(path) else None
            delay = mirror.delays.get(path, []).pop(0) if mirror.delays.get(path) else 0.0
            truncate = mirror.truncate.get(path, 0) > 0
            if truncate:
                mirror.truncate[path] -= 1
        if delay:
            time.sleep(delay)
        file = mirror.root / path
        if status is not None:
            self.send_error(status)
            return
        if not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if truncate:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """No request log on stderr."""


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    """An HTTP server on 127.0.0.1 serving the fixture files under ``/mirror/``."""
    root = tmp_path / "served"
    for path in SERVED:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(CONTENT[path])
    state = Mirror(root=root)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.mirror = state
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/mirror/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data home at tmp_path and drop any base-URL override of the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("SOSRISK_HOME", str(home))
    monkeypatch.delenv(BASE_URL_ENV_VAR, raising=False)
    return home


def fetch(mirror: Mirror, dest: Path | None = None, **kwargs: object) -> FetchReport:
    """fetch_sos1k against the fixture server, quiet and without back-off waits."""
    options: dict[str, object] = {"manifest": MANIFEST, "show_progress": False, "backoff": 0.0}
    options.update(kwargs)
    if "source" not in options:
        options.setdefault("base_url", mirror.base_url)
    return fetch_sos1k(dest, **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- download


def test_download_into_sosrisk_home_verifies_checksums(mirror: Mirror, isolated_home: Path) -> None:
    report = fetch(mirror)

    dest = isolated_home / "sos1k"
    assert report.dest == dest
    assert report.fetched == [FOLD1, BINARY1, SPACED]
    assert report.absent == [TEST_SET]
    assert (report.present, report.mismatched, report.failed, report.missing_required) == ([], [], [], [])
    assert report.ok
    for path in SERVED:
        assert (dest / path).read_bytes() == CONTENT[path]
    assert not (dest / TEST_SET).exists()
    assert temp_files(dest) == []
    # each path segment travels percent-quoted ("data augmentation", "New GenerateData")
    assert (
        "/mirror/suicideDataProcessing/data%20augmentation/LLMs/New%20GenerateData/round1-train/"
        "LLMsData-round1-myLabel0-new.tsv"
    ) in mirror.requests
    assert report.summary() == [
        f"{HEADER} in {dest} from {mirror.base_url}",
        "4 files: 3 fetched, 0 already present, 1 absent from the source, 0 mismatched, 0 failed",
        "absent: the official 250-post test set (1 file: test_data.tsv)",
        OK_LINE,
    ]
    assert str(report) == "\n".join(report.summary())


def test_base_url_from_environment(mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV_VAR, mirror.base_url.rstrip("/"))
    report = fetch_sos1k(tmp_path / "d", files=[FOLD1], manifest=MANIFEST, show_progress=False)
    assert report.fetched == [FOLD1]
    assert report.origin == mirror.base_url
    assert (tmp_path / "d" / FOLD1).read_bytes() == CONTENT[FOLD1]


def test_rerun_is_a_no_op(mirror: Mirror, isolated_home: Path) -> None:
    fetch(mirror)
    before = {path: (isolated_home / "sos1k" / path).stat().st_mtime_ns for path in SERVED}
    mirror.requests.clear()

    report = fetch(mirror)

    assert report.present == [FOLD1, BINARY1, SPACED]
    assert report.fetched == []
    assert report.absent == [TEST_SET]
    assert report.ok
    assert [urllib.parse.unquote(raw) for raw in mirror.requests] == [f"/mirror/{TEST_SET}"]
    assert {path: (isolated_home / "sos1k" / path).stat().st_mtime_ns for path in SERVED} == before
    assert report.summary()[1] == (
        "4 files: 0 fetched, 3 already present, 1 absent from the source, 0 mismatched, 0 failed"
    )


def test_files_selects_paths_and_glob_patterns(mirror: Mirror, tmp_path: Path) -> None:
    report = fetch(mirror, tmp_path / "d", files=["suicideDataProcessing/data/binary/*", SPACED])
    assert report.requested == [BINARY1, SPACED]
    assert report.fetched == [BINARY1, SPACED]
    assert report.missing_required == []  # fold1 was not asked for
    assert report.ok
    assert not (tmp_path / "d" / FOLD1).exists()

    single = fetch(mirror, tmp_path / "d", files=FOLD1)  # one path as a plain str
    assert single.fetched == [FOLD1]


def test_progress_bar_can_be_turned_off(mirror: Mirror, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    fetch(mirror, tmp_path / "quiet", show_progress=False)
    assert capfd.readouterr() == ("", "")
    report = fetch(mirror, tmp_path / "shown", show_progress=True)
    assert report.ok
    out, err = capfd.readouterr()
    assert out == ""
    assert "SOS-1K" in err


# ------------------------------------------------------------------------------------- bad or missing


def test_checksum_mismatch_is_rejected(mirror: Mirror, tmp_path: Path) -> None:
    tampered = "comment\tmyLabel\n被改过的内容\t9\n".encode()
    (mirror.root / FOLD1).write_bytes(tampered)
    dest = tmp_path / "d"

    report = fetch(mirror, dest)

    assert report.mismatched == [Mismatch(FOLD1, MANIFEST[FOLD1], sha(tampered), mirror.base_url + FOLD1)]
    assert report.fetched == [BINARY1, SPACED]
    assert report.missing_required == [FOLD1]
    assert not report.ok
    assert not (dest / FOLD1).exists()
    assert temp_files(dest) == []
    assert report.summary() == [
        f"{HEADER} in {dest} from {mirror.base_url}",
        "4 files: 2 fetched, 0 already present, 1 absent from the source, 1 mismatched, 0 failed",
        "absent: the official 250-post test set (1 file: test_data.tsv)",
        f"mismatched: {FOLD1}: expected sha256 {MANIFEST[FOLD1]}, got {sha(tampered)} from {mirror.base_url}{FOLD1}",
        f"missing required: {FOLD1}",
        "not ok: 1 mismatched (rejected, not written), 1 required development file missing; run the fetch "
        "again to retry, and if a sha256 mismatch persists the source does not hold the files of commit "
        f"{SOS1K_COMMIT[:7]}",
    ]


def test_mismatch_leaves_the_file_already_at_the_target_intact(mirror: Mirror, tmp_path: Path) -> None:
    dest = tmp_path / "d"
    (dest / FOLD1).parent.mkdir(parents=True)
    (dest / FOLD1).write_bytes(b"an older local edit\n")
    (mirror.root / FOLD1).write_bytes(b"tampered\n")

    report = fetch(mirror, dest, files=[FOLD1])

    assert report.mismatched == [Mismatch(FOLD1, MANIFEST[FOLD1], sha(b"tampered\n"), mirror.base_url + FOLD1)]
    assert (dest / FOLD1).read_bytes() == b"an older local edit\n"
    assert temp_files(dest) == []


def test_stale_file_is_replaced_by_a_verified_copy(mirror: Mirror, tmp_path: Path) -> None:
    dest = tmp_path / "d"
    (dest / FOLD1).parent.mkdir(parents=True)
    (dest / FOLD1).write_bytes(b"truncated by an old tool")

    report = fetch(mirror, dest, files=[FOLD1])

    assert report.fetched == [FOLD1]
    assert (dest / FOLD1).read_bytes() == CONTENT[FOLD1]


def test_stale_file_without_replacement_is_reported_as_mismatched(mirror: Mirror, tmp_path: Path) -> None:
    dest = tmp_path / "d"
    (dest / TEST_SET).parent.mkdir(parents=True)
    (dest / TEST_SET).write_bytes(b"not the test set\n")

    report = fetch(mirror, dest, files=[TEST_SET])

    assert report.absent == []
    assert report.mismatched == [
        Mismatch(TEST_SET, MANIFEST[TEST_SET], sha(b"not the test set\n"), str(dest / TEST_SET))
    ]
    assert (dest / TEST_SET).read_bytes() == b"not the test set\n"


def test_missing_required_fold_makes_the_report_not_ok(mirror: Mirror, tmp_path: Path) -> None:
    (mirror.root / BINARY1).unlink()
    dest = tmp_path / "d"

    report = fetch(mirror, dest)

    assert report.absent == [BINARY1, TEST_SET]
    assert report.missing_required == [BINARY1]
    assert not report.ok
    assert report.summary()[2:] == [
        "absent: the official 250-post test set (1 file: test_data.tsv)",
        f"absent: {BINARY1}",
        f"missing required: {BINARY1}",
        "not ok: 1 required development file missing; run the fetch again to retry, and if a sha256 "
        f"mismatch persists the source does not hold the files of commit {SOS1K_COMMIT[:7]}",
    ]


# --------------------------------------------------------------------------------- flaky connections


def test_interrupted_download_is_retried(mirror: Mirror, tmp_path: Path) -> None:
    mirror.truncate[FOLD1] = 2
    report = fetch(mirror, tmp_path / "d", files=[FOLD1])
    assert report.fetched == [FOLD1]
    assert mirror.requested(FOLD1) == 3
    assert (tmp_path / "d" / FOLD1).read_bytes() == CONTENT[FOLD1]


def test_interrupted_download_fails_after_the_retries_without_a_partial_file(mirror: Mirror, tmp_path: Path) -> None:
    mirror.truncate[FOLD1] = 100
    dest = tmp_path / "d"

    report = fetch(mirror, dest, files=[FOLD1], retries=2)

    size = len(CONTENT[FOLD1])
    assert report.failed == [
        Failure(
            FOLD1,
            f"connection closed after {size // 2} of {size} bytes (3 attempts) from {mirror.base_url}{FOLD1}",
        )
    ]
    assert mirror.requested(FOLD1) == 3
    assert not report.ok
    assert not (dest / FOLD1).exists()
    assert temp_files(dest) == []
    assert report.summary()[2:] == [
        f"failed: {FOLD1}: connection closed after {size // 2} of {size} bytes (3 attempts) "
        f"from {mirror.base_url}{FOLD1}",
        f"missing required: {FOLD1}",
        "not ok: 1 failed, 1 required development file missing; run the fetch again to retry, and if a "
        f"sha256 mismatch persists the source does not hold the files of commit {SOS1K_COMMIT[:7]}",
    ]


def test_server_errors_are_retried(mirror: Mirror, tmp_path: Path) -> None:
    mirror.statuses[FOLD1] = [503, 500]
    report = fetch(mirror, tmp_path / "d", files=[FOLD1])
    assert report.fetched == [FOLD1]
    assert mirror.requested(FOLD1) == 3


def test_server_errors_fail_after_the_retries(mirror: Mirror, tmp_path: Path) -> None:
    mirror.statuses[FOLD1] = [502, 502]
    report = fetch(mirror, tmp_path / "d", files=[FOLD1], retries=1)
    assert report.failed == [Failure(FOLD1, f"HTTP 502 Bad Gateway (2 attempts) from {mirror.base_url}{FOLD1}")]


def test_client_errors_other_than_404_are_not_retried(mirror: Mirror, tmp_path: Path) -> None:
    mirror.statuses[FOLD1] = [403]
    report = fetch(mirror, tmp_path / "d", files=[FOLD1])
    assert report.failed == [Failure(FOLD1, f"HTTP 403 Forbidden from {mirror.base_url}{FOLD1}")]
    assert mirror.requested(FOLD1) == 1


def test_slow_answer_times_out_and_is_retried(mirror: Mirror, tmp_path: Path) -> None:
    mirror.delays[FOLD1] = [0.6]
    started = time.monotonic()
    report = fetch(mirror, tmp_path / "d", files=[FOLD1], timeout=0.15)
    assert report.fetched == [FOLD1]
    assert mirror.requested(FOLD1) == 2
    assert time.monotonic() - started < 0.6


def test_connection_refused_is_reported_as_failed(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/"
    report = fetch_sos1k(
        tmp_path / "d",
        base_url=base_url,
        files=[FOLD1],
        manifest=MANIFEST,
        retries=1,
        backoff=0,
        show_progress=False,
    )
    assert report.failed == [Failure(FOLD1, f"connection refused (2 attempts) from {base_url}{FOLD1}")]
    assert not (tmp_path / "d" / FOLD1).exists()


# -------------------------------------------------------------------------------------- local source


def test_copy_from_local_source(mirror: Mirror, tmp_path: Path) -> None:
    source = mirror.root
    tampered = b"comment\ttwoClass\n\xe6\x94\xb9\t1\n"
    (source / BINARY1).write_bytes(tampered)
    dest = tmp_path / "d"

    report = fetch_sos1k(dest, source=source, manifest=MANIFEST, show_progress=False)

    assert report.origin == str(source)
    assert report.fetched == [FOLD1, SPACED]
    assert report.absent == [TEST_SET]
    assert report.mismatched == [Mismatch(BINARY1, MANIFEST[BINARY1], sha(tampered), str(source / BINARY1))]
    assert (dest / SPACED).read_bytes() == CONTENT[SPACED]
    assert not (dest / BINARY1).exists()
    assert temp_files(dest) == []
    assert mirror.requests == []
    assert report.summary()[:4] == [
        f"{HEADER} in {dest} from {source}",
        "4 files: 2 fetched, 0 already present, 1 absent from the source, 1 mismatched, 0 failed",
        "absent: the official 250-post test set (1 file: test_data.tsv)",
        f"mismatched: {BINARY1}: expected sha256 {MANIFEST[BINARY1]}, got {sha(tampered)} from {source / BINARY1}",
    ]

    (source / BINARY1).write_bytes(CONTENT[BINARY1])
    again = fetch_sos1k(str(dest), source=str(source), manifest=MANIFEST, show_progress=False)
    assert again.present == [FOLD1, SPACED]
    assert again.fetched == [BINARY1]
    assert again.ok


# ------------------------------------------------------------------------------------ unusable input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"source": "{tmp}/nowhere"},
            "expected source to be a folder with the SOS-1K files, got '{tmp}/nowhere', which does not "
            "exist; pass the folder that holds suicideDataProcessing/ and ModelTrain/",
        ),
        (
            {"source": "{tmp}/a-file.txt"},
            "expected source to be a folder with the SOS-1K files, got '{tmp}/a-file.txt', which is not a "
            "folder; pass the folder that holds suicideDataProcessing/ and ModelTrain/",
        ),
        (
            {"source": "{tmp}"},
            "expected source to hold the repository layout (suicideDataProcessing/ at its top), got "
            "'{tmp}', which has none of them; pass the folder that holds suicideDataProcessing/ and "
            "ModelTrain/",
        ),
        (
            {"source": "https://example.org/sos1k"},
            "expected source to be a local folder, got the URL 'https://example.org/sos1k'; pass URLs as "
            "base_url instead",
        ),
        (
            {"source": "{tmp}", "base_url": "http://127.0.0.1:9/"},
            "expected source or base_url, got both (source='{tmp}', base_url='http://127.0.0.1:9/'); pass only one",
        ),
        (
            {"base_url": "ftp://example.org/sos1k/"},
            "expected base_url to be an http(s) URL of the folder that holds the repository's files, such as "
            f"'{DEFAULT_BASE_URL}', got 'ftp://example.org/sos1k/'; fix the URL or leave it out for the "
            "default",
        ),
        (
            {"base_url": "raw.githubusercontent.com/x"},
            "expected base_url to be an http(s) URL of the folder that holds the repository's files, such as "
            f"'{DEFAULT_BASE_URL}', got 'raw.githubusercontent.com/x'; fix the URL or leave it out for the "
            "default",
        ),
        (
            {"base_url": "http://127.0.0.1:9/sos1k?ref=main"},
            "expected base_url without a query or fragment, got 'http://127.0.0.1:9/sos1k?ref=main'; pass "
            "only the folder URL, file paths are appended to it",
        ),
        (
            {"files": ["fold1.tsv"]},
            "expected files to be paths of the SOS-1K manifest or glob patterns matching some (for example "
            f"'{FOLD1}'), got 'fold1.tsv', which matches none; see load_manifest() for the paths",
        ),
        (
            {"timeout": 0},
            "expected timeout to be a positive number of seconds, got 0; pass e.g. 30",
        ),
        (
            {"retries": -1},
            "expected retries to be an integer >= 0, got -1; pass e.g. 3",
        ),
        (
            {"dest": "{tmp}/a-file.txt"},
            "expected dest to be a folder, got '{tmp}/a-file.txt', which is a file; pass another folder",
        ),
        (
            {"manifest": {"../escape.tsv": "0" * 64}},
            "expected manifest paths relative to the repository, got '../escape.tsv' (it has an empty, "
            "'.' or '..' segment); fix the manifest",
        ),
        (
            {"manifest": {FOLD1: "abc"}},
            f"expected manifest values to be 64 hex digits of sha256, got 'abc' for '{FOLD1}'; fix the manifest",
        ),
    ],
)
def test_unusable_arguments_raise_fetch_error(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    (tmp_path / "a-file.txt").write_text("x")
    options: dict[str, object] = {"manifest": MANIFEST, "show_progress": False}
    for key, value in kwargs.items():
        options[key] = value.replace("{tmp}", str(tmp_path)) if isinstance(value, str) else value
    if "source" not in options and "base_url" not in options:
        options["base_url"] = "http://127.0.0.1:9/"
    dest = options.pop("dest", tmp_path / "d")
    with pytest.raises(FetchError) as caught:
        fetch_sos1k(dest, **options)  # type: ignore[arg-type]
    assert str(caught.value) == message.replace("{tmp}", str(tmp_path))


def test_bad_base_url_in_the_environment_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV_VAR, "file:///srv/sos1k")
    with pytest.raises(FetchError) as caught:
        fetch_sos1k(tmp_path, manifest=MANIFEST, show_progress=False)
    assert str(caught.value) == (
        f"expected ${BASE_URL_ENV_VAR} to be an http(s) URL of the folder that holds the repository's files, "
        f"such as '{DEFAULT_BASE_URL}', got 'file:///srv/sos1k'; fix the URL or leave it out for the default"
    )


# ------------------------------------------------------------------------------------------ manifest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "# header\nnot-a-hash  a.tsv\n",
            "m.sha256:2: expected a line '<64 hex digits of sha256>  <relative path>', "
            "got 'not-a-hash  a.tsv'; restore the manifest (reinstall sosrisk if it is the shipped one)",
        ),
        (
            f"{'a' * 64}  /etc/passwd\n",
            "m.sha256:1: expected a relative path inside the repository, got '/etc/passwd' (it is absolute); "
            "restore the manifest (reinstall sosrisk if it is the shipped one)",
        ),
        (
            f"{'a' * 64}  x/a b.tsv\n{'b' * 64}  x/a b.tsv\n",
            "m.sha256:2: expected each path once, got 'x/a b.tsv' a second time; restore the manifest "
            "(reinstall sosrisk if it is the shipped one)",
        ),
        (
            "# only a comment\n\n",
            "m.sha256: expected '<sha256>  <relative path>' lines, got none; restore the manifest (reinstall "
            "sosrisk if it is the shipped one)",
        ),
    ],
)
def test_parse_manifest_rejects_bad_lines(text: str, message: str) -> None:
    with pytest.raises(FetchError) as caught:
        parse_manifest(text, "m.sha256")
    assert str(caught.value) == message


def test_parse_manifest_keeps_spaces_in_paths() -> None:
    text = f"# c\n{'A' * 64}  a dir/b c.tsv\n{'b' * 64} *d.tsv\n"
    assert parse_manifest(text) == {"a dir/b c.tsv": "a" * 64, "d.tsv": "b" * 64}


def test_shipped_manifest_loads() -> None:
    manifest = load_manifest()
    assert len(manifest) == 219
    assert set(REQUIRED_FILES) <= set(manifest)
    assert SPACED in manifest
    if SHARED_SOS1K.is_dir():
        text = (SHARED_SOS1K / "MANIFEST.sha256").read_text(encoding="utf-8")
        assert manifest == parse_manifest(text)


def test_url_quotes_each_segment() -> None:
    assert sos1k_url(SPACED) == (
        f"https://raw.githubusercontent.com/{SOS1K_REPO}/{SOS1K_COMMIT}/suicideDataProcessing/"
        "data%20augmentation/LLMs/New%20GenerateData/round1-train/LLMsData-round1-myLabel0-new.tsv"
    )
    assert sos1k_url("a b/c.tsv", "http://127.0.0.1:8000/m") == "http://127.0.0.1:8000/m/a%20b/c.tsv"


# ------------------------------------------------------------------------- the shared development copy

WITHHELD = {
    "ModelTrain/LLMs-G-1/train_data4_after.tsv",
    "ModelTrain/LLMs-G-2/train_data4_after.tsv",
    "ModelTrain/LLMs-G-3/train_data4_after.tsv",
    "ModelTrain/back-translation-1/test_data.tsv",
    "ModelTrain/back-translation-1/train_data4_after.tsv",
    "ModelTrain/back-translation-2/test_data.tsv",
    "ModelTrain/back-translation-2/train_data4_after.tsv",
    "ModelTrain/data/test_data.tsv",
    "ModelTrain/synonym-replacement-1/test_data.tsv",
    "ModelTrain/synonym-replacement-1/train_data4_after.tsv",
    "ModelTrain/synonym-replacement-2/test_data.tsv",
    "ModelTrain/synonym-replacement-2/train_data4_after.tsv",
    "ModelTrain/twoClassData/testdata_twoClass.tsv",
    "suicideDataProcessing/LLMs auxiliary annotation/suicide_all_LLM.csv",
    "suicideDataProcessing/data/binary/testdata_twoClass.tsv",
    "suicideDataProcessing/data/fine-grained/test_data.tsv",
}
needs_shared_copy = pytest.mark.skipif(
    not SHARED_SOS1K.is_dir(), reason=f"no local SOS-1K copy at {SHARED_SOS1K} (outside the repository)"
)


@needs_shared_copy
def test_shared_copy_matches_the_shipped_manifest() -> None:
    manifest = load_manifest()
    found = {
        path.relative_to(SHARED_SOS1K).as_posix(): path
        for path in SHARED_SOS1K.rglob("*")
        if path.is_file() and path.name not in {"README.md", "MANIFEST.sha256"}
    }
    assert set(found) <= set(manifest)
    assert set(manifest) - set(found) == WITHHELD
    wrong = {rel for rel, path in found.items() if hashlib.sha256(path.read_bytes()).hexdigest() != manifest[rel]}
    assert wrong == set()


@needs_shared_copy
def test_fetch_from_the_shared_copy(tmp_path: Path) -> None:
    dest = tmp_path / "sos1k"
    report = fetch_sos1k(dest, source=SHARED_SOS1K, show_progress=False)
    assert report.ok
    assert set(report.absent) == WITHHELD
    assert len(report.fetched) == 219 - len(WITHHELD)
    assert report.summary() == [
        f"{HEADER} in {dest} from {SHARED_SOS1K}",
        "219 files: 203 fetched, 0 already present, 16 absent from the source, 0 mismatched, 0 failed",
        "absent: the official 250-post test set (8 files: test_data.tsv, testdata_twoClass.tsv)",
        "absent: the *_after.tsv training sets (7 files: train_data4_after.tsv)",
        "absent: all 1,249 posts with the LLM-assisted annotations (1 file: suicide_all_LLM.csv)",
        OK_LINE,
    ]
