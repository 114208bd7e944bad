"""The behavioural suite: its files, its checks, the command, and the clear-cut cases of the default models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scope_support import tiny_scoped_model
from sosrisk.assess import assess
from sosrisk.behaviour import CHECKS, GROUPS, SUITES, Case, load_cases, pass_rates, run_cases
from sosrisk.cli import main


@pytest.mark.parametrize("suite", SUITES)
def test_suite_files_cover_every_group(suite: str) -> None:
    cases = load_cases(suite)
    assert {c.group for c in cases} == set(GROUPS)
    assert {c.check for c in cases} <= set(CHECKS)
    assert all(c.text and (c.check == "mft") != bool(c.variant) for c in cases)
    assert len({(c.text, c.variant) for c in cases}) == len(cases)


def test_the_suites_share_no_post() -> None:
    posts = {suite: {t for c in load_cases(suite) for t in (c.text, c.variant) if t} for suite in SUITES}
    assert len(SUITES) == 42
    for i, first in enumerate(SUITES):
        for second in SUITES[i + 1 :]:
            assert posts[first] & posts[second] == set(), (first, second)


def test_an_unknown_suite_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"Unknown behavioural suite 'tests'; expected one of "
        r"\('cases', 'holdout', 'holdout2', 'holdout3', 'holdout4', 'holdout5', 'holdout6', 'holdout7', 'holdout8', "
        r"'holdout9', 'holdout10', 'holdout11', 'holdout12', 'holdout13', "
        r"'holdout14', 'holdout15', 'holdout16', 'holdout17', 'holdout18', 'holdout19', 'holdout20', 'holdout21', "
        r"'holdout22', 'holdout23', 'holdout24', 'holdout25', 'holdout26', 'holdout27', 'holdout28', 'holdout29', "
        r"'holdout30', 'holdout31', 'holdout32', 'holdout33', 'holdout34', "
        r"'holdout35', 'holdout36', 'holdout37', 'holdout38', 'holdout39', 'holdout40', "
        r"'holdout41'\)\.",
    ):
        load_cases("tests")


def test_checks_judge_what_they_say(tmp_path: Path) -> None:
    level = tiny_scoped_model("level", tmp_path)
    cases = [
        Case("t", 1, "hyperbole", "mft", "今天的天气真不错，适合出去散步"),  # out of scope: level 0, passes
        Case("t", 2, "attempt_in_progress", "mft", "今天的天气真不错，适合出去散步"),  # level 0: fails
        Case("t", 3, "farewell", "mft", "这是我最后一条微博了"),  # a rule raises it to 8: passes
        Case("t", 4, "wish_no_method", "dir_up", "好想死", "好想死，我刚吃了一整瓶安眠药"),  # raised: passes
        Case("t", 5, "negation_recovery", "dir_down", "好想死", "好想死，我刚吃了一整瓶安眠药"),  # raised: fails
        Case("t", 6, "hyperbole", "inv", "今天的天气真不错，适合出去散步", "这家餐厅的牛肉面很好吃，推荐"),
    ]
    results = run_cases(cases, level_model=level)
    assert [r.passed for r in results] == [True, False, True, True, False, True]
    assert results[2].answers[0]["rules"] == ["last_post"]
    rows = {r["group"]: r for r in pass_rates(results)}
    assert rows["hyperbole"]["passed"] == 2 and rows["hyperbole"]["cases"] == 2
    assert rows["hyperbole"]["mft"] == "1/1" and rows["hyperbole"]["inv"] == "1/1"
    assert rows["attempt_in_progress"]["pass_rate"] == 0.0
    assert rows["farewell"]["must_reach"] == "level >= 6, high risk"


def test_behaviour_command(tmp_path: Path) -> None:
    tiny_scoped_model("level", tmp_path).save(tmp_path / "models" / "level")
    tiny_scoped_model("binary", tmp_path).save(tmp_path / "models" / "binary")
    runner = CliRunner()
    result = runner.invoke(main, ["behaviour", str(tmp_path / "models"), "--suite", "holdout"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("suite holdout:\n")
    for group in GROUPS:
        assert f"  {group} " in result.output
    result = runner.invoke(main, ["behaviour", str(tmp_path / "models" / "level"), "--json"], catch_exceptions=False)
    report = json.loads(result.output)
    assert set(report) == set(SUITES)
    assert sum(row["cases"] for row in report["cases"]["groups"]) == len(load_cases("cases"))


# ---------------------------------------------------------------------------------------------- the default models
CLEAR_CUT = [
    # (post, highest level allowed or None, lowest level required or None, high risk required)
    ("今天加班到十点，老板还骂我，烦死了", 3, None, False),  # the README's example
    ("这天气热死了，空调还坏了", 3, None, False),
    ("据当地警方通报，一名男子昨日从大桥上坠落，经抢救无效死亡，具体原因正在调查中", 3, None, False),
    ("我朋友最近总说活着没意思，我该怎么劝她", 3, None, False),
    ("真的好想死，但是不知道怎么办", None, 4, None),
    ("药已经攒够了，等考完试就结束这一切", None, 6, True),
    ("我刚吃了一整瓶安眠药，头好晕，对不起大家", None, 6, True),
    ("这是我最后一条微博了，谢谢你们陪我走到这里", None, 6, True),
]


def test_clear_cut_cases_of_the_default_models(default_models: dict) -> None:  # type: ignore[type-arg]
    answers = assess(
        [c[0] for c in CLEAR_CUT], level_model=default_models["level"], binary_model=default_models["binary"]
    )
    for (post, highest, lowest, high), answer in zip(CLEAR_CUT, answers, strict=True):
        assert answer.risk_level is not None
        if highest is not None:
            assert answer.risk_level <= highest, post
        if lowest is not None:
            assert answer.risk_level >= lowest and answer.in_scope, post
        if high is not None:
            assert answer.high_risk is high, post
    assert answers[0].in_scope is False and answers[0].scope_reason == "out_of_scope"


def test_default_models_on_held_out_ordinary_text(default_models: dict, ordinary_home: Path) -> None:  # type: ignore[type-arg]
    """The issue's targets on a fixed sample of held-out ordinary text: <= 1% at level 6+, <= 2% high risk."""
    from sosrisk.scope.corpora import SOURCES, read_source
    from sosrisk.scope.training import _stable_sample

    texts = []
    for name in SOURCES:
        texts += _stable_sample(read_source(name, part="heldout", root=ordinary_home / "ordinary"), 300, "test")
    answers = assess(texts, level_model=default_models["level"], binary_model=default_models["binary"])
    levels = np.array([a.risk_level for a in answers])
    high = np.array([bool(a.high_risk) for a in answers])
    assert (levels >= 6).mean() <= 0.01
    assert high.mean() <= 0.02
    assert all(a.risk_level == 0 and not a.high_risk for a in answers if not a.in_scope)


def test_behaviour_command_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["behaviour", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'empty'} is not a model directory (config.json is missing) and holds no level/ or "
        "binary/ model directory. Pass a folder written by 'sosrisk train --out'.\n"
    )
    assert "Traceback" not in result.output


def test_the_command_offers_every_suite() -> None:
    """The CLI offers every suite of the one list (sosrisk.suites) and 'all', without importing the models."""
    import subprocess
    import sys

    from sosrisk.cli.behaviour import behaviour

    suite_option = next(p for p in behaviour.params if p.name == "suite")
    assert list(suite_option.type.choices) == [*SUITES, "all"]  # type: ignore[attr-defined]
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, sosrisk.cli.behaviour; print('sosrisk.assess' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"
