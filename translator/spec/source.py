"""Safe YAML reading that keeps the line and column of every value.

Only PyYAML's *parser* runs (no constructor for arbitrary tags), so a Python-object tag is
refused rather than executed; and not even the composer: values are built from the parser's
events without recursion, each distinct scalar converted once. The number of values (an
alias counted as what it names, without expanding it) and the nesting depth are bounded, so
a "billion laughs" document or a pathological nest is refused quickly and in bounded memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from translator.errors import InternalError, Location, SpecSyntaxError

# Budget on YAML values: every scalar, list and mapping (keys included), an alias counted
# as all the values it stands for. A layer takes about 5 to 10 values, so this is ten values
# for each of the 200,000 layers a spec may expand to (``blocks.MAX_LAYERS``); an alias bomb
# passes it after a few aliases, counted from the size of what each alias names without
# expanding anything.
MAX_VALUES = 2_000_000
MAX_DEPTH = 64  # lists and mappings open at once; a spec needs only a few levels
MAX_BYTES = 10 * 1024 * 1024  # a 200,000-layer spec of one line per layer fits
# libyaml's C parser when present (same events and marks, several times faster).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")
}
_MERGE = "tag:yaml.org,2002:merge"


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


@dataclass
class _Open:
    """A list or mapping whose items are still being read."""

    items: list[Value] | dict[str, Value]
    loc: Location
    key_loc: Location | None
    anchor: str | None
    first: int  # the value count when it opened: its own size is the count at its end minus this
    key: Value | None = None  # in a mapping: the key read, waiting for its value


class _Reader:
    """Builds ``Value`` objects from parser events, iteratively, within the budgets.

    Aliases share the ``Value`` they name (no copy) and count as its size, so an alias bomb
    is refused after a handful of events and in no more memory than its text.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.values = 0
        self.open: list[_Open] = []
        self.anchors: dict[str, tuple[Value, int]] = {}  # anchor → (its value, its size)
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.tags: dict[tuple[str, tuple[bool, bool]], str] = {}  # (text, implicit) → tag
        self.scalars: dict[tuple[str, str], Any] = {}  # (tag, text) → Python value

    def loc(self, event: yaml.Event) -> Location:
        mark = event.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def document(self, events: Iterator[yaml.Event]) -> Value:
        """Read one node's events (a whole document) into a ``Value``."""
        for event in events:
            done = self._event(event)
            if done is not None:
                return done
        raise InternalError("the YAML parser ended a document inside a value")

    def _event(self, event: yaml.Event) -> Value | None:
        """Take one event; the finished top-level value once there is one."""
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            self._start(event)
            return None
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            frame = self.open.pop()
            value = Value(frame.items, frame.loc, frame.key_loc)
            self._anchor(frame.anchor, value, self.values - frame.first)
        elif isinstance(event, yaml.AliasEvent):
            value = self._alias(event)
        elif isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event)
        else:
            raise InternalError(f"unexpected YAML event inside a document: {event}")
        return self._add(value)

    def _count(self, size: int, event: yaml.Event) -> None:
        self.values += size
        if self.values <= MAX_VALUES:
            return
        if isinstance(event, yaml.AliasEvent):
            raise SpecSyntaxError(
                self.loc(event),
                f"YAML aliases expand the document to more than {MAX_VALUES:,} values"
                " (an alias bomb?)",
                "write the spec without deeply repeated YAML aliases",
            )
        raise SpecSyntaxError(
            self.loc(event),
            f"the document holds more than {MAX_VALUES:,} YAML values (budget)",
            "a spec of up to 200,000 layers of a few arguments each fits",
        )

    def _key_loc(self) -> Location | None:
        """Where the key of the value being read was written, in a mapping."""
        top = self.open[-1] if self.open else None
        return top.key.loc if top is not None and top.key is not None else None

    def _awaits_key(self) -> bool:
        top = self.open[-1] if self.open else None
        return top is not None and isinstance(top.items, dict) and top.key is None

    def _start(self, event: yaml.CollectionStartEvent) -> None:
        self._count(1, event)
        self._check_tag(
            event.tag, event, "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
        )
        if len(self.open) >= MAX_DEPTH:
            raise SpecSyntaxError(
                self.loc(event),
                f"values are nested more than {MAX_DEPTH} levels deep",
                "a spec needs only a few levels",
            )
        items: list[Value] | dict[str, Value] = (
            {} if isinstance(event, yaml.MappingStartEvent) else []
        )
        self._claim(event.anchor, event)
        self.open.append(
            _Open(items, self.loc(event), self._key_loc(), event.anchor, self.values - 1)
        )

    def _check_tag(self, tag: str | None, event: yaml.Event, kind: str) -> str:
        """The standard tag of a list or mapping; a Python-object or other tag is refused."""
        tag = f"tag:yaml.org,2002:{kind}" if tag in (None, "!") else tag
        if tag not in _STANDARD_TAGS:
            raise SpecSyntaxError(
                self.loc(event),
                f"YAML tag {tag!r} is not allowed",
                "plain YAML values only (strings, numbers, booleans, null, lists, mappings)",
            )
        return tag

    def _claim(self, anchor: str | None, event: yaml.Event) -> None:
        """Refuse an anchor given twice, as PyYAML's composer does."""
        if anchor is not None and anchor in self.anchors:
            raise SpecSyntaxError(
                self.loc(event), f"invalid YAML: found duplicate anchor {anchor!r}", ""
            )

    def _anchor(self, anchor: str | None, value: Value, size: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)

    def _alias(self, event: yaml.AliasEvent) -> Value:
        if event.anchor not in self.anchors:
            opened = any(frame.anchor == event.anchor for frame in self.open)
            problem = "refers to a value that contains it" if opened else "is not defined"
            raise SpecSyntaxError(
                self.loc(event), f"invalid YAML: alias *{event.anchor} {problem}", ""
            )
        value, size = self.anchors[event.anchor]
        self._count(size, event)
        return Value(value.value, value.loc, self._key_loc())

    def _scalar(self, event: yaml.ScalarEvent) -> Value:
        self._count(1, event)
        tag = event.tag
        if tag in (None, "!"):
            tag = self._resolve(event.value, event.implicit)
        if tag == _MERGE and self._awaits_key():
            raise SpecSyntaxError(self.loc(event), "YAML merge keys ('<<') are not allowed", "")
        self._check_tag(tag, event, "str")
        self._claim(event.anchor, event)
        value = Value(self._construct(tag, event), self.loc(event), self._key_loc())
        self._anchor(event.anchor, value, 1)
        return value

    def _resolve(self, text: str, implicit: tuple[bool, bool]) -> str:
        """The implicit tag of an untagged scalar (``4`` → int), once per distinct scalar."""
        key = (text, implicit)
        if key not in self.tags:
            self.tags[key] = self.resolver.resolve(yaml.ScalarNode, text, implicit)
        return self.tags[key]

    def _construct(self, tag: str, event: yaml.ScalarEvent) -> Any:
        """The scalar's Python value; a spec repeats few distinct scalars, so each is made once."""
        key = (tag, event.value)
        if key not in self.scalars:
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            try:
                self.scalars[key] = self.constructor.construct_object(node)
            except ValueError:  # an integer of more digits than Python converts (4,300)
                raise SpecSyntaxError(
                    self.loc(event),
                    f"the number is too long to read ({len(event.value):,} characters)",
                    "numbers of at most a few digits",
                ) from None
        return self.scalars[key]

    def _add(self, value: Value) -> Value | None:
        """Put a finished value into the open list or mapping; return it when it is the top."""
        if not self.open:
            return value
        top = self.open[-1]
        if isinstance(top.items, list):
            top.items.append(value)
        elif top.key is None:
            top.key = value
        else:
            self._put(top, top.key, value)
            top.key = None
        return None

    def _put(self, top: _Open, key: Value, value: Value) -> None:
        items = top.items
        if not isinstance(items, dict):
            raise InternalError("a YAML key was read into a list")
        if not isinstance(key.value, str):
            raise SpecSyntaxError(
                key.loc, f"mapping key {key.plain()!r} is not a string", "keys are plain names"
            )
        if key.value in items:
            raise SpecSyntaxError(
                key.loc, f"key {key.value!r} appears twice in this mapping", "write each key once"
            )
        items[key.value] = value


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
        first, later = _documents(text, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else start
        raise SpecSyntaxError(loc, f"invalid YAML: {exc.problem or exc.context}", "") from None
    except yaml.YAMLError as exc:
        raise SpecSyntaxError(start, f"invalid YAML: {exc}", "") from None
    if first is None:
        raise SpecSyntaxError(
            start, "the file is empty", "a spec is a mapping with name, inputs, layers"
        )
    if later:
        raise SpecSyntaxError(
            later[0], f"the file holds {1 + len(later)} YAML documents", "one spec per file"
        )
    return first


def _documents(text: str, file: str) -> tuple[Value | None, list[Location]]:
    """The first document's value, and where each later document starts (they are parsed,
    for syntax errors, but not read)."""
    reader = _Reader(file)
    events = yaml.parse(text, Loader=LOADER)
    first: Value | None = None
    later: list[Location] = []
    for event in events:
        if not isinstance(event, yaml.DocumentStartEvent):
            continue
        if first is None:
            first = reader.document(events)
        else:
            later.append(reader.loc(next(events)))  # the later document's top value
    return first, later


def read_file(path: str) -> Value:
    """Read and parse the spec file at ``path`` (a regular file: a pipe or device could
    block the read or never end)."""
    try:
        if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
            raise SpecSyntaxError(
                Location(path, 1, 1), "not a regular file (a device or pipe)", "give a spec file"
            )
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecSyntaxError(
            Location(path, 1, 1), f"cannot read the file ({exc.strerror})", ""
        ) from None
    return read_text(data, path)
