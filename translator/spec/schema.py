"""The layer schema: one entry per layer type, written once, applied once by the loader.

Each entry lists the layer's arguments with their Keras defaults, types and allowed values.
The loader validates a spec against it and fills in every default, so builders receive
complete, normalized keyword arguments whose names are exactly the spec's argument names and
never repeat a default. User docs and the JSON Schema are generated from these entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from translator.errors import InternalError, InvalidArgumentValue, Location
from translator.registry import Registry

ACTIVATIONS = (
    "elu",
    "gelu",
    "gelu_tanh",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
)

MAX_SIZE = 2**31 - 1  # larger sizes cannot be allocated by any framework here


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
FROM_SPEC: Any = type("_FromSpec", (), {"__repr__": lambda self: "FROM_SPEC"})()


def _fail(loc: Location, where: str, name: str, value: Any, accepted: str) -> InvalidArgumentValue:
    return InvalidArgumentValue(
        loc, f"{where}: invalid value for '{name}'. Received: {name}={value!r}", accepted
    )


class Kind:
    """An argument type: coerces a raw YAML value and describes itself for docs and schema."""

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Kind):
    """An integer within ``[min, max]``."""

    min: int = 1
    max: int = MAX_SIZE

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(loc, where, name, value, f"an integer >= {self.min}")
        if not self.min <= value <= self.max:
            raise _fail(loc, where, name, value, f"an integer from {self.min} to {self.max:,}")
        return value

    def describe(self) -> str:
        return f"int >= {self.min}"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.min, "maximum": self.max}


@dataclass(frozen=True)
class Float(Kind):
    """A finite number within ``[min, max]``; ``1e-6`` written in YAML is accepted."""

    min: float = -math.inf
    max: float = math.inf
    open_max: bool = False

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> float:
        number = value
        if isinstance(value, str):  # PyYAML reads 1e-6 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                number = value
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise _fail(loc, where, name, value, "a number")
        number = float(number)
        too_big = number >= self.max if self.open_max else number > self.max
        if not math.isfinite(number) or number < self.min or too_big:
            raise _fail(loc, where, name, value, f"a finite number in {self.describe_range()}")
        return number

    def describe_range(self) -> str:
        close = ")" if self.open_max else "]"
        return f"[{self.min}, {self.max}{close}"

    def describe(self) -> str:
        return f"float in {self.describe_range()}"

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        if math.isfinite(self.min):
            out["minimum"] = self.min
        if math.isfinite(self.max):
            out["exclusiveMaximum" if self.open_max else "maximum"] = self.max
        # PyYAML (YAML 1.1) reads 1e-6 as a string; the loader accepts it as a number.
        written = {"type": "string", "pattern": r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"}
        return {"anyOf": [out, written]}


@dataclass(frozen=True)
class Floats(Kind):
    """A number, or a non-empty list of numbers (one per position along an axis)."""

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> float | tuple[float, ...]:
        number = Float()
        if isinstance(value, list) and value:
            return tuple(number.coerce(v, loc, where, name) for v in value)
        if isinstance(value, list):
            raise _fail(loc, where, name, value, "a number or a non-empty list of numbers")
        return number.coerce(value, loc, where, name)

    def describe(self) -> str:
        return "float or list of floats"

    def json_schema(self) -> dict[str, Any]:
        number = Float().json_schema()
        return {"anyOf": [number, {"type": "array", "items": number, "minItems": 1}]}


@dataclass(frozen=True)
class Bool(Kind):
    """``true`` or ``false``."""

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> bool:
        if not isinstance(value, bool):
            raise _fail(loc, where, name, value, "true or false")
        return value

    def describe(self) -> str:
        return "bool"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of strings (``None`` allowed when listed)."""

    values: tuple[Any, ...]

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> Any:
        if value not in self.values or isinstance(value, bool):
            raise _fail(loc, where, name, value, "accepted: " + self.describe())
        return value

    def describe(self) -> str:
        return ", ".join("null" if v is None else str(v) for v in self.values)

    def json_schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


ACTIVATION = Choice((None, *ACTIVATIONS))


@dataclass(frozen=True)
class Ints(Kind):
    """An int, repeated ``rank`` times, or a list of exactly ``rank`` ints."""

    rank: int
    min: int = 1

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> tuple[int, ...]:
        items = (
            [value] * self.rank if isinstance(value, int) and not isinstance(value, bool) else value
        )
        accepted = f"an integer >= {self.min} or a list of {self.rank} of them"
        if not isinstance(items, list | tuple) or len(items) != self.rank:
            raise _fail(loc, where, name, value, accepted)
        for item in items:
            if (
                isinstance(item, bool)
                or not isinstance(item, int)
                or not self.min <= item <= MAX_SIZE
            ):
                raise _fail(loc, where, name, value, accepted)
        return tuple(items)

    def describe(self) -> str:
        return f"int or list of {self.rank} ints >= {self.min}"

    def json_schema(self) -> dict[str, Any]:
        one = {"type": "integer", "minimum": self.min}
        many = {"type": "array", "items": one, "minItems": self.rank, "maxItems": self.rank}
        return {"oneOf": [one, many]}


@dataclass(frozen=True)
class IntList(Kind):
    """A non-empty list of ints, each at least ``min`` (``-1`` allowed when ``min`` is -1)."""

    min: int = 1

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> tuple[int, ...]:
        accepted = f"a non-empty list of integers >= {self.min}"
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not value:
            raise _fail(loc, where, name, value, accepted)
        for item in value:
            if (
                isinstance(item, bool)
                or not isinstance(item, int)
                or not self.min <= item <= MAX_SIZE
            ):
                raise _fail(loc, where, name, value, accepted)
            if item == 0:
                raise _fail(loc, where, name, value, accepted + ", never 0")
        return tuple(value)

    def describe(self) -> str:
        return f"list of ints >= {self.min}"

    def json_schema(self) -> dict[str, Any]:
        item = {"type": "integer", "minimum": self.min}
        return {"oneOf": [item, {"type": "array", "items": item, "minItems": 1}]}


@dataclass(frozen=True)
class Padding(Kind):
    """Zero padding: int, one int per spatial axis, or a ``[before, after]`` pair per axis."""

    rank: int

    def coerce(
        self, value: Any, loc: Location, where: str, name: str
    ) -> tuple[tuple[int, int], ...]:
        accepted = (
            f"an integer >= 0, a list of {self.rank} of them, or {self.rank} [before, after] pairs"
        )

        def whole(item: Any) -> bool:
            return isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= MAX_SIZE

        if whole(value):
            return ((value, value),) * self.rank
        if (
            self.rank == 1
            and isinstance(value, list)
            and len(value) == 2
            and all(map(whole, value))
        ):
            return ((value[0], value[1]),)  # Keras's 1-D form: (before, after)
        if not isinstance(value, list) or len(value) != self.rank:
            raise _fail(loc, where, name, value, accepted)
        pairs = []
        for item in value:
            if whole(item):
                pairs.append((item, item))
            elif isinstance(item, list) and len(item) == 2 and all(whole(i) for i in item):
                pairs.append((item[0], item[1]))
            else:
                raise _fail(loc, where, name, value, accepted)
        return tuple(pairs)

    def describe(self) -> str:
        return f"int, list of {self.rank} ints, or {self.rank} [before, after] pairs"

    def json_schema(self) -> dict[str, Any]:
        whole = {"type": "integer", "minimum": 0}
        pair = {"type": "array", "items": whole, "minItems": 2, "maxItems": 2}
        axes = {
            "type": "array",
            "items": {"oneOf": [whole, pair]},
            "minItems": self.rank,
            "maxItems": self.rank,
        }
        options = [whole, axes] + ([pair] if self.rank == 1 else [])  # 1-D: [before, after]
        return {"oneOf": options}


@dataclass(frozen=True)
class Axes(Kind):
    """An axis or list of axes (negative counts from the end; the batch axis is 0); with
    ``none`` (what null means), also null."""

    none: str = ""

    def coerce(
        self, value: Any, loc: Location, where: str, name: str
    ) -> int | tuple[int, ...] | None:
        def axis(item: Any) -> bool:
            return isinstance(item, int) and not isinstance(item, bool) and abs(item) < 64

        if axis(value):
            return value
        if isinstance(value, list) and value and all(axis(v) for v in value):
            return tuple(value)
        if value is None and self.none:
            return None
        accepted = "an integer axis or a list of them" + (
            f", or null ({self.none})" * bool(self.none)
        )
        raise _fail(loc, where, name, value, accepted)

    def describe(self) -> str:
        return "int or list of ints" + (" or null" if self.none else "")

    def json_schema(self) -> dict[str, Any]:
        options: list[dict[str, Any]] = [
            {"type": "integer"},
            {"type": "array", "items": {"type": "integer"}},
        ]
        return {"oneOf": options + ([{"type": "null"}] if self.none else [])}


@dataclass(frozen=True)
class Dims(Kind):
    """A per-example shape: a non-empty list of sizes, ``null`` for a free dimension."""

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> tuple[int | None, ...]:
        accepted = "a non-empty list of positive integers or null, e.g. [null, 1]"
        if not isinstance(value, list) or not value or len(value) > 8:
            raise _fail(loc, where, name, value, accepted)
        for item in value:
            if item is None:
                continue
            if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_SIZE:
                raise _fail(loc, where, name, value, accepted)
        return tuple(value)

    def describe(self) -> str:
        return "list of ints or null"

    def json_schema(self) -> dict[str, Any]:
        item = {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}
        return {"type": "array", "items": item, "minItems": 1, "maxItems": 8}


@dataclass(frozen=True)
class LayerName(Kind):
    """The name of an earlier layer (the loader resolves it into ``node.links``)."""

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> str:
        if not isinstance(value, str) or not value.isidentifier():
            raise _fail(loc, where, name, value, "the name of an earlier layer")
        return value

    def describe(self) -> str:
        return "layer name"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class Nested(Kind):
    """A wrapped layer, written as a mapping (``layer: {type: Dense, units: 1}``)."""

    def coerce(self, value: Any, loc: Location, where: str, name: str) -> Any:
        return value  # the loader turns it into a node; see loader._wrapped

    def describe(self) -> str:
        return "layer mapping"

    def json_schema(self) -> dict[str, Any]:
        return {"$ref": "#/$defs/layer"}


@dataclass(frozen=True)
class Arg:
    """One layer argument: its name, type, Keras default and a line of documentation."""

    name: str
    kind: Kind
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class LayerSchema:
    """Everything the loader needs to validate and normalize one layer type."""

    type: str
    family: str
    doc: str
    args: tuple[Arg, ...] = ()
    min_inputs: int = 1
    max_inputs: int | None = 1  # None: any number (merges)
    # Layout fact for export: how many spatial axes the layer's data has (1, 2 or 3); a
    # channels-last spec with such a layer takes them channels first in PyTorch and ONNX
    # (``translator.ir.layout.spatial_rank``). 0 for everything else.
    image_axes: int = 0
    aliases: tuple[str, ...] = ()  # PyTorch class names accepted as `type:` for this type
    # The argument holding the vocabulary size of a layer that reads integer token ids
    # (Embedding's input_dim); None: the layer takes float input only.
    token_ids: str | None = None
    arg_index: dict[str, Arg] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "arg_index", {a.name: a for a in self.args})


SCHEMAS: Registry[LayerSchema] = Registry("layer schema")

# PyTorch class names accepted as `type:` (``aliases=`` of each schema entry) → the
# canonical (Keras) name: one table, filled at registration, refusing duplicates.
TORCH_ALIASES: dict[str, str] = {}


def image_axes(rank: int) -> int:
    """The spatial axes of a layer with ``rank`` of them (1-D layers' data are channels
    first in PyTorch and ONNX only in a spec with a 1-D convolution: ``spatial_rank``)."""
    return rank


def layer_schema(
    type_: str,
    family: str,
    doc: str,
    *args: Arg,
    inputs: tuple[int, int | None] = (1, 1),
    image_axes: int = 0,
    aliases: tuple[str, ...] = (),
    token_ids: str | None = None,
) -> LayerSchema:
    """Register the schema of one layer type: its arguments, how many inputs it takes, its
    layout fact for export (``image_axes``), the PyTorch names accepted for it, and which
    argument is its vocabulary if it reads integer token ids (``token_ids``)."""
    entry = LayerSchema(
        type_, family, doc, tuple(args), inputs[0], inputs[1], image_axes, aliases, token_ids
    )
    for alias in aliases:
        if alias in TORCH_ALIASES or alias in SCHEMAS:
            raise InternalError(f"alias {alias!r} of {type_} is registered twice")
        TORCH_ALIASES[alias] = type_
    return SCHEMAS.add(type_, entry)


def canonical_type(name: str) -> str | None:
    """The canonical layer type for ``name`` (a Keras name or a PyTorch alias), if any."""
    if name in SCHEMAS:
        return name
    return TORCH_ALIASES.get(name)


def known_type_names() -> list[str]:
    """Every accepted ``type:`` value: canonical names and PyTorch aliases."""
    return sorted([*SCHEMAS, *TORCH_ALIASES])
