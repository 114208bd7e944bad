"""LLM pre-annotation: answer parsing, retries and flags, the ledger, the review file and agreement."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sosrisk.annotate import (
    agreement,
    annotate_posts,
    annotation_messages,
    compare_review,
    parse_answer,
    review_levels,
    write_review,
)
from sosrisk.data import DataError, read_posts

POSTS = [
    ("今天加班好累，心情很差", 0),
    ("每天都一样，没什么意思", 1),
    ("活着真的好累，感觉没有意义", 2),
    ("好想死啊", 4),
    ("我决定吃安眠药了，攒了好多", 7),
    ("明天晚上就跳下去，遗书写好了", 9),
    ("现在站在楼顶上，风好大", 10),
]

# ---------------------------------------------------------------------------------------------- parsing


def test_a_good_table_with_stray_text_around_it() -> None:
    answer = "好的，标注如下：\n\n| 编号 | 等级 | 理由 |\n|---|---|---|\n| 1 | 0 | 日常情绪 |\n| 2 | 4级 | 想死 |\n\n"
    answer += "希望有帮助"
    parsed = parse_answer(answer, [1, 2])
    assert {n: (r.level, r.reason) for n, r in parsed.rows.items()} == {1: (0, "日常情绪"), 2: (4, "想死")}
    assert parsed.problems == []


def test_columns_in_another_order_follow_the_header() -> None:
    answer = "| 理由 | 等级 | 编号 |\n| --- | --- | --- |\n| 有计划 | 6 | 2 |\n| 日常 | 0 | 1 |"
    parsed = parse_answer(answer, [1, 2])
    assert {n: r.level for n, r in parsed.rows.items()} == {1: 0, 2: 6}


def test_malformed_rows_are_named_never_guessed() -> None:
    answer = "\n".join(
        [
            "| 编号 | 等级 | 理由 |",
            "|---|---|---|",
            "| 1 | 11 | 超出范围 |",
            "| 2 | 4-5 | 拿不准 |",
            "| 9 | 3 | 不在这一批 |",
            "| 3 | 2 | 第一次 |",
            "| 3 | 5 | 第二次，矛盾 |",
            "| x | 1 | 编号不是数字 |",
        ]
    )
    parsed = parse_answer(answer, [1, 2, 3, 4])
    assert parsed.rows == {}
    assert parsed.problems == [
        "table row 8: the number cell 'x' is not one integer",
        "table row 3: post 1: level 11 is outside 0-10",
        "table row 4: post 2: level '4-5' is not one integer",
        "table row 5: number 9 is not one of this batch's (1-4)",
        "table row 7: post 3 has two different levels (2 and 5)",
        "post 1: no usable row in the answer",
        "post 2: no usable row in the answer",
        "post 4: no usable row in the answer",
    ]


def test_json_and_plain_lines_are_read_when_there_is_no_table() -> None:
    parsed = parse_answer('```json\n[{"id": 1, "level": 3, "reason": "痛苦"}, {"编号": 2, "等级": "7"}]\n```', [1, 2])
    assert {n: r.level for n, r in parsed.rows.items()} == {1: 3, 2: 7}
    parsed = parse_answer("1. 等级：4，想死\n2: 0 日常\n说明：以上", [1, 2])
    assert {n: r.level for n, r in parsed.rows.items()} == {1: 4, 2: 0}
    parsed = parse_answer("我无法完成这个任务。", [1])
    assert parsed.rows == {}
    assert parsed.problems == [
        "no table, JSON or 'number: level' lines found in the answer",
        "post 1: no usable row in the answer",
    ]


def test_both_prompt_strategies() -> None:
    posts = [(1, "好想死啊"), (2, "今天\n好累")]
    scene = annotation_messages("scene", posts)[-1]["content"]
    levels = annotation_messages("scene+levels", posts)[-1]["content"]
    assert "树洞" in scene and "0 到 10" in scene and "各等级的含义" not in scene
    assert "各等级的含义" in levels and "7 级：" in levels and "10 级：" in levels
    assert "[2] 今天 好累" in scene  # a post's line breaks do not break the listing
    assert "编号 | 等级 | 理由" in scene
    with pytest.raises(ValueError, match=r"The prompt strategy must be one of scene, scene\+levels. Got 'x' instead."):
        annotation_messages("x", posts)


# ---------------------------------------------------------------------------------------------- runs


@pytest.fixture
def posts_file(tmp_path: Path) -> Path:
    path = tmp_path / "posts.tsv"
    path.write_text("id\ttext\n" + "".join(f"p{i}\t{t}\n" for i, (t, _) in enumerate(POSTS, start=1)), "utf-8")
    return path


@pytest.fixture
def expert_file(tmp_path: Path) -> Path:
    path = tmp_path / "expert.tsv"
    path.write_text("comment\tmyLabel\n" + "".join(f"{t}\t{y}\n" for t, y in POSTS), "utf-8")
    return path


def listed(body: dict[str, Any]) -> list[tuple[int, str]]:
    return [(int(n), t) for n, t in re.findall(r"^\[(\d+)\] (.+)$", body["messages"][-1]["content"], re.M)]


def table(rows: list[tuple[int, object, str]]) -> str:
    return "| 编号 | 等级 | 理由 |\n|---|---|---|\n" + "\n".join(f"| {n} | {lv} | {r} |" for n, lv, r in rows)


def truth(text: str) -> int:
    return dict(POSTS)[text]


def client_for(llm_server: Any, **extra: object) -> Any:
    from sosrisk.llm import ChatClient, LLMOptions

    values: dict[str, object] = {"base_url": llm_server.base_url, "model": "m", "api_key": "sk-ann-SECRET"}
    values.update({"backoff_initial_s": 0.0, "timeout_s": 0.5, "max_retries": 2, **extra})
    return ChatClient(LLMOptions.build(values, environ={}), sleep=lambda s: None)


def test_unreadable_answers_are_retried_then_flagged(llm_server: Any, posts_file: Path, tmp_path: Path) -> None:
    from llm_server import reply, status
    from sosrisk.llm import Ledger

    def first_batch(body: dict[str, Any]) -> Any:
        items = listed(body)
        # row 2 missing, row 3 out of range, an id that is not in the batch, stray text
        rows = [(1, truth(items[0][1]), "ok"), (3, 12, "太高"), (99, 4, "不存在"), (4, truth(items[3][1]), "ok")]
        return reply("以下是结果：\n" + table(rows) + "\n（仅供参考）")

    def second_batch(body: dict[str, Any]) -> Any:
        return reply(table([(n, truth(t), "第二批") for n, t in listed(body) if "楼顶" not in t]))

    def retry(body: dict[str, Any]) -> Any:
        items = listed(body)
        # the retry answers everything but the post about the roof, which stays unreadable
        return reply(table([(n, truth(t), "重试") for n, t in items if "楼顶" not in t]))

    llm_server.script = [status(429, retry_after="0")]
    answers = iter([first_batch, second_batch, retry, retry])
    llm_server.responder = lambda body: next(answers)(body)
    posts = read_posts(posts_file)
    ledger_path = tmp_path / "ledger.jsonl"
    with client_for(llm_server) as client:
        run = annotate_posts(
            posts, client=client, ledger=Ledger(ledger_path), batch_size=4, max_attempts=3, show_progress=False
        )
    by_id = {a.id: a for a in run.annotations}
    assert {i: a.level for i, a in by_id.items()} == {
        "p1": 0, "p2": 1, "p3": 2, "p4": 4, "p5": 7, "p6": 9, "p7": None,
    }  # fmt: skip
    assert by_id["p2"].attempts == 2 and by_id["p2"].reason == "重试"
    assert by_id["p7"].status == "flagged" and by_id["p7"].problem == "post 1: no usable row in the answer"
    assert run.problems == ["p7: flagged after 3 attempt(s): post 1: no usable row in the answer"]
    assert run.calls == 4 and len(llm_server.requests) == 5  # 4 batches + the 429
    # a resumed run pays nothing: every request is answered from the ledger
    with client_for(llm_server) as client:
        again = annotate_posts(
            posts, client=client, ledger=Ledger(ledger_path), batch_size=4, max_attempts=3, show_progress=False
        )
    assert [a.level for a in again.annotations] == [a.level for a in run.annotations]
    assert again.cached_calls == again.calls == 4 and len(llm_server.requests) == 5
    assert "sk-ann-SECRET" not in ledger_path.read_text(encoding="utf-8")


def test_an_interrupted_run_resumes_without_paying_twice(llm_server: Any, posts_file: Path, tmp_path: Path) -> None:
    from llm_server import drop, reply, stall, status
    from sosrisk.llm import Ledger, LLMError

    def answer(body: dict[str, Any]) -> Any:
        return reply(table([(n, truth(t), "ok") for n, t in listed(body)]))

    posts = read_posts(posts_file)
    ledger_path = tmp_path / "ledger.jsonl"
    # batch 1 is answered; batch 2 meets a timeout, a dropped connection and a 503: retries run out
    llm_server.script = [
        reply(table([(n, POSTS[n - 1][1], "ok") for n in range(1, 4)])),
        stall(1.5),
        drop(),
        status(503),
    ]
    with client_for(llm_server) as client, pytest.raises(LLMError, match="no usable answer after 3 attempt"):
        annotate_posts(posts, client=client, ledger=Ledger(ledger_path), batch_size=3, show_progress=False)
    paid = len(llm_server.requests)
    assert paid == 4
    llm_server.responder = answer
    with client_for(llm_server) as client:
        run = annotate_posts(posts, client=client, ledger=Ledger(ledger_path), batch_size=3, show_progress=False)
    assert [a.level for a in run.annotations] == [y for _, y in POSTS]
    assert run.cached_calls == 1  # the first batch came from the ledger
    assert len(llm_server.requests) == paid + 2  # only batches 2 and 3 were sent again


# ---------------------------------------------------------------------------------------------- review files


def _finished_run(llm_server: Any, posts_file: Path, tmp_path: Path, wrong: dict[str, int] | None = None) -> Any:
    from sosrisk.llm import Ledger

    wrong = wrong or {}

    def answer(body: dict[str, Any]) -> Any:
        return reply_for(body, wrong)

    llm_server.responder = answer
    with client_for(llm_server) as client:
        return annotate_posts(
            read_posts(posts_file), client=client, ledger=Ledger(tmp_path / "l.jsonl"), show_progress=False
        )


def reply_for(body: dict[str, Any], wrong: dict[str, int]) -> Any:
    from llm_server import reply

    rows = [(n, wrong.get(t, truth(t)), "理由") for n, t in listed(body) if wrong.get(t, 0) != -1]
    return reply(table(rows))


def test_the_review_file_is_read_by_training_and_flags_stay_empty(
    llm_server: Any, posts_file: Path, tmp_path: Path
) -> None:
    run = _finished_run(llm_server, posts_file, tmp_path)
    review = write_review(tmp_path / "review.tsv", run)
    header = review.read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header == [
        "id",
        "text",
        "risk_level",
        "llm_level",
        "llm_reason",
        "llm_status",
        "llm_problem",
        "reviewer_note",
    ]
    posts = read_posts(review, task="level")
    assert posts.labels("level").tolist() == [y for _, y in POSTS]
    official = write_review(tmp_path / "official.tsv", run, columns="official")
    assert read_posts(official, task="level").labels("level").tolist() == [y for _, y in POSTS]
    # a flagged post leaves risk_level empty: training stops at it until a person fills it in
    flagged = _finished_run(llm_server, posts_file, tmp_path / "b", wrong={"好想死啊": -1})
    path = write_review(tmp_path / "flagged.tsv", flagged)
    with pytest.raises(DataError) as caught:
        read_posts(path, task="level")
    assert str(caught.value) == f"{path}:5: field 'risk_level': missing label; expected an integer from 0 to 10"
    assert review_levels(path)[2] == [0, 1, 2, None, 7, 9, 10]


def test_agreement_with_experts(llm_server: Any, posts_file: Path, expert_file: Path, tmp_path: Path) -> None:
    from sklearn.metrics import cohen_kappa_score

    run = _finished_run(
        llm_server,
        posts_file,
        tmp_path,
        wrong={"好想死啊": 5, "现在站在楼顶上，风好大": 8, "每天都一样，没什么意思": -1},
    )
    review = write_review(tmp_path / "review.jsonl", run)
    result = compare_review(review, expert_file)
    expert = np.array([0, 2, 4, 7, 9, 10])
    model = np.array([0, 2, 5, 7, 9, 8])
    assert result.compared == 6 and result.flagged == 1 and result.unmatched == 0
    assert result.metrics["accuracy"] == pytest.approx(4 / 6)
    assert result.metrics["kappa_linear"] == pytest.approx(
        cohen_kappa_score(expert, model, labels=list(range(11)), weights="linear")
    )
    assert result.metrics["kappa_quadratic"] == pytest.approx(
        cohen_kappa_score(expert, model, labels=list(range(11)), weights="quadratic")
    )
    assert result.confusion[10][8] == 1 and result.confusion[4][5] == 1
    assert result.per_level[10]["recall"] == 0.0 and result.per_level[7]["recall"] == 1.0
    assert "Cohen's kappa: linear" in result.render()
    with pytest.raises(DataError, match="no post of the review file has both an expert label"):
        agreement(np.array([]), np.array([]))
