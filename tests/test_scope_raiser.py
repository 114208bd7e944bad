"""The fine-tuned raiser: what it learns from, which posts it reads, what it raises, how it is saved and refused."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch", reason='the raiser needs torch: pip install "sosrisk[transformers]"')
pytest.importorskip("transformers", reason='the raiser needs transformers: pip install "sosrisk[transformers]"')

from scope_support import ORDINARY_POSTS, damaged_scope_errors, tiny_scoped_model
from sosrisk.assess import assess
from sosrisk.data.errors import DataError
from sosrisk.models import ModelError, load_model
from sosrisk.models.encoder import EncoderModel
from sosrisk.scope.danger import FAMILY, FLOOR, RAISER_RULE, RULE_DESCRIPTIONS
from sosrisk.scope.raiser import PROBES, RAISER_DIR, Raiser, probe_kind, probe_posts, read_probe, training_posts
from sosrisk.scope.stage import SCOPE_DIR, ScopeStage
from sosrisk.scope.training import ScopeSettings
from sosrisk.serve.settings import ServedModels
from sosrisk.training import make_model
from tiny_bert import build_tiny_bert

REPO = Path(__file__).resolve().parents[1]
# a plainly written act and a request for help for a friend, written for these tests (in no suite, probe or template)
ACT = "汽油已经倒在车里了，车门锁好了，打火机就在手边"
FRIEND = "我朋友说她把药都囤好了想自杀，我该怎么劝她，怎么帮她"


@pytest.fixture(scope="module")
def raised_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny level model whose stage has both nets and a raiser fine-tuned from a tiny random BERT."""
    folder = tmp_path_factory.mktemp("raiser")
    backbone = build_tiny_bert(folder / "tiny-bert")
    return tiny_scoped_model(
        "level",
        folder,
        danger_net=True,
        farewell_net=True,
        prefilter_retention=None,
        mine_gate_negatives=True,  # best's choice: its first round trains no nets, so no raiser either
        raiser=True,
        raiser_ordinary=10,
        raiser_model={"backbone": str(backbone), "epochs": 1, "batch_size": 64, "freeze_layers": 0},
    )


def test_the_read_probe_files_ship_in_the_package_and_each_is_a_known_kind() -> None:
    posts = probe_posts()
    assert len(posts) == 24 and all(posts.values())
    assert {probe_kind(stem) for stem in posts} == {"plain_acts", "quiet_farewells", "everyday_goodbyes"}
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["package-data"]
    assert "scope/probes/*.txt" in package_data["sosrisk"]
    assert PROBES == REPO / "src" / "sosrisk" / "scope" / "probes"
    assert not list((REPO / "benchmarks" / "probes").glob("*.txt")), "only the reserved, unread files stay there"
    with pytest.raises(ModelError, match="Unknown probe file 'suite_1'"):
        probe_kind("suite_1")


def test_a_blank_line_in_a_probe_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "plain_acts_9.txt"
    path.write_text("第一条\n\n第三条\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_probe(path)
    assert "plain_acts_9.txt:2: field 'text': a blank line" in str(error.value)


def test_the_training_posts_put_danger_first_and_count_every_part() -> None:
    probes = {"plain_acts_1": ["A"], "everyday_goodbyes_1": ["B", "C"], "quiet_farewells_1": ["D"]}
    texts, labels, counts = training_posts(
        ["A", "E"], ["E", "F"], [f"平常的一句话{i}" for i in range(20)], probes=probes, ordinary_posts=5
    )
    label = dict(zip(texts, labels.tolist(), strict=True))
    # a post in both groups keeps the danger label; each part is counted as given
    assert (label["A"], label["E"], label["B"], label["C"], label["D"], label["F"]) == (1, 1, 0, 0, 1, 0)
    assert counts["in:at_risk"] == 2 and counts["out:calm"] == 2 and counts["out:ordinary"] == 5
    assert counts["in:probe:plain_acts"] == counts["in:probe:quiet_farewells"] == 1
    assert counts["out:probe:everyday_goodbyes"] == 2 and counts["out:hard_negatives"] == 1500
    assert len(texts) == len(set(texts)) == len(labels)
    # the default: every probe file of the package
    _, _, default = training_posts([], [], [])
    assert default["in:probe:plain_acts"] == sum(len(p) for s, p in probe_posts().items() if s.startswith("plain"))


def test_the_raiser_is_trained_saved_as_safetensors_and_loaded(raised_model: Any, tmp_path: Path) -> None:
    stage = raised_model.scope_
    raiser = stage.raiser
    assert isinstance(raiser, Raiser) and isinstance(raiser.model, EncoderModel) and raiser.model.task == "binary"
    assert 0 <= raiser.threshold_ <= 1 and 0 <= raiser.danger_band_ <= 1 and 0 <= raiser.farewell_band_ <= 1
    report = raiser.report_
    assert report["quantile"] == 0.998 and report["band_quantile"] == 0.9
    assert report["ordinary_for_bar"] == report["ordinary_for_band"] - 10 > 0
    assert report["training_posts"]["out:ordinary"] == 10
    assert stage.describe()["fine_tuned_raiser"]["threshold"] == round(raiser.threshold_, 6)
    raised_model.save(tmp_path / "m")
    folder = tmp_path / "m" / SCOPE_DIR
    card = (tmp_path / "m" / "README.md").read_text("utf-8")
    assert "`scope/raiser/`: an encoder fine-tuned on the training posts" in card
    files = sorted(p.name for p in (folder / RAISER_DIR).rglob("*") if p.is_file())
    assert "model.safetensors" in files and not [f for f in files if f.endswith((".pkl", ".pickle", ".bin", ".pt"))]
    config = json.loads((folder / "scope.json").read_text("utf-8"))
    assert config["raiser"]["folder"] == RAISER_DIR and config["raiser"]["threshold"] == raiser.threshold_
    loaded = load_model(tmp_path / "m").scope_
    texts = [ACT, FRIEND, *ORDINARY_POSTS[:6]]
    assert loaded.raiser is not None and loaded.raiser.threshold_ == raiser.threshold_
    np.testing.assert_allclose(loaded.raiser.probability(texts), raiser.probability(texts), atol=1e-6)
    # damaged entries are refused, naming the file
    cases = (
        ({"folder": "elsewhere"}, "the 'raiser' entry must name the folder 'raiser'"),
        ({"threshold": 1.5}, "The raiser's 'threshold' must be a probability within [0, 1]. Got 1.5"),
        ({"danger_band": "high"}, "'danger_band' must be a probability"),
    )
    errors = damaged_scope_errors(tmp_path / "m", "raiser", [change for change, _ in cases])
    for (_, message), error in zip(cases, errors, strict=True):
        assert message in error and "scope.json" in error
    # a directory written before the raiser has no 'raiser' key; saving a stage without one removes the folder
    del config["raiser"]
    (folder / "scope.json").write_text(json.dumps(config), "utf-8")
    assert load_model(tmp_path / "m").scope_.raiser is None
    stage.raiser = None
    try:
        raised_model.save(tmp_path / "m")
    finally:
        stage.raiser = raiser
    assert not (folder / RAISER_DIR).exists()


def test_the_raiser_reads_only_its_band_and_raises_above_its_bar(raised_model: Any, monkeypatch: Any) -> None:
    stage: ScopeStage = raised_model.scope_
    raiser = stage.raiser
    assert raiser is not None
    read: list[list[str]] = []

    marked = ORDINARY_POSTS[0]  # an everyday post nothing raises: the stand-in model calls it danger

    def probability(texts: list[str]) -> np.ndarray:
        read.append(list(texts))
        return np.array([0.99 if t in (marked, FRIEND) else 0.01 for t in texts])

    monkeypatch.setattr(raiser, "probability", probability)
    monkeypatch.setattr(raiser, "threshold_", 0.5)
    texts = [ACT, FRIEND, "", marked, ORDINARY_POSTS[1]]
    # a band above every probability: the raiser reads nothing and nothing changes
    monkeypatch.setattr(raiser, "danger_band_", 1.0)
    monkeypatch.setattr(raiser, "farewell_band_", 1.0)
    without = stage.decide(texts)
    assert read == [] and not any(h.rule == RAISER_RULE for hits in without.rule_hits for h in hits)
    assert not without.in_scope[3] and without.floors[0] >= FLOOR, "the plain-danger net raises the act by itself"
    # every post in the band: it reads the filled posts nothing raised and that do not ask help for someone else
    monkeypatch.setattr(raiser, "danger_band_", -1.0)
    decision = stage.decide(texts)
    assert read == [[marked, ORDINARY_POSTS[1]]]
    raised = [any(h.rule == RAISER_RULE for h in hits) for hits in decision.rule_hits]
    assert raised == [False, False, False, True, False]
    assert decision.in_scope[3] and decision.floors[3] == FLOOR and not decision.in_scope[2]
    answers = assess(texts, level_model=raised_model)
    assert answers[3].in_scope and answers[3].risk_level >= FLOOR and not answers[4].in_scope
    hits = [{"family": h["family"], "rule": h["rule"]} for h in answers[3].rule_hits]
    assert hits == [{"family": FAMILY, "rule": RAISER_RULE}]
    # the API and the triage page list it with its description
    listed = {rule["rule"]: rule["description"] for rule in ServedModels(raised_model, None).scope_card()["rules"]}
    assert listed[RAISER_RULE] == RULE_DESCRIPTIONS[RAISER_RULE] and "fine-tuned" in listed[RAISER_RULE]


def test_bad_raiser_settings_and_parts_are_refused(raised_model: Any) -> None:
    for values, message in (
        ({"raiser": "yes"}, "'raiser' must be True, False or None"),
        ({"raiser": True, "farewell_net": False}, "it needs both"),
        ({"raiser_quantile": 0.3}, "'raiser_quantile' must be within [0.5, 1)"),
        ({"raiser_band_quantile": 1.0}, "'raiser_band_quantile' must be within [0.5, 1)"),
        ({"raiser_ordinary": -1}, "'raiser_ordinary' must be an int >= 0"),
        ({"raiser_model": ["epochs", 1]}, "'raiser_model' must be a dict"),
    ):
        with pytest.raises(ModelError) as error:
            ScopeSettings(**values)  # type: ignore[arg-type]
        assert message in str(error.value)
    # off unless a model kind chose it (best has for levels, where the stage has both nets for it to read)
    assert ScopeSettings().raiser is None and ScopeSettings().for_model({}).raiser is False
    best = type(make_model("best", "level")).scope_defaults_for("level")
    assert ScopeSettings().for_model(best).raiser is True
    assert ScopeSettings(farewell_net=False).for_model(best).raiser is False
    assert ScopeSettings(raiser=False).for_model(best).raiser is False
    assert ScopeSettings().for_model(make_model("char-linear", "level").scope_defaults).raiser is False
    # not for the binary task (judged blind on 2026-12-08: one held-out ordinary sentence more than its rule allowed);
    # asked for, it is trained, and the task's other choices stay the kind's
    best_binary = type(make_model("best", "binary")).scope_defaults_for("binary")
    assert ScopeSettings().for_model(best_binary).raiser is False
    assert ScopeSettings(raiser=True).for_model(best_binary).raiser is True
    assert ScopeSettings().for_model(best_binary).mine_gate_negatives is True
    stage = raised_model.scope_
    with pytest.raises(ModelError, match="it needs both"):
        ScopeStage(stage.gate, danger=stage.danger, raiser=stage.raiser)
    with pytest.raises(ModelError, match="must be a binary model"):
        Raiser(raised_model, threshold=0.5, danger_band=0.5, farewell_band=0.5)
