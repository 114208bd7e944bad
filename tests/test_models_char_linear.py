"""The char-linear model: exact features, training, decision rules, the model directory, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from conftest import tiny_dataset
from sosrisk.models import DecisionRule, ModelError, NotFittedError, load_model
from sosrisk.models.char_linear import CharLinearModel, CharNgramFeaturizer

# a NUL takes the text-by-text path of CharNgramFeaturizer._joined_points (NUL is its separator)
MESSY = [
    "我  想\n\n死 ABC",
    "",
    "🌚🌚 emoji 好",
    "a",
    "Tab\tand\u3000ideographic  space",
    "刚刚吃了药。。。",
    "nul\x00  想死",
]


@pytest.mark.parametrize(("ngram_range", "sublinear"), [((1, 2), True), ((1, 3), False), ((2, 4), True)])
def test_featurizer_reproduces_sklearn(ngram_range: tuple[int, int], sublinear: bool) -> None:
    texts, _ = tiny_dataset()
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, sublinear_tf=sublinear)
    vectorizer.fit(texts + MESSY[:1])
    ngrams = vectorizer.get_feature_names_out()
    featurizer = CharNgramFeaturizer(
        np.asarray(ngrams, dtype=f"<U{ngram_range[1]}"),
        vectorizer.idf_,
        ngram_range=ngram_range,
        sublinear_tf=sublinear,
    )
    # whole batches (one pass), a batch with a NUL (text by text), one text, texts without characters
    for queries in (texts[:7] + MESSY[:-1], texts[:7] + MESSY, MESSY[2:3], ["", ""]):
        expected = vectorizer.transform(queries).toarray()
        assert np.abs(featurizer.transform(queries).toarray() - expected).max() < 1e-12, queries


def test_the_code_table_finds_every_code_however_they_collide() -> None:
    from sosrisk.models.char_linear import _CodeTable

    rng = np.random.default_rng(0)
    codes = rng.choice(np.arange(1, 10**9, dtype=np.uint64), size=5000, replace=False)
    # codes that share a home slot, and a run of neighbouring ones: long probe chains
    table = _CodeTable(codes, np.arange(5000) * 3)
    crowded = np.concatenate([codes, np.arange(2 * 10**9, 2 * 10**9 + 300, dtype=np.uint64)])
    dense = _CodeTable(crowded, np.arange(len(crowded)))
    assert np.array_equal(table.lookup(codes), np.arange(5000) * 3)
    assert np.array_equal(dense.lookup(crowded[::-1]), np.arange(len(crowded))[::-1])
    absent = np.arange(10**9 + 1, 10**9 + 500, dtype=np.uint64)
    assert (table.lookup(absent) == -1).all() and (dense.lookup(absent) == -1).all()
    assert np.array_equal(_CodeTable(codes[:0], np.arange(0)).lookup(codes[:3]), [-1, -1, -1])
    with pytest.raises(ModelError, match="Two n-grams share the code 7"):
        _CodeTable(np.array([5, 7, 9, 7], dtype=np.uint64), np.arange(4))


@pytest.fixture(scope="module")
def level_model() -> CharLinearModel:
    texts, labels = tiny_dataset("level")
    return CharLinearModel(task="level", cv_folds=3).fit(texts, labels)


def test_fit_predict_shapes_and_probabilities(level_model: CharLinearModel) -> None:
    proba = level_model.predict_proba(["好想死", "今天好累", "我已经吃了一整瓶药"])
    assert proba.shape == (3, 11)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert level_model.predict(["好想死"]).tolist()[0] in range(11)
    assert level_model.predict_one("我已经吃了一整瓶药了，再见") >= 8
    assert level_model.predict_proba([]).shape == (0, 11)


def test_round_trip_writes_exact_config(level_model: CharLinearModel, tmp_path: Path) -> None:
    level_model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "README.md",
        "config.json",
        "training_membership.npz",
        "weights.npz",
    ]
    config = json.loads((tmp_path / "m" / "config.json").read_text("utf-8"))
    assert set(config) == {
        "format_version",
        "sosrisk_version",
        "kind",
        "task",
        "labels",
        "label_names",
        "params",
        "calibration",
        "decision",
        "training",
        "cv_metrics",
        "files",
        "scope",
    }
    assert config["scope"] is None  # fitted directly, not through train_model: no scope stage
    assert config["format_version"] == 1
    assert config["kind"] == "char-linear"
    assert config["task"] == "level"
    assert config["labels"] == list(range(11))
    assert config["params"] == {
        "ngram_range": [1, 2],
        "min_df": 1,
        "sublinear_tf": True,
        "C": 1.0,
        "class_weight": "balanced",
        "decision": "auto",
        "target_recall": 0.8,
        "cv_folds": 3,
        "seed": 0,
        "tol": 0.001,
    }
    assert config["files"] == {
        "weights": "weights.npz",
        "training_membership": "training_membership.npz",
        "model_card": "README.md",
    }
    assert config["calibration"]["temperature"] == level_model.temperature_
    assert config["decision"] == level_model.decision_.to_dict()
    texts, _ = tiny_dataset("level")
    assert config["training"]["n_posts"] == len(texts)
    assert config["training"]["data_fingerprint"].startswith("sha256:")
    assert set(config["cv_metrics"]["oof"]) >= {"weighted_f1", "qwk", "mae", "within_one", "ece"}
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, CharLinearModel)
    probe = ["好想死", "明天就跳下去", "考试没考好"]
    assert np.array_equal(loaded.predict_proba(probe), level_model.predict_proba(probe))
    assert np.array_equal(loaded.predict(probe), level_model.predict(probe))


def test_same_data_same_fingerprint(level_model: CharLinearModel) -> None:
    texts, labels = tiny_dataset("level")
    again = CharLinearModel(task="level", cv_folds=3).fit(list(reversed(texts)), list(reversed(labels)))
    assert again.training_["data_fingerprint"] == level_model.training_["data_fingerprint"]


def test_binary_threshold_meets_target_recall_out_of_fold() -> None:
    texts, labels = tiny_dataset("binary", copies=3)
    model = CharLinearModel(task="binary", target_recall=0.9, cv_folds=3).fit(texts, labels)
    assert model.decision_.rule == "threshold"
    selection = model.cv_metrics_["selection"]
    assert selection["oof_high_risk_recall"] >= selection["recall_aimed_at"] > 0.9
    assert selection["target_recall"] == 0.9
    proba = model.predict_proba(["明天晚上就跳下去", "今天好累"])
    assert proba.shape == (2, 2)


def test_explain_gives_exact_spans(level_model: CharLinearModel) -> None:
    text = "我  已经吃了一整瓶药了"
    contributions = level_model.explain(text, top_k=50)
    assert contributions, "a high-risk text should have phrases that raise its level"
    for c in contributions:
        assert c.weight > 0
        assert text[c.start : c.end].lower().replace("  ", " ") == c.ngram or " " in c.ngram
    weights = [c.weight for c in contributions]
    assert weights == sorted(weights, reverse=True)


def test_decision_rules() -> None:
    proba = np.array([[0.4, 0.0, 0.0, 0.3, 0.3]])
    classes = np.arange(5)
    assert DecisionRule("argmax").decide(proba, classes).tolist() == [0]
    # expected absolute distance: k=3 -> 0.4*3 + 0.3*1 = 1.5 is the smallest
    assert DecisionRule("expected_cost").decide(proba, classes).tolist() == [3]
    assert DecisionRule("threshold", threshold=0.3).decide(np.array([[0.7, 0.3]]), np.arange(2)).tolist() == [1]
    cost = DecisionRule("expected_cost", under_weight=2.0, zero_one=1.0).cost_matrix(3)
    assert cost.tolist() == [[0, 2, 3], [3, 0, 2], [5, 3, 0]]
    with pytest.raises(ValueError) as info:
        DecisionRule("median")
    assert str(info.value) == (
        "The 'rule' of a DecisionRule must be one of ('argmax', 'expected_cost', 'threshold'). Got 'median' instead."
    )


def test_level_rule_criterion_is_best_qwk_within_the_f1_tolerance() -> None:
    from sosrisk.models.decision import select_level_rule

    # (weighted F1, QWK): the best F1 is 0.50; 0.495 is within 0.01 and has the best QWK; 0.48 is not
    assert select_level_rule([(0.50, 0.40), (0.495, 0.55), (0.48, 0.70)]) == 1
    assert select_level_rule([(0.50, 0.40), (0.495, 0.55), (0.48, 0.70)], max_f1_loss=0.05) == 2
    assert select_level_rule([(0.50, 0.40), (0.50, 0.40)]) == 0  # a tie goes to the earlier candidate


def test_binary_threshold_aims_above_the_target_on_few_posts() -> None:
    from sosrisk.models.decision import choose_binary_threshold, recall_to_aim_for

    # 25 high-risk posts scored 0.99, 0.98, ..., 0.75 and 25 low-risk posts scored 0.50 ... 0.02
    p_high = np.concatenate([np.linspace(0.99, 0.75, 25), np.linspace(0.50, 0.02, 25)])
    proba, y = np.column_stack([1 - p_high, p_high]), np.repeat([1, 0], 25)
    # z(0.8) = 0.8416: 0.8 + 0.8416 * sqrt(0.16 / 25) = 0.8673, so 22 of the 25 must reach the threshold
    assert recall_to_aim_for(0.8, 25) == pytest.approx(0.8673, abs=1e-4)
    assert recall_to_aim_for(0.8, 25, confidence=0.5) == pytest.approx(0.8)
    assert recall_to_aim_for(0.8, 2500) == pytest.approx(0.8067, abs=1e-4)  # the margin shrinks with n
    assert recall_to_aim_for(0.99, 4) == 1.0  # capped
    rule, report = choose_binary_threshold(proba, y, target_recall=0.8)
    assert rule.threshold == pytest.approx((0.78 + 0.77) / 2)  # between the 22nd and 23rd high-risk posts
    assert report["oof_high_risk_recall"] == pytest.approx(22 / 25)
    assert report["recall_aimed_at"] == pytest.approx(0.8673, abs=1e-4)
    # aimed at the target itself: 20 of 25, between the 20th (0.80) and the 21st (0.79)
    rule, report = choose_binary_threshold(proba, y, target_recall=0.8, confidence=0.5)
    assert rule.threshold == pytest.approx((0.80 + 0.79) / 2)
    assert report["oof_high_risk_recall"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="confidence must be within"):
        recall_to_aim_for(0.8, 25, confidence=1.0)


def test_unfitted_model_error() -> None:
    with pytest.raises(NotFittedError) as info:
        CharLinearModel().predict(["好累"])
    assert str(info.value) == (
        "This CharLinearModel is not fitted yet. Call 'fit' with training data, or load a model directory "
        "with sosrisk.load_model(path)."
    )


def test_bad_parameters_and_labels(level_model: CharLinearModel) -> None:
    texts, labels = tiny_dataset("level")
    with pytest.raises(ModelError) as info:
        CharLinearModel(class_weight="auto").fit(texts, labels)
    assert str(info.value) == (
        "The 'class_weight' parameter of char-linear must be a str among {'balanced', 'none'}. Got 'auto' instead."
    )
    with pytest.raises(ModelError) as info:
        CharLinearModel(task="binary").fit(texts, labels)
    assert str(info.value) == (
        "Labels [2, 3, 4, 5, 6, 7, 8, 9, 10] are not labels of the 'binary' task; expected values in [0, 1]."
    )
    with pytest.raises(ModelError) as info:
        level_model.fit("好累", [0])
    assert str(info.value) == "Expected a list of texts, got a single str. Wrap it in a list or use predict_one()."


def test_one_text_gives_one_answer_and_a_list_a_batch(level_model: CharLinearModel) -> None:
    batch = ["好累", "我已经吃了一整瓶药了，再见"]
    labels, proba = level_model.predict(batch), level_model.predict_proba(batch)
    assert labels.shape == (2,) and proba.shape == (2, 11)
    one = level_model.predict(batch[1])
    assert type(one) is int and one == labels[1] == level_model.predict_one(batch[1])
    assert level_model.predict_proba(batch[1]).shape == (11,)
    np.testing.assert_array_equal(level_model.predict_proba(batch[1]), proba[1])


def test_model_directory_errors(level_model: CharLinearModel, tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        load_model(tmp_path / "missing")
    assert str(info.value) == f"No model directory at {tmp_path / 'missing'}: expected a folder with config.json."
    directory = level_model.save(tmp_path / "m")
    config = json.loads((directory / "config.json").read_text("utf-8"))
    config["format_version"] = 99
    (directory / "config.json").write_text(json.dumps(config), "utf-8")
    with pytest.raises(ModelError) as info:
        load_model(directory)
    assert "format_version 99 is not supported" in str(info.value)
    config["format_version"] = 1
    config["pickle"] = "model.pkl"
    (directory / "config.json").write_text(json.dumps(config), "utf-8")
    with pytest.raises(ModelError) as info:
        load_model(directory)
    assert str(info.value) == (
        f"{directory / 'config.json'}: unknown fields ['pickle']; this file was not written by sosrisk."
    )
    del config["pickle"]
    config["kind"] = "gpt-9"
    (directory / "config.json").write_text(json.dumps(config), "utf-8")
    with pytest.raises(ModelError) as info:
        load_model(directory)
    from sosrisk.models import available_kinds

    assert str(info.value) == f"Unknown model kind 'gpt-9'; known model kinds: {', '.join(available_kinds())}."


def test_weights_with_pickled_objects_are_refused(level_model: CharLinearModel, tmp_path: Path) -> None:
    directory = level_model.save(tmp_path / "m")
    np.savez(
        directory / "weights.npz",
        ngrams=np.array([object()], dtype=object),
        idf=np.zeros(1),
        coef=np.zeros((11, 1)),
        intercept=np.zeros(11),
    )
    with pytest.raises(ModelError) as info:
        load_model(directory)
    assert str(info.value) == (
        f"{directory / 'weights.npz'}: array 'ngrams' holds Python objects, which would have to be unpickled; "
        "refused. Restore the model directory from where it came, or train the model again."
    )


def test_training_overlap_is_recognised_after_loading(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    model = CharLinearModel(task="level", cv_folds=3).fit(texts, labels)
    loaded = load_model(model.save(tmp_path / "m"))
    overlap = loaded.training_overlap([texts[0], " ".join(texts[1]), "从没见过的新句子"])
    assert overlap.mask is not None and overlap.mask.tolist() == [True, True, False]
    assert overlap.note == "checked with this machine's key"


def test_weights_of_one_train_the_same_model_as_no_weights() -> None:
    texts, labels = tiny_dataset("level")
    plain = CharLinearModel(task="level").fit(texts, labels)
    ones = CharLinearModel(task="level").fit(texts, labels, sample_weight=np.ones(len(texts)))
    np.testing.assert_allclose(ones.coef_, plain.coef_, atol=1e-6)  # type: ignore[arg-type]
    np.testing.assert_allclose(ones.predict_proba(texts), plain.predict_proba(texts), atol=1e-6)


def test_class_balance_is_taken_on_weighted_totals() -> None:
    texts, labels = tiny_dataset("binary")
    y = np.asarray(labels)
    plain = CharLinearModel(task="binary").fit(texts, labels, sample_weight=np.ones(len(texts)))
    # one class's posts weighted 0.5 and the other's up so that all weigh as many posts as before: balanced on
    # weighted totals, every post weighs what it did, so nothing changes
    n, n1 = len(y), int((y == 1).sum())
    shifted = np.where(y == 1, 0.5, (n - 0.5 * n1) / (n - n1))
    same = CharLinearModel(task="binary").fit(texts, labels, sample_weight=shifted)
    np.testing.assert_allclose(same.coef_, plain.coef_, atol=1e-4)  # type: ignore[arg-type]
    # one post weighted up inside its class: the model leans towards that post's label on it
    post = int(np.flatnonzero(y == 1)[0])
    heavier = np.ones(len(texts))
    heavier[post] = 20.0
    leaning = CharLinearModel(task="binary").fit(texts, labels, sample_weight=heavier)

    def margin(model: CharLinearModel) -> float:  # raw logit of high risk over low; the tiny data saturates
        logits = model._logits([texts[post]], batch_size=1)[0]
        return float(logits[1] - logits[0])

    assert margin(leaning) > margin(plain) + 0.1


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (np.ones(3), "one sample weight per text"),
        ("heavy", "one sample weight per text|to be numbers"),
        (np.r_[0.0, np.ones(39)], "the weight of text 0 is 0.0"),
        (np.r_[np.ones(39), np.nan], "the weight of text 39 is nan"),
    ],
)
def test_bad_sample_weights_are_refused(weight: object, message: str) -> None:
    texts, labels = tiny_dataset("binary")
    texts, labels = texts[:40], labels[:40]
    with pytest.raises(ModelError, match=message):
        CharLinearModel(task="binary").fit(texts, labels, sample_weight=weight)  # type: ignore[arg-type]
