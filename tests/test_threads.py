"""The torch thread count: chosen once per process by the entry point, never changed by model code."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sosrisk import threads
from sosrisk.cli import main

torch = pytest.importorskip("torch", reason='torch is an extra: pip install "sosrisk[transformers]"')


@pytest.fixture(autouse=True)
def restore_threads() -> object:
    before = torch.get_num_threads()
    yield
    threads.set_torch_threads(None)
    torch.set_num_threads(before)


def test_auto_is_one_thread_on_a_busy_machine_and_torchs_default_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "machine_busy", lambda: True)
    assert threads.choose_torch_threads("auto") == 1
    monkeypatch.setattr(threads, "machine_busy", lambda: False)
    assert threads.choose_torch_threads("auto") is None
    assert threads.choose_torch_threads("3") == 3 == threads.choose_torch_threads(3)
    for bad in ("0", "many", -1, True):
        with pytest.raises(ValueError) as caught:
            threads.choose_torch_threads(bad)  # type: ignore[arg-type]
        assert str(caught.value) == f"Expected 'auto' or a number of torch threads >= 1, got {bad!r}."


def test_the_cli_sets_the_threads_once_and_predictions_never_change_them(tmp_path: Path) -> None:
    from conftest import tiny_dataset
    from sosrisk.models.char_linear import CharLinearModel

    result = CliRunner().invoke(main, ["--torch-threads", "1", "models"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 1
    texts, labels = tiny_dataset("level")
    CharLinearModel(cv_folds=3).fit(texts, labels).predict(texts)
    assert torch.get_num_threads() == 1
    bad = CliRunner().invoke(main, ["--torch-threads", "0", "models"])
    assert bad.exit_code == 2
    assert "Invalid value for --torch-threads: Expected 'auto' or a number of torch threads >= 1, got '0'." in (
        bad.output
    )


def test_an_encoder_predicts_at_the_processs_thread_count_whatever_the_batch(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from sosrisk.models.encoder import EncoderModel
    from tiny_bert import TEXTS, build_tiny_bert

    threads.set_torch_threads(2)
    posts = TEXTS * 2
    model = EncoderModel(
        task="binary", backbone=str(build_tiny_bert(tmp_path / "bert")), epochs=1, batch_size=8, freeze_layers=0
    ).fit(posts, [i % 2 for i in range(len(posts))])
    seen = []
    network_forward = model.network_.forward

    def forward(*args: object) -> object:
        seen.append(torch.get_num_threads())
        return network_forward(*args)

    model.network_.forward = forward
    model.predict_proba(posts[:1])  # one post: the old per-call policy dropped to one thread here
    model.predict_proba(posts)
    assert set(seen) == {2} and torch.get_num_threads() == 2


def test_encoder_precision_is_checked_and_chosen_by_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(threads._PRECISION, "encoders", "float32")
    with pytest.raises(ValueError, match="float32, bfloat16"):
        threads.set_encoder_precision("float16")
    result = CliRunner().invoke(main, ["--encoder-precision", "float16", "models"])
    assert result.exit_code == 2 and "float16" in result.output
    result = CliRunner().invoke(main, ["--encoder-precision", "bfloat16", "models"])
    assert result.exit_code == 0, result.output
    assert threads.encoder_precision() == "bfloat16"
