"""How an ``encoder`` is fine-tuned: the :class:`Recipe` settings, their constraints and the named recipes.

- ``fast`` (default): our CPU recipe, chosen by five-fold cross-validation over the official folds
  (``benchmarks/cv_encoders.py``): AdamW with linear warm-up and linear decay over a few epochs, frozen
  word embeddings (96M of e5-small's 118M parameters), a faster-learning head, square-root class
  weights, dynamic padding and length-bucketed batches.
- ``sos1k-paper``: the authors' settings (AdamW lr 5e-6, batch 16, max length 150, early stopping on the
  validation loss with patience 15, up to 300 epochs), for reproduction.

Importing this module imports neither torch nor transformers (the CLI lists the recipes from it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import ModelError
from .params import Boolean, Constraint, Interval, Options, none_or

CLASS_WEIGHTS = ("none", "sqrt", "balanced")
SCHEDULES = ("constant", "linear")
SELECTIONS = ("best_val_loss", "last")

# Each setting's constraint, declared once: checked by Recipe and, as overrides (None: the recipe's value),
# by the encoder's parameters.
RECIPE_CONSTRAINTS: dict[str, Constraint] = {
    "learning_rate": Interval(0, None, closed="neither"),
    "batch_size": Interval(1, None, integer=True),
    "gradient_accumulation": Interval(1, None, integer=True),
    "max_length": Interval(8, 512, integer=True),
    "epochs": Interval(1, None, integer=True),
    "patience": none_or(Interval(1, None, integer=True)),
    "select": Options(SELECTIONS),
    "schedule": Options(SCHEDULES),
    "warmup_ratio": Interval(0, 1, closed="left"),
    "weight_decay": Interval(0, None),
    "head_lr_multiplier": Interval(0, None, closed="neither"),
    "freeze_embeddings": Boolean(),
    "freeze_layers": Interval(0, None, integer=True),
    "class_weight": Options(CLASS_WEIGHTS),
    "dropout": Interval(0, 1, closed="left"),
    "validation_fraction": Interval(0, 0.5, closed="left"),
}


@dataclass(frozen=True)
class Recipe:
    """How an encoder is fine-tuned. Every field can be overridden by the encoder parameter of the same name.

    ``patience``: stop after this many epochs without a lower validation loss (``None``: run all
    ``epochs``). ``select``: keep the weights of the epoch with the lowest validation loss, or the last.
    ``head_lr_multiplier``: the freshly initialised head learns this many times faster than the encoder.
    ``freeze_layers``: the lowest transformer layers kept frozen (0: none). ``class_weight``: weights of
    the cross-entropy per class (``sqrt``: square root of the inverse frequency).
    """

    learning_rate: float
    batch_size: int
    gradient_accumulation: int
    max_length: int
    epochs: int
    patience: int | None
    select: str
    schedule: str
    warmup_ratio: float
    weight_decay: float
    head_lr_multiplier: float
    freeze_embeddings: bool
    freeze_layers: int
    class_weight: str
    dropout: float
    validation_fraction: float

    def __post_init__(self) -> None:
        for name, constraint in RECIPE_CONSTRAINTS.items():
            value = getattr(self, name)
            if not constraint.accepts(value):
                raise ModelError(
                    f"The {name!r} setting of the encoder must be {constraint.describe()}. Got {value!r} instead."
                )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (written to ``config.json['params']['settings']``)."""
        return dataclasses.asdict(self)


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Recipe))
assert set(SETTING_NAMES) == set(RECIPE_CONSTRAINTS), "every Recipe field has exactly one constraint"

RECIPES: dict[str, Recipe] = {
    # Our CPU recipe (see the module docstring and docs/encoders.md for the cross-validation behind it).
    "fast": Recipe(
        learning_rate=1e-4,
        batch_size=16,
        gradient_accumulation=1,
        max_length=256,
        epochs=4,
        patience=None,
        select="last",
        schedule="linear",
        warmup_ratio=0.1,
        weight_decay=0.01,
        head_lr_multiplier=20.0,
        freeze_embeddings=True,
        freeze_layers=6,
        class_weight="sqrt",
        dropout=0.1,
        validation_fraction=0.15,
    ),
    # The SOS-1K authors' settings; their validation set was one fold of five (20%).
    "sos1k-paper": Recipe(
        learning_rate=5e-6,
        batch_size=16,
        gradient_accumulation=1,
        max_length=150,
        epochs=300,
        patience=15,
        select="best_val_loss",
        schedule="constant",
        warmup_ratio=0.0,
        weight_decay=0.01,
        head_lr_multiplier=1.0,
        freeze_embeddings=False,
        freeze_layers=0,
        class_weight="none",
        dropout=0.1,
        validation_fraction=0.2,
    ),
}
# Task-specific values of a recipe, chosen by five-fold CV (docs/encoders.md). On levels the encoder alone
# improves up to 12 epochs (weighted F1 / QWK: 4 epochs 0.388 / 0.390, 8 epochs 0.392 / 0.447, 12 epochs
# 0.404 / 0.497); inside the best ensemble 8 epochs did better (--model best sets its members' epochs itself).
# On binary 3 and 4 epochs tie (0.814 / 0.813).
TASK_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {"fast": {"level": {"epochs": 12}}}
DEFAULT_RECIPE = "fast"


def recipe_for(name: str, task: str, overrides: dict[str, Any]) -> Recipe:
    """The recipe ``name`` with its values for ``task`` and the given ``overrides`` (``None`` values ignored)."""
    if name not in RECIPES:
        raise ModelError(
            f"The 'recipe' parameter of encoder must be a str among {sorted(RECIPES)}. Got {name!r} instead."
        )
    given = {key: value for key, value in overrides.items() if value is not None}
    return dataclasses.replace(RECIPES[name], **{**TASK_SETTINGS.get(name, {}).get(task, {}), **given})
