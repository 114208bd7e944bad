"""The fine-tuning loop of the encoder kind: schedule, early stopping, checkpoints, resuming (tiny local BERT)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason='the encoder kind needs torch: pip install "sosrisk[transformers]"')
pytest.importorskip("transformers", reason='the encoder kind needs transformers: pip install "sosrisk[transformers]"')

from sosrisk.models import ModelError
from sosrisk.models.encoder import EncoderModel
from sosrisk.models.encoder_recipes import RECIPES
from sosrisk.models.encoder_training import CHECKPOINT_FORMAT, lr_factor, validation_split
from tiny_bert import TEXTS, build_tiny_bert

POSTS = [f"{text}{i}" for i in range(3) for text in TEXTS]
LEVELS = [i % 11 for i in range(len(POSTS))]
FAST = {"epochs": 3, "batch_size": 8, "validation_fraction": 0.3}
TRAIN_POSTS = len(POSTS) - round(len(POSTS) * 0.3)  # the rest is the validation split
BATCHES = -(-TRAIN_POSTS // 8)  # per epoch, at batch size 8


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


class Interrupted(EncoderModel):
    """Stops after epoch 2, as a kill would (its checkpoint of epoch 2 is written)."""

    def _after_epoch(self, epoch: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt


@pytest.mark.parametrize("frozen", [1, 0], ids=["cached frozen layer", "whole network"])
def test_a_resumed_run_is_the_uninterrupted_run_to_the_bit(tiny_bert: Path, tmp_path: Path, frozen: int) -> None:
    settings = {"backbone": str(tiny_bert), **FAST, "freeze_layers": frozen}
    reference = EncoderModel(task="level", **settings).fit(POSTS, LEVELS)
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        Interrupted(task="level", checkpoint_dir=checkpoints, **settings).fit(POSTS, LEVELS)
    state = json.loads((checkpoints / "state.json").read_text(encoding="utf-8"))
    assert state["epoch"] == 2 and state["format"] == CHECKPOINT_FORMAT
    # the optimizer's and the scheduler's own state: the scheduler is at the optimizer's step count
    assert state["scheduler"]["last_epoch"] == state["step"] == 2 * BATCHES
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "optimizer.safetensors",
        "state.json",
        "trainable.safetensors",
    ]
    with pytest.raises(ModelError, match="holds the checkpoint of an earlier, unfinished training run"):
        EncoderModel(task="level", checkpoint_dir=checkpoints, **settings).fit(POSTS, LEVELS)
    resumed = EncoderModel(task="level", checkpoint_dir=checkpoints, resume=True, **settings).fit(POSTS, LEVELS)
    assert [r["epoch"] for r in resumed.training_["history"]] == [1, 2, 3]
    assert resumed.training_["history"] == reference.training_["history"]
    np.testing.assert_array_equal(resumed.predict_proba(POSTS), reference.predict_proba(POSTS))
    other = {**settings, "learning_rate": 1e-3}
    with pytest.raises(ModelError, match="belongs to another run"):
        EncoderModel(task="level", checkpoint_dir=checkpoints, resume=True, **other).fit(POSTS, LEVELS)


def test_a_checkpoint_of_the_earlier_format_is_refused_with_the_fix(tiny_bert: Path, tmp_path: Path) -> None:
    settings = {"backbone": str(tiny_bert), **FAST, "freeze_layers": 0}
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        Interrupted(task="level", checkpoint_dir=checkpoints, **settings).fit(POSTS, LEVELS)
    state = json.loads((checkpoints / "state.json").read_text(encoding="utf-8"))
    for entry in ("format", "optimizer", "scheduler"):  # what sosrisk wrote before the optimizer's state_dict
        del state[entry]
    (checkpoints / "state.json").write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        EncoderModel(task="level", checkpoint_dir=checkpoints, resume=True, **settings).fit(POSTS, LEVELS)
    assert str(caught.value) == (
        f"The checkpoint in {checkpoints} was written by an earlier sosrisk in another format (expected format 2, "
        "got 1). Fix: delete the folder and train again."
    )


def test_the_learning_rate_warms_up_then_decays_linearly(tiny_bert: Path, tmp_path: Path) -> None:
    recipe = RECIPES["fast"]
    factor = lr_factor(recipe, total_steps=20)  # warm-up: 10% of 20 steps
    assert [factor(step) for step in (0, 1, 2, 3, 19, 20)] == [0.5, 1.0, 1.0, 17 / 18, 1 / 18, 0.0]
    constant = lr_factor(RECIPES["sos1k-paper"], total_steps=20)
    assert {constant(step) for step in range(20)} == {1.0}
    # inside a run: after epoch 2 the optimizer holds the rate of its next step
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        Interrupted(task="level", backbone=str(tiny_bert), checkpoint_dir=checkpoints, **FAST, freeze_layers=0).fit(
            POSTS, LEVELS
        )
    state = json.loads((checkpoints / "state.json").read_text(encoding="utf-8"))
    assert state["step"] == 2 * BATCHES
    expected = recipe.learning_rate * lr_factor(recipe, BATCHES * FAST["epochs"])(state["step"])
    encoder_group, head_group = state["optimizer"]["param_groups"]
    assert encoder_group["lr"] == pytest.approx(expected, rel=1e-12)
    assert head_group["lr"] == pytest.approx(expected * recipe.head_lr_multiplier, rel=1e-12)


def test_gradient_accumulation_takes_one_step_per_group_of_batches(tiny_bert: Path, tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    settings = {**FAST, "batch_size": 4, "gradient_accumulation": 3, "freeze_layers": 0}
    with pytest.raises(KeyboardInterrupt):
        Interrupted(task="level", backbone=str(tiny_bert), checkpoint_dir=checkpoints, **settings).fit(POSTS, LEVELS)
    state = json.loads((checkpoints / "state.json").read_text(encoding="utf-8"))
    batches = -(-TRAIN_POSTS // 4)
    assert state["step"] == 2 * -(-batches // 3)


def test_paper_recipe_stops_early_on_validation_loss_and_keeps_the_best_epoch(tiny_bert: Path) -> None:
    settings = {"epochs": 6, "patience": 1, "learning_rate": 0.05, "batch_size": 8}  # lr high enough to overfit
    model = EncoderModel(task="level", backbone=str(tiny_bert), recipe="sos1k-paper", **settings).fit(POSTS, LEVELS)
    recipe = model.settings()
    assert (recipe.select, recipe.schedule, recipe.max_length, recipe.validation_fraction) == (
        "best_val_loss",
        "constant",
        150,
        0.2,
    )
    history = model.training_["history"]
    losses = [record["val_loss"] for record in history]
    assert model.training_["best_epoch"] == 1 + int(np.argmin(losses))
    assert len(history) <= 6
    if len(history) < 6:  # stopped early: the last epoch did not improve on the best
        assert losses[-1] >= min(losses)
    assert "and the epoch, by validation loss" in model.cv_metrics_["protocol"]


def test_validation_split_is_stratified_and_reproducible() -> None:
    labels = np.array([0] * 20 + [1] * 10)
    train, val = validation_split(labels, 0.2, seed=3)
    assert len(val) == 6 and sorted(labels[val].tolist()) == [0, 0, 0, 0, 1, 1]
    assert set(train) | set(val) == set(range(30)) and not set(train) & set(val)
    again = validation_split(labels, 0.2, seed=3)
    np.testing.assert_array_equal(again[1], val)
