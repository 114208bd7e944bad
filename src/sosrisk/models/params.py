"""Model parameters: declared once per kind as constraints, and scikit-learn's estimator contract.

Every model kind declares ``_parameter_constraints`` (``{name: constraint}``), one entry per keyword
argument of its ``__init__``. That table is the only allow-list: :meth:`Estimator._validate_params`
checks it in ``fit`` and when a model directory is loaded, :meth:`Estimator.get_params` /
:meth:`Estimator.set_params` follow the ``__init__`` signature, and ``config.json['params']`` is read
back by name. Messages follow scikit-learn's: ``The 'C' parameter of char-linear must be a number > 0.
Got -1 instead.``

:class:`Estimator` implements scikit-learn's ``BaseEstimator`` contract (``__init__`` only stores its
keyword-only arguments; ``get_params(deep=)``, ``set_params``, so that ``sklearn.base.clone`` and
``cross_val_score`` work) without inheriting it: importing scikit-learn costs about a second per process,
and the prediction paths (``sosrisk predict``, ``score``, ``serve``) never need it. Scikit-learn is
imported only when scikit-learn itself asks for the tags.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from .errors import ModelError


class Constraint:
    """What a parameter may be: :meth:`accepts` checks a value, :meth:`describe` says it in words."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def is_int(value: object) -> bool:
    """An int (numpy ints too), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: object) -> bool:
    """A finite or infinite real number (int or float, numpy ones too), not a bool and not NaN."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return not math.isnan(float(value))


@dataclass(frozen=True)
class Interval(Constraint):
    """An int (``integer=True``) or a number between ``low`` and ``high`` (``None``: unbounded)."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right" or "neither"
    integer: bool = False

    def accepts(self, value: Any) -> bool:
        if not (is_int(value) if self.integer else is_number(value)):
            return False
        if self.low is not None and (value < self.low or (value == self.low and self.closed in {"right", "neither"})):
            return False
        return not (
            self.high is not None and (value > self.high or (value == self.high and self.closed in {"left", "neither"}))
        )

    def describe(self) -> str:
        noun = "an int" if self.integer else "a number"
        low_open = self.closed in {"right", "neither"}
        high_open = self.closed in {"left", "neither"}
        if self.low is not None and self.high is not None:
            return f"{noun} in {'(' if low_open else '['}{self.low:g}, {self.high:g}{')' if high_open else ']'}"
        if self.low is not None:
            return f"{noun} {'>' if low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<' if high_open else '<='} {self.high:g}"
        return noun


@dataclass(frozen=True)
class Options(Constraint):
    """One of a few values (strings, usually)."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(option) and value == option for option in self.values)

    def describe(self) -> str:
        shown = ", ".join(repr(v) for v in self.values)
        return f"a str among {{{shown}}}" if all(isinstance(v, str) for v in self.values) else f"one of {shown}"


@dataclass(frozen=True)
class Boolean(Constraint):
    """``True`` or ``False``."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Text(Constraint):
    """A str (``non_empty``: with a character other than white space)."""

    non_empty: bool = False

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and (not self.non_empty or bool(value.strip()))

    def describe(self) -> str:
        return "a non-empty str" if self.non_empty else "a str"


@dataclass(frozen=True)
class Satisfies(Constraint):
    """Any other rule, with its description."""

    description: str
    check: Callable[[Any], bool]

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.check(value))
        except (TypeError, ValueError):
            return False

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True)
class Either(Constraint):
    """Any of several constraints (``Either(Options(("auto",)), Interval(0, 1))``)."""

    choices: tuple[Constraint, ...]

    def accepts(self, value: Any) -> bool:
        return any(choice.accepts(value) for choice in self.choices)

    def describe(self) -> str:
        return " or ".join(choice.describe() for choice in self.choices)


NONE = Satisfies("None", lambda value: value is None)


SEED = Satisfies("an int in [0, 2**32)", lambda value: is_int(value) and 0 <= value < 2**32)


def none_or(constraint: Constraint) -> Constraint:
    """``None`` (usually: the recipe's or the task's default) or a value ``constraint`` accepts."""
    return Either((NONE, constraint))


def parameter_error(owner: str, name: str, constraint: Constraint, value: Any) -> ModelError:
    """The message of a bad parameter, in scikit-learn's words."""
    return ModelError(f"The {name!r} parameter of {owner} must be {constraint.describe()}. Got {value!r} instead.")


class Estimator:
    """scikit-learn's estimator contract, for the model kinds (see the module docstring).

    ``__init__`` takes keyword-only parameters and stores each, unchanged, as an attribute of the same
    name; defaults that depend on the task stay ``None`` there and are resolved where they are used.
    """

    kind: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {}
    _estimator_type: ClassVar[str] = "classifier"  # scikit-learn < 1.6 reads this instead of the tags

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The parameters of ``__init__``, sorted (scikit-learn's order)."""
        signature = inspect.signature(cls.__init__)
        names = []
        for parameter in signature.parameters.values():
            if parameter.name == "self" or parameter.kind == parameter.VAR_KEYWORD:
                continue
            if parameter.kind != parameter.KEYWORD_ONLY:
                raise TypeError(f"{cls.__name__}.__init__ must take keyword-only parameters; {parameter} is not.")
            names.append(parameter.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters of this model, as given to ``__init__`` (``deep``: those of nested estimators too)."""
        params: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update({f"{name}__{key}": inner for key, inner in value.get_params().items()})
            params[name] = value
        return params

    def set_params(self, **params: Any) -> Self:
        """Set parameters by name (``name__inner`` for a nested estimator's); returns ``self``. Checked in ``fit``."""
        valid = self._get_param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, inner = key.partition("__")
            if name not in valid:
                raise ModelError(
                    f"Invalid parameter {name!r} for the {self._owner()} model. Valid parameters are: {valid!r}."
                )
            if sep:
                nested.setdefault(name, {})[inner] = value
            else:
                setattr(self, name, value)
        for name, inner_params in nested.items():
            getattr(self, name).set_params(**inner_params)
        return self

    def _validate_params(self) -> None:
        """Check every parameter against ``_parameter_constraints``; a bad one is a :class:`ModelError`."""
        names = self._get_param_names()
        missing = sorted(set(names) - set(self._parameter_constraints))
        if missing:  # a programming error of the kind itself, caught by the tests of every kind
            raise TypeError(f"{type(self).__name__} declares no constraint for the parameters {missing}.")
        for name in names:
            value = getattr(self, name)
            constraint = self._parameter_constraints[name]
            if not constraint.accepts(value):
                raise parameter_error(self._owner(), name, constraint, value)

    def _owner(self) -> str:
        return self.kind or type(self).__name__

    def __repr__(self) -> str:
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
            if parameter.default is not parameter.empty
        }
        shown = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = bool(value == default) if type(value) is type(default) else False
            except (TypeError, ValueError):
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self) -> Any:
        """The tags scikit-learn >= 1.6 asks for: a classifier of strings that needs ``y``."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(one_d_array=True, two_d_array=False, string=True),
        )
