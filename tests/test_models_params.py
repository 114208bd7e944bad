"""The estimator contract of every model kind: parameters declared once, get/set_params, clone, validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from conftest import tiny_dataset
from sosrisk.models import ModelError, NotFittedError, get_model_class, load_model
from sosrisk.models.char_linear import CharLinearModel
from sosrisk.models.params import Either, Interval, Options, Satisfies, Text, none_or

# every kind with settings other than its defaults (nothing here loads a backbone)
KINDS: dict[str, dict[str, Any]] = {
    "char-linear": {"task": "binary", "ngram_range": [1, 3], "C": 3.0, "cv_folds": 3},
    "embedding-linear": {
        "task": "level",
        "backbone": "some/checkpoint",
        "C": 0.01,
        "max_length": 64,
        "layers": [6, 9, 12],
        "combine_layers": "concat",
        "head": "ordinal",
    },
    "use-linear": {"task": "binary", "C": 0.01, "cv_folds": 3},
    "encoder": {"task": "level", "backbone": "e5-small", "epochs": 2, "learning_rate": 3e-5, "training_seed": 4},
    "ensemble": {"task": "binary", "members": ["char-linear", "char-linear"], "weights": [2, 1]},
    "best": {"task": "level", "validation_fraction": 0.2},
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_clone_gives_an_unfitted_model_with_the_same_parameters(kind: str) -> None:
    model = get_model_class(kind)(**KINDS[kind])
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model
    assert copy.get_params() == model.get_params()
    for name, value in KINDS[kind].items():
        assert copy.get_params()[name] == value
    assert not copy.is_fitted


@pytest.mark.parametrize("kind", list(KINDS))
def test_get_params_and_set_params_round_trip(kind: str) -> None:
    cls = get_model_class(kind)
    model = cls(**KINDS[kind])
    params = model.get_params()
    assert set(params) == set(cls._get_param_names()) == set(cls._parameter_constraints)
    rebuilt = cls(**params)
    assert rebuilt.get_params() == params
    fresh = cls()
    assert fresh.set_params(**params) is fresh
    assert fresh.get_params() == params
    model._validate_params()  # every declared setting is within its constraint
    with pytest.raises(ModelError) as caught:
        fresh.set_params(no_such_setting=1)
    assert str(caught.value) == (
        f"Invalid parameter 'no_such_setting' for the {cls.kind} model. Valid parameters are: "
        f"{cls._get_param_names()!r}."
    )


@pytest.mark.parametrize(
    ("kind", "setting", "message"),
    [
        ("char-linear", {"min_df": 0}, "The 'min_df' parameter of char-linear must be an int >= 1. Got 0 instead."),
        (
            "char-linear",
            {"ngram_range": (3, 1)},
            "The 'ngram_range' parameter of char-linear must be None or two ints 1 <= min <= max <= 4. Got (3, 1) "
            "instead.",
        ),
        (
            "char-linear",
            {"task": "levels"},
            "The 'task' parameter of char-linear must be a str among {'level', 'binary'}. Got 'levels' instead.",
        ),
        (
            "embedding-linear",
            {"max_length": 4},
            "The 'max_length' parameter of embedding-linear must be an int in [8, 512]. Got 4 instead.",
        ),
        (
            "embedding-linear",
            {"layers": [6, True]},
            "The 'layers' parameter of embedding-linear must be None or a non-empty list of distinct ints (layer "
            "numbers: 0 the embeddings, 1 the first layer, -1 the last). Got [6, True] instead.",
        ),
        (
            "use-linear",
            {"head": "corn"},
            "The 'head' parameter of use-linear must be a str among {'softmax', 'ordinal'}. Got 'corn' instead.",
        ),
        (
            "use-linear",
            {"class_weight": "auto"},
            "The 'class_weight' parameter of use-linear must be a str among {'balanced', 'none'}. Got 'auto' instead.",
        ),
        ("encoder", {"epochs": 0}, "The 'epochs' parameter of encoder must be None or an int >= 1. Got 0 instead."),
        (
            "encoder",
            {"dropout": 1.0},
            "The 'dropout' parameter of encoder must be None or a number in [0, 1). Got 1.0 instead.",
        ),
        (
            "ensemble",
            {"validation_fraction": 0.5},
            "The 'validation_fraction' parameter of ensemble must be a number in (0, 0.5). Got 0.5 instead.",
        ),
    ],
)
def test_bad_parameters_are_refused_in_fit_with_the_allowed_values(
    kind: str, setting: dict[str, Any], message: str
) -> None:
    model = get_model_class(kind)(**setting)  # __init__ only stores
    texts, labels = tiny_dataset("level")
    with pytest.raises(ModelError) as caught:
        model.fit(texts, labels)
    assert str(caught.value) == message


def test_task_defaults_are_resolved_where_used_and_written_to_config(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("binary")
    model = CharLinearModel(task="binary", cv_folds=3)
    assert model.C is None and model.resolved("C") == 10.0 and model.resolved("ngram_range") == (1, 2)
    model.fit(texts, labels)
    config = json.loads((model.save(tmp_path / "m") / "config.json").read_text("utf-8"))
    assert config["params"]["C"] == 10.0 and config["params"]["ngram_range"] == [1, 2]
    loaded = load_model(tmp_path / "m")
    assert loaded.get_params()["C"] == 10.0  # a directory says what was used, not "the default"
    config["params"]["tolerance"] = 1e-4
    (tmp_path / "m" / "config.json").write_text(json.dumps(config), "utf-8")
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path / "m")
    assert str(caught.value) == (
        f"{tmp_path / 'm' / 'config.json'}: field 'params': Unknown char-linear params ['tolerance'] in config.json."
    )


def test_scikit_learn_cross_validates_a_model_on_texts() -> None:
    texts, labels = tiny_dataset("binary")
    scores = cross_val_score(CharLinearModel(task="binary", cv_folds=3), texts, labels, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    fitted = CharLinearModel(task="binary", cv_folds=3).fit(texts, labels)
    assert fitted.score(texts, labels) == pytest.approx(float(np.mean(fitted.predict(texts) == np.array(labels))))
    with pytest.raises(NotFittedError):
        clone(fitted).predict(texts)


def test_repr_shows_the_settings_that_differ_from_the_defaults() -> None:
    assert repr(CharLinearModel()) == "CharLinearModel()"
    assert repr(CharLinearModel(task="binary", C=3)) == "CharLinearModel(C=3, task='binary')"


def test_constraints_say_what_they_accept() -> None:
    assert Interval(0, 1, closed="right").describe() == "a number in (0, 1]"
    assert Interval(1, None, integer=True).describe() == "an int >= 1"
    assert Options(("a", "b")).describe() == "a str among {'a', 'b'}"
    assert none_or(Text(non_empty=True)).describe() == "None or a non-empty str"
    assert Either((Options(("auto",)), Interval(0, None))).describe() == "a str among {'auto'} or a number >= 0"
    assert not Interval(0, 1).accepts(True) and not Interval(0, 1).accepts(float("nan"))
    assert not Options((1,)).accepts(True)  # True == 1, but it is not the option
    assert not Satisfies("a str after a", lambda value: value > "a").accepts(1)  # TypeError: not accepted
