"""The public API: the names a user needs, importable from ``sosrisk`` without loading anything heavy."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sosrisk

REPO = Path(__file__).resolve().parents[1]
PUBLIC = [
    "Assessment",
    "DataError",
    "ModelError",
    "NotFittedError",
    "RiskModel",
    "assess",
    "cross_validate",
    "evaluate_model",
    "load_model",
    "read_posts",
    "train_model",
]


def test_importing_sosrisk_loads_nothing_heavy() -> None:
    code = (
        "import sys, sosrisk; heavy = ('numpy', 'pandas', 'sklearn', 'scipy', 'torch', 'transformers', 'pyarrow'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_public_names_are_the_library_objects() -> None:
    from sosrisk.assess import assess
    from sosrisk.data import read_posts
    from sosrisk.models import load_model
    from sosrisk.models.base import RiskModel
    from sosrisk.training import cross_validate, train_model

    assert sorted(name for name in sosrisk.__all__ if name != "__version__") == PUBLIC
    assert set(PUBLIC) <= set(dir(sosrisk))
    assert (sosrisk.load_model, sosrisk.assess, sosrisk.read_posts, sosrisk.RiskModel) == (
        load_model,
        assess,
        read_posts,
        RiskModel,
    )
    assert (sosrisk.train_model, sosrisk.cross_validate) == (train_model, cross_validate)
    with pytest.raises(AttributeError) as caught:
        sosrisk.predict_everything  # noqa: B018
    assert str(caught.value) == "module 'sosrisk' has no attribute 'predict_everything'"


def test_assess_is_the_function_whichever_is_imported_first() -> None:
    code = (
        "import sosrisk.assess; from sosrisk.assess import Assessment; import sosrisk; "
        "print(callable(sosrisk.assess), sosrisk.assess.__module__, sosrisk.Assessment is Assessment)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "sosrisk.assess", "True"]


def test_the_not_fitted_error_names_a_function_that_exists() -> None:
    from sosrisk.models.char_linear import CharLinearModel

    with pytest.raises(sosrisk.NotFittedError) as caught:
        CharLinearModel().predict("好累")
    assert "sosrisk.load_model(path)" in str(caught.value) and callable(sosrisk.load_model)


def test_the_readmes_python_example_imports_only_from_sosrisk() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("### From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    tree = ast.parse(code.group(1))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert imports and all(isinstance(node, ast.ImportFrom) and node.module == "sosrisk" for node in imports)
    for node in imports:
        for alias in node.names:
            assert alias.name in PUBLIC, alias.name
