"""One tiny decorator registry, used for criteria, structures, allocations and models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from pruning_core.errors import UserInputError, shorten

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind; unknown names raise a :class:`UserInputError`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that stores ``obj`` under ``name``."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Store ``obj`` under ``name`` (replacing an entry of the same name)."""
        self._entries[name] = obj

    def get(self, name: str) -> T:
        """Return the entry called ``name`` or raise naming the allowed names."""
        try:
            return self._entries[name]
        except KeyError:
            raise UserInputError(
                self.kind,
                f"unknown {self.kind} '{shorten(name)}'; allowed: {', '.join(self.names())}",
            ) from None

    def names(self) -> list[str]:
        """All registered names, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)
