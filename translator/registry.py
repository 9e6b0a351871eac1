"""A registry keyed by canonical (Keras) layer type names, filled by decorators.

Every concern (schema, shape rule, weight rule, each backend's builders) has its own
``Registry``. Registering a key twice raises, as onnx2torch's converter registry does, and
keys are validated at registration so a typo in a decorator fails at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_KEY = re.compile(r"^[A-Z][A-Za-z0-9]*$")


class Registry(Generic[T]):
    """A named mapping from layer type to a value, refusing duplicates."""

    def __init__(self, concern: str) -> None:
        self.concern = concern
        self._items: dict[str, T] = {}

    def add(self, key: str, value: T) -> T:
        """Register ``value`` under ``key``; a second registration of ``key`` raises."""
        if not _KEY.match(key):
            raise ValueError(f"{self.concern}: {key!r} is not a Keras-style class name")
        if key in self._items:
            raise KeyError(f"{self.concern}: {key!r} is registered twice")
        self._items[key] = value
        return value

    def register(self, *keys: str) -> Callable[[T], T]:
        """Decorator form of ``add`` for one or more keys."""

        def decorate(value: T) -> T:
            for key in keys:
                self.add(key, value)
            return value

        return decorate

    def __getitem__(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"{self.concern}: nothing registered for {key!r}") from None

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())
