"""Tests of the ``encoder`` kind with a tiny randomly initialised BERT built in ``tmp_path`` (never downloaded)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason='the encoder kind needs torch: pip install "sosrisk[transformers]"')
pytest.importorskip("transformers", reason='the encoder kind needs transformers: pip install "sosrisk[transformers]"')

from click.testing import CliRunner

from sosrisk.cli import main
from sosrisk.models import ModelError, load_model
from sosrisk.models.encoder import RECIPES, EncoderModel
from sosrisk.models.encoder_backbone import PRESETS, check_preset, preset_report, resolve_encoder_backbone
from sosrisk.models.encoder_network import network_logits
from sosrisk.training import make_model
from tiny_bert import TEXTS, build_tiny_bert

POSTS = [f"{text}{i}" for i in range(3) for text in TEXTS]
LEVELS = [i % 11 for i in range(len(POSTS))]
BINARY = [i % 2 for i in range(len(POSTS))]
FAST = {"epochs": 2, "batch_size": 8, "validation_fraction": 0.3, "freeze_layers": 0}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def level_model(tiny_bert: Path) -> EncoderModel:
    model = make_model("encoder", "level", {"backbone": str(tiny_bert), **FAST})
    assert isinstance(model, EncoderModel)
    return model.fit(POSTS, LEVELS)


def test_training_steps_change_the_weights_and_record_history(tiny_bert: Path) -> None:
    model = EncoderModel(task="binary", backbone=str(tiny_bert), **{**FAST, "epochs": 1})
    untouched = EncoderModel(task="binary", backbone=str(tiny_bert))
    encoder, _, _ = untouched.load_backbone(show_progress=False)
    model.fit(POSTS, BINARY)
    before = dict(encoder.named_parameters())["encoder.layer.0.attention.self.query.weight"]
    after = dict(model.network_.encoder.named_parameters())["encoder.layer.0.attention.self.query.weight"]
    assert not np.allclose(before.detach().numpy(), after.detach().numpy())
    word_before = encoder.embeddings.word_embeddings.weight.detach().numpy()
    word_after = model.network_.encoder.embeddings.word_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(word_before, word_after)  # frozen by the fast recipe
    assert model.training_["epochs_run"] == 1
    assert [r["epoch"] for r in model.training_["history"]] == [1]
    assert model.training_["validation_posts"] == round(len(POSTS) * 0.3)
    assert model.decision_.rule == "threshold"
    assert "validation split" in model.cv_metrics_["protocol"]


def test_predict_proba_shapes_and_sums(level_model: EncoderModel) -> None:
    proba = level_model.predict_proba(POSTS[:7], batch_size=3)
    assert proba.shape == (7, 11)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert level_model.predict(POSTS[:7]).shape == (7,)
    assert level_model.predict_proba([]).shape == (0, 11)
    assert 0 <= level_model.predict_one(POSTS[0]) <= 10
    # batching and length sorting do not change the answer
    np.testing.assert_allclose(level_model.predict_proba(POSTS[:7], batch_size=1), proba, atol=1e-5)


def test_save_load_round_trip_writes_the_exact_config(
    level_model: EncoderModel, tiny_bert: Path, tmp_path: Path
) -> None:
    level_model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["kind"] == "encoder"
    assert config["params"] == {
        "backbone": str(tiny_bert),
        "recipe": "fast",
        "pooling": "cls",
        "prefix": "",
        "decision": "auto",
        "target_recall": 0.8,
        "seed": 0,
        "settings": {**RECIPES["fast"].to_dict(), **FAST},
    }
    assert config["files"] == {
        "encoder": "encoder/model.safetensors",
        "encoder_config": "encoder/config.json",
        "tokenizer": "encoder/tokenizer.json",
        "head": "head.safetensors",
        "model_card": "README.md",
        "training_membership": "training_membership.npz",
    }
    card = (tmp_path / "m" / "README.md").read_text(encoding="utf-8")
    assert "Intended use" in card and "Limits" in card and "weighted_f1" in card
    assert not list((tmp_path / "m").rglob("*.bin")) and not list((tmp_path / "m").rglob("*.pkl"))
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, EncoderModel)
    np.testing.assert_allclose(loaded.predict_proba(POSTS), level_model.predict_proba(POSTS), atol=1e-6)
    assert loaded.decision_ == level_model.decision_
    loaded.save(tmp_path / "again")
    again = json.loads((tmp_path / "again" / "config.json").read_text(encoding="utf-8"))
    assert again["params"] == config["params"]


def test_loading_refuses_remote_code(level_model: EncoderModel, tmp_path: Path) -> None:
    level_model.save(tmp_path / "m")
    encoder_config = tmp_path / "m" / "encoder" / "config.json"
    data = json.loads(encoder_config.read_text(encoding="utf-8"))
    data["model_type"] = "evil-custom"
    data["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    encoder_config.write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "m" / "encoder" / "modeling_evil.py").write_text("raise SystemExit('ran code')\n", encoding="utf-8")
    with pytest.raises(ModelError, match="is a 'evil-custom' checkpoint; the encoder kind fine-tunes BERT-family"):
        load_model(tmp_path / "m")


def test_unreachable_hub_id_fails_fast_with_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    started = time.perf_counter()
    with pytest.raises(ModelError) as caught:
        resolve_encoder_backbone("zwzzz/Chinese-MentalBERT")
    assert time.perf_counter() - started < 10
    assert str(caught.value).startswith(
        "The backbone 'zwzzz/Chinese-MentalBERT' is a hub id, but the hub (http://127.0.0.1:9) cannot be reached "
        "from this machine (127.0.0.1:9: "
    )
    assert str(caught.value).endswith(
        "and the checkpoint is not in the local hub cache. Fix: use 'e5-small' (built offline), or download the "
        "checkpoint on a machine with internet and pass its folder."
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as offline:
        make_model("encoder", "level", {"backbone": "chinese-mentalbert"}).fit(POSTS, LEVELS)
    assert str(offline.value) == (
        "The backbone 'zwzzz/Chinese-MentalBERT' is a hub id, it is not in the local hub cache, and HF_HUB_OFFLINE "
        "is set, so it cannot be downloaded. Fix: use 'e5-small' (built offline), or download the checkpoint on a "
        "machine with internet and pass its folder."
    )


def test_bad_backbone_names_and_settings() -> None:
    with pytest.raises(ModelError, match="Expected 'e5-small', a preset"):
        resolve_encoder_backbone("no-such-thing")
    with pytest.raises(ModelError) as setting:
        EncoderModel(learning_rate=-1).settings()
    assert str(setting.value) == "The 'learning_rate' setting of the encoder must be a number > 0. Got -1 instead."
    with pytest.raises(ModelError) as parameter:
        EncoderModel(learning_rate=-1).fit(POSTS, LEVELS)
    assert str(parameter.value) == (
        "The 'learning_rate' parameter of encoder must be None or a number > 0. Got -1 instead."
    )
    with pytest.raises(ModelError) as recipe:
        EncoderModel(recipe="slow").settings()
    assert str(recipe.value) == (
        "The 'recipe' parameter of encoder must be a str among ['fast', 'sos1k-paper']. Got 'slow' instead."
    )
    with pytest.raises(ModelError, match="resume=True needs checkpoint_dir"):
        EncoderModel(resume=True).fit(POSTS, LEVELS)


def test_presets_check_the_installed_transformers() -> None:
    import transformers

    assert len(PRESETS) == 7
    assert check_preset("zwzzz/Chinese-MentalBERT").model_type == "bert"
    assert check_preset("chinese-electra-base").hub_id == "hfl/chinese-electra-base-discriminator"
    rows = {row["name"]: row for row in preset_report()}
    assert {name for name, row in rows.items() if row["status"] == "ok"} >= {
        "chinese-bert-wwm-ext",
        "chinese-roberta-wwm-ext",
        "chinese-macbert-base",
        "chinese-mentalbert",
    }
    if int(transformers.__version__.split(".")[0]) >= 5:
        with pytest.raises(ModelError) as caught:
            check_preset("nezha-cn-base")
        assert str(caught.value) == (
            f"nezha-cn-base (sijunhe/nezha-cn-base) needs the 'nezha' architecture, which transformers "
            f"{transformers.__version__} (installed here) no longer ships. NeZha was deprecated in transformers 4.x "
            "and removed in transformers 5. sosrisk never runs a checkpoint's own code (trust_remote_code stays "
            'off). Fix: use it from an environment with pip install "transformers<5", or pick another backbone.'
        )


def test_electra_backbone_and_mean_pooling(tmp_path: Path) -> None:
    import torch

    folder = build_tiny_bert(tmp_path / "electra", model_type="electra")
    model = EncoderModel(task="binary", backbone=str(folder), pooling="mean", **FAST).fit(POSTS, BINARY)
    rows = model._encode(POSTS[:3])
    network = model.network_
    with torch.inference_mode():  # mean pooling by hand: the average of the hidden states of the real tokens
        by_hand = []
        for row in rows:
            hidden = network.encoder(input_ids=torch.tensor([row])).last_hidden_state[0]
            by_hand.append(network.head(hidden.mean(dim=0)).double().numpy())
    np.testing.assert_allclose(
        network_logits(network, rows, pad_id=model.pad_id_, n_classes=2), np.stack(by_hand), atol=1e-5
    )
    model.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict_proba(POSTS), model.predict_proba(POSTS), atol=1e-6)


def test_cli_train_predict_and_evaluate(tiny_bert: Path, tmp_path: Path) -> None:
    train_file = tmp_path / "train.tsv"
    train_file.write_text(
        "text\trisk_level\n" + "".join(f"{t}\t{y}\n" for t, y in zip(POSTS, LEVELS, strict=True)), encoding="utf-8"
    )
    runner = CliRunner()
    out = tmp_path / "model"
    args = ["train", "--task", "level", "--model", "encoder", "--backbone", str(tiny_bert), "--epochs", "1"]
    args += ["--train", str(train_file), "--out", str(out), "--set", "batch_size=8", "--set", "validation_fraction=0.3"]
    args += ["--set", "freeze_layers=0", "--no-scope"]
    result = runner.invoke(main, [*args, "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "saved encoder (level)" in result.output
    assert not (out / "checkpoints").exists()
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["params"]["settings"]["epochs"] == 1
    predicted = runner.invoke(main, ["predict", str(out), "--format", "jsonl", POSTS[0]], catch_exceptions=False)
    assert predicted.exit_code == 0, predicted.output
    record = json.loads(predicted.output.splitlines()[0])
    assert len(record["level_probabilities"]) == 11
    evaluated = runner.invoke(main, ["evaluate", str(out), str(train_file), "--json"], catch_exceptions=False)
    assert evaluated.exit_code == 0, evaluated.output
    assert "weighted_f1" in json.loads(evaluated.stdout)
    resumed = runner.invoke(main, [*args, "--resume"])
    assert resumed.exit_code == 1
    assert "Nothing to resume: expected a checkpoint (state.json)" in resumed.output
    wrong = runner.invoke(main, ["train", "--task", "level", "--train", str(train_file), "--out", str(out), "--resume"])
    assert wrong.exit_code == 2
    assert "--resume is for the encoder and ensemble kinds, not 'char-linear'." in wrong.output


def test_training_seed_varies_the_run_but_not_the_validation_split(tiny_bert: Path, tmp_path: Path) -> None:
    settings = {"backbone": str(tiny_bert), **{**FAST, "epochs": 1}}
    first = EncoderModel(task="binary", **settings).fit(POSTS, BINARY)
    same = EncoderModel(task="binary", training_seed=0, **settings).fit(POSTS, BINARY)
    other = EncoderModel(task="binary", training_seed=7, **settings).fit(POSTS, BINARY)
    np.testing.assert_array_equal(first.validation_["indices"], other.validation_["indices"])
    np.testing.assert_allclose(first.predict_proba(POSTS), same.predict_proba(POSTS), atol=1e-6)
    assert not np.allclose(first.predict_proba(POSTS), other.predict_proba(POSTS), atol=1e-4)
    other.save(tmp_path / "m")
    params = json.loads((tmp_path / "m" / "config.json").read_text("utf-8"))["params"]
    assert params["seed"] == 0 and params["training_seed"] == 7
    assert "training_seed" not in first.config_params()
    np.testing.assert_allclose(load_model(tmp_path / "m").predict_proba(POSTS), other.predict_proba(POSTS), atol=1e-6)
    with pytest.raises(ModelError) as caught:
        EncoderModel(training_seed="x").fit(POSTS, LEVELS)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "The 'training_seed' parameter of encoder must be None or an int in [0, 2**32). Got 'x' instead."
    )


def test_ordinary_posts_skip_leaves_them_out_of_fine_tuning_only(tiny_bert: Path, tmp_path: Path) -> None:
    settings = {"backbone": str(tiny_bert), **{**FAST, "epochs": 1}}
    in_scope = POSTS[:24]
    labels = BINARY[:24] + [0] * 12
    mask = np.array([True] * 24 + [False] * 12)
    ordinary_a = [f"今天天气不错{i}" for i in range(12)]
    ordinary_b = [f"这家店的菜很好吃{i}" for i in range(12)]
    skip_a = EncoderModel(task="binary", ordinary_posts="skip", **settings)
    skip_a.fit(in_scope + ordinary_a, labels, calibrate_on=mask)
    skip_b = EncoderModel(task="binary", ordinary_posts="skip", **settings)
    skip_b.fit(in_scope + ordinary_b, labels, calibrate_on=mask)
    learn = EncoderModel(task="binary", **settings).fit(in_scope + ordinary_a, labels, calibrate_on=mask)
    # the ordinary posts never reach fine-tuning: other ordinary posts give the very same network
    np.testing.assert_allclose(skip_a.predict_proba(in_scope), skip_b.predict_proba(in_scope), atol=1e-6)
    assert not np.allclose(skip_a.predict_proba(in_scope), learn.predict_proba(in_scope), atol=1e-4)
    # ... while the validation split is the one an ensemble shares
    np.testing.assert_array_equal(skip_a.validation_["indices"], learn.validation_["indices"])
    in_validation = np.isin(np.arange(36), skip_a.validation_["indices"])
    assert skip_a.training_["ordinary_posts_skipped"] == int((~mask & ~in_validation).sum()) > 0
    assert learn.training_["ordinary_posts_skipped"] == 0
    # without a scope stage's mask there is nothing to skip
    plain = EncoderModel(task="binary", ordinary_posts="skip", **settings).fit(POSTS, BINARY)
    unmasked = EncoderModel(task="binary", **settings).fit(POSTS, BINARY)
    np.testing.assert_allclose(plain.predict_proba(POSTS), unmasked.predict_proba(POSTS), atol=1e-6)
    skip_a.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text("utf-8"))["params"]["ordinary_posts"] == "skip"
    assert "ordinary_posts" not in learn.config_params()
    assert load_model(tmp_path / "m").get_params()["ordinary_posts"] == "skip"
    with pytest.raises(ModelError) as caught:
        EncoderModel(ordinary_posts="drop").fit(POSTS, LEVELS)
    assert str(caught.value).startswith("The 'ordinary_posts' parameter of encoder must be")


def _write_sos1k_folds(root: Path, texts: list[str], levels: list[int], high: list[int]) -> None:
    """A tiny folder in the official SOS-1K layout: the posts spread over five folds of both tasks."""
    for task, column, labels in (("fine-grained", "myLabel", levels), ("binary", "twoClass", high)):
        folder = root / "suicideDataProcessing" / "data" / task
        folder.mkdir(parents=True, exist_ok=True)
        for fold in range(1, 6):
            name = f"fold{fold}.tsv" if task == "fine-grained" else f"fold{fold}_twoClass.tsv"
            rows = [f"{t}\t{y}" for i, (t, y) in enumerate(zip(texts, labels, strict=True)) if i % 5 == fold - 1]
            (folder / name).write_text(f"comment\t{column}\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_a_second_head_learns_the_other_tasks_sos1k_labels_and_is_dropped(
    tiny_bert: Path, isolated_home: Path, tmp_path: Path
) -> None:
    settings = {"backbone": str(tiny_bert), **{**FAST, "epochs": 1}}
    with pytest.raises(ModelError, match="second_head='sos1k' reads the binary labels of the training posts"):
        EncoderModel(task="level", second_head="sos1k", **settings).fit(POSTS, LEVELS)
    known = POSTS[:30]  # the last posts are not SOS-1K posts: they train the first head only
    _write_sos1k_folds(isolated_home / "sos1k", known, LEVELS[:30], BINARY[:30])
    joint = EncoderModel(task="level", second_head="sos1k", **settings).fit(POSTS, LEVELS)
    assert joint.training_["second_head_posts"] == 30
    assert joint.network_.head.out_features == 11  # the second head is gone after training
    alone = EncoderModel(task="level", **settings).fit(POSTS, LEVELS)
    assert "second_head_posts" not in alone.training_
    # the same split and seeds: only the second head's loss makes the encoders differ
    np.testing.assert_array_equal(joint.validation_["indices"], alone.validation_["indices"])
    assert not np.allclose(joint.predict_proba(POSTS), alone.predict_proba(POSTS), atol=1e-4)
    joint.save(tmp_path / "joint")
    assert json.loads((tmp_path / "joint" / "config.json").read_text("utf-8"))["params"]["second_head"] == "sos1k"
    reloaded = load_model(tmp_path / "joint")
    np.testing.assert_allclose(reloaded.predict_proba(POSTS), joint.predict_proba(POSTS), atol=1e-6)
    assert "second_head" not in alone.config_params()
    binary = EncoderModel(task="binary", second_head="sos1k", **settings).fit(POSTS, BINARY)
    assert binary.training_["second_head_posts"] == 30 and binary.network_.head.out_features == 2


def test_each_head_loss_counts_only_the_posts_labelled_for_it() -> None:
    from sosrisk.models.encoder_training import UNLABELLED, head_slices, heads_nll, mean_nll

    assert head_slices((11, 2)) == [slice(0, 11), slice(11, 13)]
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5))
    targets = np.array([[0, 1], [2, UNLABELLED], [1, 0], [2, 1], [0, UNLABELLED], [1, 0]])
    labelled = targets[:, 1] != UNLABELLED
    expected = mean_nll(logits[:, :3], targets[:, 0]) + mean_nll(logits[labelled, 3:], targets[labelled, 1])
    assert heads_nll(logits, targets, (3, 2)) == pytest.approx(expected)
    assert heads_nll(logits[:, :3], targets[:, :1], (3,)) == pytest.approx(mean_nll(logits[:, :3], targets[:, 0]))
