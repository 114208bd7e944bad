"""Tests of the ``ensemble`` kind (char-linear + a tiny BERT encoder built in ``tmp_path``) and ``--model best``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason='ensembles with encoders need torch: pip install "sosrisk[transformers]"')
pytest.importorskip(
    "transformers", reason='ensembles with encoders need transformers: pip install "sosrisk[transformers]"'
)

from sosrisk.models import ModelError, get_model_class, load_model
from sosrisk.models.ensemble import BEST_PARAMS, EnsembleModel, choose_weights, simplex_grid
from sosrisk.training import make_model
from tiny_bert import TEXTS, build_tiny_bert

POSTS = [f"{text}{i}" for i in range(4) for text in TEXTS]
BINARY = [int(("死" in t) or ("走" in t) or ("药" in t) or ("累" in t)) for t in POSTS]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def members(tiny_bert: Path) -> list[dict]:
    encoder = {
        "kind": "encoder",
        "params": {"backbone": str(tiny_bert), "epochs": 1, "batch_size": 8, "freeze_layers": 0},
    }
    return [{"kind": "char-linear", "params": {"cv_folds": 3}}, encoder]


@pytest.fixture(scope="module")
def ensemble(tiny_bert: Path) -> EnsembleModel:
    model = make_model("ensemble", "binary", {"members": members(tiny_bert), "validation_fraction": 0.25})
    assert isinstance(model, EnsembleModel)
    return model.fit(POSTS, BINARY)


def test_fit_predicts_probabilities_and_records_members(ensemble: EnsembleModel) -> None:
    proba = ensemble.predict_proba(POSTS[:6])
    assert proba.shape == (6, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert ensemble.weights_ is not None and ensemble.weights_.tolist() == [0.5, 0.5]
    assert set(ensemble.cv_metrics_["members"]) == {"0-char-linear", "1-encoder"}
    assert ensemble.decision_.rule == "threshold"
    assert len(ensemble.member_probabilities(POSTS[:3])) == 2


def test_round_trip_writes_the_exact_config_and_member_directories(
    ensemble: EnsembleModel, tiny_bert: Path, tmp_path: Path
) -> None:
    ensemble.save(tmp_path / "e")
    config = json.loads((tmp_path / "e" / "config.json").read_text(encoding="utf-8"))
    assert config["kind"] == "ensemble"
    assert config["params"] == {
        "members": members(tiny_bert),
        "weights": "even",
        "validation_fraction": 0.25,
        "seed": 0,
        "decision": "auto",
        "target_recall": 0.8,
    }
    assert config["files"]["member_0"] == "members/0-char-linear"
    assert config["files"]["member_1"] == "members/1-encoder"
    assert config["files"]["combination"] == "combination.json"
    member_config = json.loads((tmp_path / "e" / "members" / "1-encoder" / "config.json").read_text(encoding="utf-8"))
    assert member_config["params"]["settings"]["validation_fraction"] == 0.25  # the ensemble's split
    loaded = load_model(tmp_path / "e")
    assert isinstance(loaded, EnsembleModel)
    np.testing.assert_allclose(loaded.predict_proba(POSTS), ensemble.predict_proba(POSTS), atol=1e-6)
    np.testing.assert_array_equal(loaded.weights_, ensemble.weights_)


def test_loading_checks_the_member_kinds(ensemble: EnsembleModel, tmp_path: Path) -> None:
    ensemble.save(tmp_path / "e")
    config_path = tmp_path / "e" / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["params"]["members"][0]["kind"] = "embedding-linear"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(
        ModelError, match="expected a 'embedding-linear' model for the 'binary' task, got a 'char-linear'"
    ):
        load_model(tmp_path / "e")


@pytest.mark.slow
def test_fixed_weights_and_bad_parameters(tiny_bert: Path) -> None:
    with pytest.raises(ModelError, match="must be 'even', 'auto' or 2 non-negative numbers"):
        EnsembleModel(task="binary", members=members(tiny_bert), weights=[1.0]).fit(POSTS, BINARY)
    with pytest.raises(ModelError, match="must be a list of at least two"):
        EnsembleModel(task="binary", members=["char-linear"]).fit(POSTS, BINARY)
    with pytest.raises(ModelError, match="Ensemble member 1 is an ensemble"):
        EnsembleModel(task="binary", members=["char-linear", "ensemble"]).fit(POSTS, BINARY)
    model = EnsembleModel(task="binary", members=["char-linear", "char-linear"], weights=[3, 1])
    model.fit(POSTS, BINARY)
    np.testing.assert_allclose(model.weights_, [0.75, 0.25])
    fitted = EnsembleModel(task="binary", members=["char-linear", "char-linear"], weights="auto").fit(POSTS, BINARY)
    assert fitted.weights_ is not None and fitted.weights_.sum() == pytest.approx(1.0)


def test_weight_choice_prefers_the_better_member() -> None:
    y = np.array([0, 1, 1, 0, 1])
    good = np.eye(2)[y] * 0.8 + 0.1
    bad = np.full((5, 2), 0.5)
    assert choose_weights([good, bad], y).tolist() == [1.0, 0.0]
    assert simplex_grid(3, 0.5).tolist() == [
        [0, 0, 1],
        [0, 0.5, 0.5],
        [0, 1, 0],
        [0.5, 0, 0.5],
        [0.5, 0.5, 0],
        [1, 0, 0],
    ]


def test_best_resolves_to_the_winning_configuration_and_saves_as_an_ensemble() -> None:
    best = get_model_class("best")(task="level")
    assert best.kind == "ensemble"
    assert best.get_params()["members"] is None  # stored as given; resolved for the task where it is used
    assert best.config_params()["members"] == BEST_PARAMS["level"]["members"]
    assert best.config_params()["weights"] == "even"
    binary = get_model_class("best")(task="binary", weights=[1, 1, 2])
    assert binary.config_params()["weights"] == [1, 1, 2]
    assert binary.config_params()["members"] == BEST_PARAMS["binary"]["members"]
