"""Data augmentation for SOS-1K-style training data, as in the paper and offline where possible.

- :mod:`.plan`: balancing plans (to a count, to the largest class, by a factor), shown before anything is made;
- :mod:`.synonyms`: offline synonym replacement (jieba + a word table distilled from e5-small) with the
  guards of :mod:`.guards` (negations, risk words, methods, times never change);
- :mod:`.translate`: back-translation through a pluggable translator (a chat model or a translation API);
- :mod:`.generate`: LLM generation with the paper's prompt strategy;
- :mod:`.pools`: the authors' published pools, traced to the folds they were made from, used only where
  they cannot leak;
- :mod:`.core`: the :class:`Augmenter` protocol and its registry :data:`AUGMENTERS`, :func:`augment_posts`
  and :func:`cross_validate_augmented`; :mod:`.methods`: the built-in methods.
"""

from __future__ import annotations

from .core import (
    AUGMENTERS,
    Augmenter,
    AugmentError,
    AugmentResources,
    AugmentResult,
    AugmentSpec,
    augment_posts,
    augmentation_methods,
    cross_validate_augmented,
    fold_gains,
)
from .plan import BalancePlan, BalanceSize, PlanError, plan_balance
from .posts import AugmentedPost, originals, render_augmented, write_augmented

__all__ = [
    "AUGMENTERS",
    "AugmentError",
    "AugmentResources",
    "AugmentResult",
    "AugmentSpec",
    "AugmentedPost",
    "Augmenter",
    "BalancePlan",
    "BalanceSize",
    "PlanError",
    "augment_posts",
    "augmentation_methods",
    "cross_validate_augmented",
    "fold_gains",
    "originals",
    "plan_balance",
    "render_augmented",
    "write_augmented",
]
