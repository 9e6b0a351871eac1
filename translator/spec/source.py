"""Safe YAML reading that keeps the line and column of every value.

Only PyYAML's *composer* runs (no constructor for arbitrary tags), so a Python-object tag is
refused rather than executed. Alias expansion and nesting depth are bounded, so a "billion
laughs" document or a pathological nest is refused quickly and in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from translator.errors import Location, SpecSyntaxError

MAX_NODES = 100_000  # far beyond any real spec, far below what an alias bomb expands to
MAX_DEPTH = 64
MAX_BYTES = 10 * 1024 * 1024
# libyaml's C parser when present (same events and marks, several times faster).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")
}


@dataclass(frozen=True)
class Value:
    """A YAML value and where it was written.

    ``value`` is a ``dict[str, Value]``, a ``list[Value]`` or a plain scalar
    (str, int, float, bool or None).
    """

    value: Any
    loc: Location
    key_loc: Location | None = None  # for mapping values: where their key was written

    def plain(self) -> Any:
        """The value with every location stripped, recursively."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


class _Reader:
    """Turns a composed YAML node tree into ``Value`` objects, with budgets."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.nodes = 0
        self.scalars = yaml.constructor.SafeConstructor()

    def loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def read(self, node: yaml.Node, depth: int = 0, key_loc: Location | None = None) -> Value:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SpecSyntaxError(
                self.loc(node),
                f"the document expands to more than {MAX_NODES:,} values (an alias bomb?)",
                "write the spec without deeply repeated YAML aliases",
            )
        if depth > MAX_DEPTH:
            raise SpecSyntaxError(
                self.loc(node),
                f"values are nested more than {MAX_DEPTH} levels deep",
                "a spec needs only a few levels",
            )
        if node.tag not in _STANDARD_TAGS:
            raise SpecSyntaxError(
                self.loc(node),
                f"YAML tag {node.tag!r} is not allowed",
                "plain YAML values only (strings, numbers, booleans, null, lists, mappings)",
            )
        if isinstance(node, yaml.MappingNode):
            return Value(self._mapping(node, depth), self.loc(node), key_loc)
        if isinstance(node, yaml.SequenceNode):
            items = [self.read(item, depth + 1) for item in node.value]
            return Value(items, self.loc(node), key_loc)
        return Value(self.scalars.construct_object(node), self.loc(node), key_loc)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Value]:
        out: dict[str, Value] = {}
        for key_node, value_node in node.value:
            key_loc = self.loc(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecSyntaxError(key_loc, "YAML merge keys ('<<') are not allowed", "")
            key = self.read(key_node, depth + 1).value
            if not isinstance(key, str):
                raise SpecSyntaxError(
                    key_loc, f"mapping key {key!r} is not a string", "keys are plain names"
                )
            if key in out:
                raise SpecSyntaxError(
                    key_loc, f"key {key!r} appears twice in this mapping", "write each key once"
                )
            out[key] = self.read(value_node, depth + 1, key_loc)
        return out


def _check_depth(text: str, file: str) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH``, using the (iterative) event parser."""
    depth = 0
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise SpecSyntaxError(
                    Location(file, mark.line + 1, mark.column + 1),
                    f"values are nested more than {MAX_DEPTH} levels deep",
                    "a spec needs only a few levels",
                )
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def read_text(data: bytes, file: str) -> Value:
    """Parse one YAML document from ``data`` into located values."""
    start = Location(file)
    if len(data) > MAX_BYTES:
        raise SpecSyntaxError(start, f"the file is larger than {MAX_BYTES:,} bytes", "")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecSyntaxError(
            start, f"the file is not UTF-8 text (byte {exc.start})", "save the spec as UTF-8"
        ) from None
    if "\x00" in text:
        raise SpecSyntaxError(start, "the file contains NUL bytes", "a spec is YAML text")
    try:
        _check_depth(text, file)  # PyYAML's composer recurses: bound the depth first
        docs = list(yaml.compose_all(text, Loader=LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else start
        raise SpecSyntaxError(loc, f"invalid YAML: {exc.problem or exc.context}", "") from None
    except yaml.YAMLError as exc:
        raise SpecSyntaxError(start, f"invalid YAML: {exc}", "") from None
    docs = [d for d in docs if d is not None]
    if not docs:
        raise SpecSyntaxError(
            start, "the file is empty", "a spec is a mapping with name, inputs, layers"
        )
    if len(docs) > 1:
        raise SpecSyntaxError(
            _Reader(file).loc(docs[1]),
            f"the file holds {len(docs)} YAML documents",
            "one spec per file",
        )
    return _Reader(file).read(docs[0])


def read_file(path: str) -> Value:
    """Read and parse the spec file at ``path``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecSyntaxError(
            Location(path, 1, 1), f"cannot read the file ({exc.strerror})", ""
        ) from None
    return read_text(data, path)
