"""The one registry mechanism: built-ins and other packages' entries (entry points) register the same way."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sosrisk.registry import Registry


class Refused(ValueError):
    pass


@pytest.fixture
def installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution 'sosrisk-extra' (a module and its entry points) on sys.path."""
    (tmp_path / "sosrisk_extra.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            from sosrisk.models.char_linear import CharLinearModel


            class ConstantModel(CharLinearModel):
                '''char-linear whose scores are all equal: a kind another package adds.'''

                def _logits(self, texts, *, batch_size):
                    return np.zeros((len(texts), len(self.classes_)))


            class Reverser:
                name = "reverse"

                def __init__(self, **options):
                    self.options = options

                def translate(self, texts, *, source, target):
                    return [text[::-1] for text in texts]


            class Copier:
                name = "copy"
                offline = True
                uses = frozenset()

                def begin(self, job):
                    def make(label, wanted, sources, rng):
                        return [s for s in sources[:wanted]]

                    return make


            COPY = Copier()
            """
        ),
        encoding="utf-8",
    )
    info = tmp_path / "sosrisk_extra-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sosrisk-extra\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[sosrisk.model_kinds]\nconstant = sosrisk_extra:ConstantModel\nchar-linear = sosrisk_extra:ConstantModel\n\n"
        "[sosrisk.translators]\nreverse = sosrisk_extra:Reverser\n\n"
        "[sosrisk.augmenters]\ncopy = sosrisk_extra:COPY\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("sosrisk_extra", None)


def fresh(monkeypatch: pytest.MonkeyPatch, registry: Registry) -> None:
    """Let ``registry`` read the entry points again (they are read once per process)."""
    monkeypatch.setattr(registry, "_entry_points_read", False)
    monkeypatch.setattr(registry, "_lazy", dict(registry._lazy))
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))


def test_registering_in_code_lazily_and_by_decorator() -> None:
    registry: Registry[object] = Registry("thing", entry_point_group="sosrisk.tests.nothing", error=Refused)
    registry.register("a", 1)

    @registry.register("b")
    def b() -> None: ...

    registry.register_lazy("c", "numpy:float64")
    assert registry.names() == ["a", "b", "c"]
    assert registry.get("a") == 1 and registry.get("b") is b and registry.get("c") is np.float64
    assert "c" in registry and "d" not in registry
    with pytest.raises(Refused) as unknown:
        registry.get("d")
    assert str(unknown.value) == "Unknown thing 'd'; known things: a, b, c."
    with pytest.raises(Refused) as taken:
        registry.register("a", 2)
    assert str(taken.value) == "A thing named 'a' is already registered."
    with pytest.raises(Refused) as bad:
        registry.register_lazy("e", "numpy:")
    assert str(bad.value) == "Expected 'module:attribute' for the thing 'e', got 'numpy:'."
    registry.register_lazy("f", "json")  # a module that does not register 'f' when imported
    with pytest.raises(Refused) as silent:
        registry.get("f")
    assert str(silent.value) == "Importing json did not register the thing 'f'."


def test_a_package_adds_a_model_kind_and_cannot_take_a_built_in_name(
    installed_package: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from conftest import tiny_dataset
    from sosrisk.cli import main
    from sosrisk.models import available_kinds, get_model_class, load_model
    from sosrisk.models.char_linear import CharLinearModel
    from sosrisk.models.registry import MODEL_KINDS

    fresh(monkeypatch, MODEL_KINDS)
    with caplog.at_level("WARNING", logger="sosrisk.registry"):
        assert "constant" in available_kinds()
    assert get_model_class("char-linear") is CharLinearModel  # the built-in keeps its name
    assert (
        "the entry point 'char-linear' = 'sosrisk_extra:ConstantModel' of group sosrisk.model_kinds is left out: "
        "a model kind named 'char-linear' is already registered"
    ) in caplog.text
    constant = get_model_class("constant")
    assert constant.kind == "constant"
    texts, labels = tiny_dataset("level")
    model = constant(cv_folds=3).fit(texts, labels)
    np.testing.assert_allclose(load_model(model.save(tmp_path / "m")).predict_proba(texts[:2]), 1 / 11)
    listed = CliRunner().invoke(main, ["models"], catch_exceptions=False)
    assert "constant" in listed.output.split()
    help_text = CliRunner().invoke(main, ["train", "--help"], catch_exceptions=False).output
    assert "constant" in help_text  # the CLI's choices come from the registry


def test_a_package_adds_a_translator_and_an_augmentation_method(
    installed_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import tiny_dataset
    from sosrisk.augment import AUGMENTERS, augment_posts, augmentation_methods
    from sosrisk.augment.translate import TRANSLATORS, available_translators, make_translator
    from sosrisk.data import read_posts

    fresh(monkeypatch, TRANSLATORS)
    fresh(monkeypatch, AUGMENTERS)
    assert available_translators() == ["chat", "reverse"]
    assert make_translator("reverse").translate(["好累"], source="zh", target="en") == ["累好"]
    assert "copy" in augmentation_methods(offline_only=True)
    assert "llm" not in augmentation_methods(offline_only=True)
    texts, labels = tiny_dataset("level", copies=1)  # three posts per level
    path = installed_package / "train.tsv"
    path.write_text("text\trisk_level\n" + "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels, strict=True)), "utf-8")
    result = augment_posts(read_posts(path, task="level"), "level", "copy:4", show_progress=False)
    assert result.made() == {level: 1 for level in range(11)}  # one more post per level, made by the package
