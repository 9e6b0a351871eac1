"""Checks of plain spec values shared by the loader and blocks: a mapping with known keys, a
non-empty list, an identifier; and Keras's snake_case for automatic names."""

from __future__ import annotations

import functools
import re
from typing import Any

from translator.errors import InvalidArgumentValue, SpecSyntaxError, UnknownArgument, suggestion
from translator.spec.source import Value

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@functools.cache  # a few distinct type names, asked for once per layer
def snake_case(name: str) -> str:
    """Keras's ``to_snake_case``: ``LSTM`` → ``lstm``, ``Conv2D`` → ``conv2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def mapping(
    value: Value, what: str, keys: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, Value]:
    """``value``'s mapping, with only ``keys`` and every one of ``required``."""
    if not isinstance(value.value, dict):
        raise SpecSyntaxError(
            value.loc, f"{what} must be a mapping, not {kind(value.value)}", "key: value pairs"
        )
    items: dict[str, Value] = value.value
    for key, item in items.items():
        if key not in keys:
            raise UnknownArgument(
                item.key_loc or item.loc,
                f"{what}: unknown key '{key}'",
                suggestion(key, keys, "keys"),
            )
    for key in required:
        if key not in items:
            raise SpecSyntaxError(
                value.loc, f"{what} has no '{key}'", "required keys: " + ", ".join(required)
            )
    return items


def nonempty_list(value: Value, what: str) -> list[Value]:
    """``value``'s items, at least one."""
    if not isinstance(value.value, list) or not value.value:
        raise SpecSyntaxError(
            value.loc,
            f"{what} must be a non-empty list, not {kind(value.value)}",
            "a YAML list ('- ...' items)",
        )
    return value.value


def kind(raw: Any) -> str:
    """What a wrong value is, for a message: ``a list``, ``null``, ``int 3``."""
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "a list" if raw else "an empty list"
    return "null" if raw is None else f"{type(raw).__name__} {raw!r}"


def identifier(value: Value, what: str) -> str:
    """``value`` as a name: letters, digits and ``_``, not starting with a digit."""
    if not isinstance(value.value, str) or not IDENTIFIER.match(value.value):
        raise InvalidArgumentValue(
            value.loc,
            f"{what} must be an identifier. Received: {value.value!r}",
            "letters, digits and _, not starting with a digit",
        )
    return value.value
