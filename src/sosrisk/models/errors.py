"""The errors of model directories and model calls (a module of their own, so the registry needs no base class)."""

from __future__ import annotations


class ModelError(ValueError):
    """A model directory or a model call is not usable; the message says why and how to fix it."""


class NotFittedError(ModelError):
    """A model was used for prediction before it was fitted or loaded."""
