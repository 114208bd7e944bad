"""sosrisk: suicide-risk assessment of Chinese social-media posts on the SOS-1K scale.

Decision support for trained people, never a diagnosis or an automatic action.

The names a user needs are importable from here::

    from sosrisk import assess, cross_validate, load_model, read_posts, train_model

They are loaded on first use (``import sosrisk`` itself imports neither numpy, pandas, scikit-learn nor
torch), so the command line and the service start fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "load_model": "sosrisk.models",
    "RiskModel": "sosrisk.models.base",
    "ModelError": "sosrisk.models.errors",
    "NotFittedError": "sosrisk.models.errors",
    "assess": "sosrisk.assess",
    "Assessment": "sosrisk.assess",
    "read_posts": "sosrisk.data.posts",
    "DataError": "sosrisk.data.errors",
    "train_model": "sosrisk.training",
    "cross_validate": "sosrisk.training",
    "evaluate_model": "sosrisk.evaluation",
}

__all__ = [
    "Assessment",
    "DataError",
    "ModelError",
    "NotFittedError",
    "RiskModel",
    "__version__",
    "assess",
    "cross_validate",
    "evaluate_model",
    "load_model",
    "read_posts",
    "train_model",
]

if TYPE_CHECKING:
    from .assess import Assessment, assess
    from .data.errors import DataError
    from .data.posts import read_posts
    from .evaluation import evaluate_model
    from .models import load_model
    from .models.base import RiskModel
    from .models.errors import ModelError, NotFittedError
    from .training import cross_validate, train_model


class _Package(types.ModuleType):
    """The package module: an exported function stays itself when the submodule of the same name is imported.

    ``sosrisk.assess`` is the function; importing the module ``sosrisk.assess`` (as ``from sosrisk.assess
    import Assessment`` does) would otherwise rebind the package's attribute to the module.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            return  # the import system binding the submodule: the module stays in sys.modules only
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sosrisk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
