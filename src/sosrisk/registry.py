"""Named registries: one mechanism for model kinds, augmentation methods and translators.

A :class:`Registry` maps names to things (classes, factories, augmenters). The built-in entries and those
of other packages are added the same two ways:

- in code, with :meth:`Registry.register` (a decorator) or :meth:`Registry.register_lazy`
  (``"module:attribute"``, imported on first use so that heavy dependencies load only when needed);
- by an installed package, through an entry point in the registry's group (``sosrisk.model_kinds``,
  ``sosrisk.augmenters``, ``sosrisk.translators``), for example in its ``pyproject.toml``::

      [project.entry-points."sosrisk.model_kinds"]
      my-kind = "my_package.models:MyModel"

Entry points are read only when a name is not found among the registered ones or when every name is
listed, so looking up a built-in costs nothing. A name that is already registered cannot be taken by
another entry (an entry point that tries is left out with a warning naming both).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> things of one sort, registered in code or by entry points of installed packages.

    Parameters
    ----------
    what:
        What an entry is, for messages (``"model kind"``).
    entry_point_group:
        The entry-point group other packages add entries through.
    error:
        The exception raised for unknown or clashing names (a ``ValueError`` subclass of the room).
    on_register:
        Called with ``(name, thing)`` when a thing is registered (model kinds learn their name this way).
    """

    def __init__(
        self,
        what: str,
        *,
        entry_point_group: str,
        error: type[ValueError] = ValueError,
        on_register: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.what = what
        self.entry_point_group = entry_point_group
        self._error = error
        self._on_register = on_register
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points_read = False

    # ------------------------------------------------------------------ registering
    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, thing: T) -> T: ...

    def register(self, name: str, thing: Any = None) -> Any:
        """Register ``thing`` under ``name``; without ``thing``, a decorator that does it."""

        def add(item: T) -> T:
            self._check_name(name)
            known = self._entries.get(name)
            if known is not None and known is not item:
                raise self._error(f"A {self.what} named {name!r} is already registered.")
            self._entries[name] = item
            if self._on_register is not None:
                self._on_register(name, item)
            return item

        return add if thing is None else add(thing)

    def register_lazy(self, name: str, reference: str) -> None:
        """Register ``"module:attribute"`` under ``name``, imported when ``name`` is first asked for.

        A plain ``"module"`` names a module that registers the entry itself when imported (a decorator).
        """
        self._check_name(name)
        module, colon, attribute = reference.partition(":")
        if not module or (colon and not attribute):
            raise self._error(f"Expected 'module:attribute' for the {self.what} {name!r}, got {reference!r}.")
        if name in self._entries or self._lazy.get(name, reference) != reference:
            raise self._error(f"A {self.what} named {name!r} is already registered.")
        self._lazy[name] = reference

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise self._error(f"A {self.what} needs a non-empty name without surrounding spaces, got {name!r}.")

    # ------------------------------------------------------------------ looking up
    def get(self, name: str) -> T:
        """The thing registered as ``name``: imports a lazily registered module, then reads entry points."""
        if name not in self._entries and name not in self._lazy:
            self._read_entry_points()
        if name not in self._entries and name in self._lazy:
            self._resolve(name)
        try:
            return self._entries[name]
        except KeyError:
            raise self._error(f"Unknown {self.what} {name!r}; known {self.what}s: {', '.join(self.names())}.") from None

    def names(self) -> list[str]:
        """Every registered name (entry points of installed packages included), sorted."""
        self._read_entry_points()
        return sorted(set(self._entries) | set(self._lazy))

    def __contains__(self, name: object) -> bool:
        if name in self._entries or name in self._lazy:
            return True
        self._read_entry_points()
        return name in self._lazy

    def _resolve(self, name: str) -> None:
        module_name, _, attribute = self._lazy[name].partition(":")
        module = importlib.import_module(module_name)  # its decorators may register the entry themselves
        if name in self._entries:
            return
        if not attribute:
            raise self._error(f"Importing {module_name} did not register the {self.what} {name!r}.")
        thing: Any = module
        for part in attribute.split("."):
            thing = getattr(thing, part)
        self.register(name, thing)

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        from importlib.metadata import entry_points

        for point in entry_points(group=self.entry_point_group):
            taken = self._lazy.get(point.name)
            if point.name in self._entries or (taken is not None and taken != point.value):
                logger.warning(
                    "the entry point %r = %r of group %s is left out: a %s named %r is already registered",
                    point.name,
                    point.value,
                    self.entry_point_group,
                    self.what,
                    point.name,
                )
                continue
            try:
                self.register_lazy(point.name, point.value)
            except ValueError as exc:
                logger.warning(
                    "the entry point %r of group %s is left out: %s", point.name, self.entry_point_group, exc
                )
