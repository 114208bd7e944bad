"""``sosrisk augment``, ``sosrisk train --augment`` and ``sosrisk annotate`` end to end (local endpoint)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sosrisk.augment.synonyms import default_table_path
from sosrisk.cli import main
from sosrisk.data import read_posts
from test_augment import POSTS, GenerationResponder, tiny_table

SECRET = "sk-cli-SECRET-42"


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.tsv"
    rows = [f"{t}\t{level}\t{int(level >= 6)}" for level, texts in POSTS.items() for t in texts]
    # a few more posts so that char-linear's own cross-validation has two posts of every label
    rows += [f"{t}。\t{level}\t{int(level >= 6)}" for level, texts in POSTS.items() for t in texts]
    path.write_text("text\trisk_level\thigh_risk\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def table_in_home() -> Path:
    return tiny_table().save(default_table_path())


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(main, args, catch_exceptions=False, env=env)
    return result


def test_plan_is_shown_before_anything_is_made(train_file: Path) -> None:
    result = invoke(["augment", "plan", "--task", "level", "--size", "8", "--train", str(train_file)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "balancing plan (level task, size 8): 8 posts to add"
    result = invoke(["augment", "plan", "--task", "binary", "--size", "largest", "--train", str(train_file), "--json"])
    assert json.loads(result.output)["rows"][1] == {"label": 1, "have": 4, "add": 8, "after": 12}


def test_run_writes_a_file_that_train_reads_and_train_augment(
    train_file: Path, table_in_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "augmented.tsv"
    args = ["augment", "run", "--task", "level", "--method", "synonym", "--size", "8", "--train", str(train_file)]
    result = invoke([*args, "--out", str(out), "--seed", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert "wrote 24 posts (16 training + 8 new) to" in result.output
    augmented = read_posts(out, task="level")
    assert (augmented.frame["source"] == str(out)).all() and len(augmented) > 16
    again = tmp_path / "again.tsv"
    invoke([*args, "--out", str(again), "--seed", "2", "-q"])
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")  # same seed, same file
    model_dir = tmp_path / "model"
    result = invoke(["train", "--task", "level", "--train", str(out), "--out", str(model_dir), "-q", "--no-scope"])
    assert result.exit_code == 0, result.output
    # train --augment does the same in one step and records it in the model's config
    model_dir = tmp_path / "model2"
    result = invoke(
        [
            "train",
            "--task",
            "level",
            "--train",
            str(train_file),
            "--augment",
            "synonym:8",
            "--out",
            str(model_dir),
            "-q",
            "--no-scope",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "so its numbers below are optimistic; 'sosrisk augment cv' gives an honest estimate" in result.output
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert config["training"]["augmentation"]["augment"] == "synonym:8"
    assert config["training"]["augmentation"]["original_sources"] == [str(train_file)]
    assert config["training"]["n_posts"] == 16 + sum(config["training"]["augmentation"]["made"].values())


def test_bad_method_is_a_clean_error(train_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["train", "--task", "level", "--train", str(train_file), "--augment", "eda:2", "--out", "x"]
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: augmentation: expected METHOD[:SIZE] with METHOD one of back-translation, llm, pool-back-translation, "
        "pool-llm, pool-synonym, synonym, got 'eda:2'\n"
    )


def test_llm_generation_through_the_environment(train_file: Path, tmp_path: Path, llm_server: Any) -> None:
    llm_server.responder = GenerationResponder()
    out = tmp_path / "generated.tsv"
    ledger = tmp_path / "ledger.jsonl"
    env = {"SOSRISK_LLM_BASE_URL": llm_server.base_url, "SOSRISK_LLM_MODEL": "m", "SOSRISK_LLM_API_KEY": SECRET}
    args = ["augment", "run", "--task", "level", "--method", "llm", "--size", "10", "--train", str(train_file)]
    result = invoke([*args, "--out", str(out), "--ledger", str(ledger), "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["made"] == {"0": 4, "4": 4, "9": 6} and summary["augment"] == "llm:10"
    assert llm_server.requests[0]["body"]["temperature"] == 1.0
    assert SECRET not in result.output and SECRET not in ledger.read_text(encoding="utf-8")
    assert SECRET not in out.read_text(encoding="utf-8")
    missing = CliRunner().invoke(main, [*args, "--out", str(out)], env={"SOSRISK_LLM_BASE_URL": ""})
    assert missing.exit_code == 1
    assert (
        "LLM option 'base_url': expected a value, got none; pass --base-url or set SOSRISK_LLM_BASE_URL"
        in missing.output
    )


def test_annotate_then_compare(tmp_path: Path, llm_server: Any) -> None:
    from llm_server import reply

    truth = {"好想死啊": 4, "今天加班好累": 0, "刀已经准备好了，割腕": 7}
    posts = tmp_path / "posts.txt"
    posts.write_text("\n".join(truth) + "\n", encoding="utf-8")
    expert = tmp_path / "expert.tsv"
    expert.write_text("comment\tmyLabel\n" + "".join(f"{t}\t{y}\n" for t, y in truth.items()), encoding="utf-8")

    def answer(body: dict[str, Any]) -> Any:
        listed = re.findall(r"^\[(\d+)\] (.+)$", body["messages"][-1]["content"], re.M)
        rows = "\n".join(f"| {n} | {truth[t] if '割腕' not in t else 6} | 理由 |" for n, t in listed)
        return reply("| 编号 | 等级 | 理由 |\n|---|---|---|\n" + rows)

    llm_server.responder = answer
    review = tmp_path / "review.tsv"
    env = {"SOSRISK_LLM_API_KEY": SECRET}
    args = ["annotate", str(posts), "--out", str(review), "--base-url", llm_server.base_url, "--llm-model", "m"]
    result = invoke([*args, "--strategy", "scene", "--batch-size", "2", "-q", "--compare", str(expert)], env=env)
    assert result.exit_code == 0, result.output
    assert "annotated 3 of 3 posts with m (scene prompt); 0 flagged for a person; 2 requests" in result.output
    assert "agreement with the experts on 3 posts" in result.output
    assert "accuracy 0.667" in result.output
    assert SECRET not in result.output
    assert SECRET not in Path(str(review) + ".ledger.jsonl").read_text(encoding="utf-8")
    # a review file alone is compared without any request
    requests = len(llm_server.requests)
    result = invoke(["annotate", str(review), "--compare", str(expert), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["accuracy"] == pytest.approx(2 / 3)
    assert len(llm_server.requests) == requests
    # the reviewed file trains a model
    result = invoke(["augment", "plan", "--task", "level", "--size", "largest", "--train", str(review)])
    assert result.exit_code == 0, result.output


def test_annotate_failure_says_how_to_resume(tmp_path: Path, llm_server: Any) -> None:
    from llm_server import status

    llm_server.responder = lambda body: status(503)
    posts = tmp_path / "posts.txt"
    posts.write_text("好想死啊\n", encoding="utf-8")
    review = tmp_path / "review.tsv"
    args = ["annotate", str(posts), "--out", str(review), "--base-url", llm_server.base_url, "--llm-model", "m"]
    result = CliRunner().invoke(main, [*args, "--max-retries", "0", "-q"], env={"SOSRISK_LLM_API_KEY": SECRET})
    assert result.exit_code == 1
    assert "no usable answer after 1 attempt(s); last problem: HTTP 503 (error)." in result.output
    assert "run the same command again to continue without paying for them twice." in result.output
    assert not review.exists()
    assert SECRET not in result.output
