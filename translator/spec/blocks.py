"""Reusable blocks: named sub-graphs with parameters, instantiated (and repeated) in a spec.

```yaml
blocks:
  residual:
    params: {filters: null, strides: 1}      # null: the instance must give it
    inputs: [x]                              # the block's own input names
    layers:
      - {type: Conv2D, filters: $filters, kernel_size: 3, padding: same}
      - {name: bn, type: BatchNormalization}
      - {type: Add, inputs: [x, bn]}
layers:
  - {block: residual, name: stage1, filters: 16, repeat: 3}
```

Instances are expanded into plain layers before validation, so every other part of the
translator sees an ordinary graph. A layer named ``bn`` in instance ``stage1`` becomes
``stage1_bn`` (``stage1_2_bn`` in the second repeat; ``first: 0`` numbers the copies from 0,
as PyTorch's module lists are; ``copy_names: "conv2_block{n}"`` names the copies
``conv2_block2_...``, ``conv2_block3_...`` and ``first: b`` counts them b, c, ..., as
keras.applications names its blocks); later layers may name the instance
(``inputs: stage1``) to take its output. ``$name`` takes a parameter, ``${d_model * 4}``
computes with parameters (+ - * / // % and parentheses).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from translator.errors import (
    BudgetExceeded,
    InvalidArgumentValue,
    InvalidReference,
    Location,
    SpecError,
    SpecSyntaxError,
    UnknownArgument,
    UnknownLayerType,
    suggestion,
)
from translator.spec.schema import canonical_type
from translator.spec.source import Value
from translator.spec.values import snake_case

BLOCK_KEYS = ("description", "params", "inputs", "layers", "outputs")
INSTANCE_KEYS = ("block", "name", "inputs", "repeat", "first", "copy_names", "trainable")
MAX_REPEAT = 1000
MAX_FIRST = 10**6  # the number of a repeat's first copy (a letter counts a to z)
COPY_NUMBER = "{n}"  # where ``copy_names`` puts each copy's number or letter
MAX_NESTING = 16
# Budget on the layers of a spec after block expansion, plain layers included, checked while
# expanding. About a hundred times the deepest real models (ResNet-1001 has about 3,000
# layers, a 96-block GPT-3 about 1,500) and about what ``check`` loads in ten seconds; nested
# repeats (1,000 × 1,000) pass it after expanding one repetition of the outer block.
MAX_LAYERS = 200_000
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


@dataclass(frozen=True)
class Block:
    """A parsed block definition."""

    name: str
    params: dict[str, Value]  # a Value holding None marks a required parameter
    inputs: tuple[str, ...]
    layers: tuple[Value, ...]
    output: Value | None
    loc: Any


def parse_blocks(value: Value | None) -> dict[str, Block]:
    """The spec's ``blocks:`` mapping, validated (not yet expanded)."""
    if value is None:
        return {}
    if not isinstance(value.value, dict):
        raise SpecSyntaxError(
            value.loc, "'blocks' must be a mapping of block names", "name: {layers: ...}"
        )
    return {name: _block(name, item) for name, item in value.value.items()}


def _block(name: str, item: Value) -> Block:
    where = f"block '{name}'"
    if not isinstance(item.value, dict):
        raise SpecSyntaxError(
            item.loc, f"{where} must be a mapping", "params, inputs, layers, outputs"
        )
    spec: dict[str, Value] = item.value
    for key, entry in spec.items():
        if key not in BLOCK_KEYS:
            raise UnknownArgument(
                entry.key_loc or entry.loc,
                f"{where}: unknown key '{key}'",
                suggestion(key, BLOCK_KEYS, "keys"),
            )
    if (
        "layers" not in spec
        or not isinstance(spec["layers"].value, list)
        or not spec["layers"].value
    ):
        raise SpecSyntaxError(item.loc, f"{where} needs a non-empty 'layers' list", "layers: [...]")
    params = spec["params"].value if "params" in spec else {}
    if not isinstance(params, dict):
        raise SpecSyntaxError(
            spec["params"].loc, f"{where}: 'params' must be a mapping", "name: default"
        )
    inputs = spec["inputs"].plain() if "inputs" in spec else ["x"]
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise SpecSyntaxError(
            spec.get("inputs", item).loc,
            f"{where}: 'inputs' must name the block's inputs",
            "inputs: [x]",
        )
    return Block(
        name, params, tuple(inputs), tuple(spec["layers"].value), spec.get("outputs"), item.loc
    )


def evaluate(text: str, params: dict[str, Any], loc: Any) -> Any:
    """``$name`` or ``${expression}`` over the parameters; anything else is returned as is."""
    expr = text[2:-1] if text.startswith("${") and text.endswith("}") else text[1:]
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
        return _eval(tree, params)
    except (SyntaxError, KeyError, TypeError, ZeroDivisionError, RecursionError) as exc:
        detail = (
            f"unknown parameter {exc}"
            if isinstance(exc, KeyError)
            else str(exc) or type(exc).__name__
        )
        raise InvalidArgumentValue(
            loc,
            f"cannot evaluate {text!r}: {detail}",
            "parameters: " + ", ".join(sorted(params)) if params else "",
        ) from None


def _eval(node: ast.AST, params: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return params[node.id]
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left, params), _eval(node.right, params))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, params)
    raise TypeError("only numbers, parameters, + - * / // % and parentheses are allowed")


def substitute(value: Value, params: dict[str, Value]) -> Value:
    """``value`` with every ``$...`` string replaced by its parameter's value."""
    raw = value.value
    if isinstance(raw, dict):
        return Value({k: substitute(v, params) for k, v in raw.items()}, value.loc, value.key_loc)
    if isinstance(raw, list):
        return Value([substitute(v, params) for v in raw], value.loc, value.key_loc)
    if isinstance(raw, str) and raw.startswith("$"):
        name = raw[1:]
        if name in params:  # keep where the parameter's value was written, for errors
            given = params[name]
            return Value(given.value, given.loc, value.key_loc)
        plain = {k: v.plain() for k, v in params.items()}
        return Value(evaluate(raw, plain, value.loc), value.loc, value.key_loc)
    return value


@dataclass
class Expander:
    """Expands block instances into plain layer ``Value`` mappings with full names."""

    blocks: dict[str, Block]
    auto_name: Callable[[str], str]
    aliases: dict[str, str] = field(default_factory=dict)
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    layers: int = 0  # layers of the spec so far, plain and expanded, against MAX_LAYERS
    where: Location | None = None  # the top-level instance being expanded

    def count_layer(self, loc: Location, what: str) -> None:
        """One more layer; ``what`` names it in the error when it passes ``MAX_LAYERS``."""
        self.reserve(1, loc, what)
        self.layers += 1

    def reserve(self, layers: int, loc: Location, what: str) -> None:
        """Refuse when ``layers`` more would take the spec past ``MAX_LAYERS``; the message
        says ``{count reached} {what}``."""
        reached = self.layers + layers
        if reached > MAX_LAYERS:
            raise BudgetExceeded(
                loc,
                f"the spec expands to more than {MAX_LAYERS:,} layers (budget): {reached:,} {what}",
                "use fewer repeats or smaller blocks, or split the model into several specs",
            )

    def reserve_plain(self, items: list[Value]) -> None:
        """Refuse a spec listing more plain layers than ``MAX_LAYERS`` before loading any."""
        plain = [item for item in items if not is_instance(item)]
        if len(plain) > MAX_LAYERS:
            self.reserve(len(plain), plain[MAX_LAYERS].loc, "listed under 'layers'")

    def instance(self, item: Value, previous: str | None) -> tuple[list[Value], str | None]:
        """A top-level instance: its layers, and the name of its output layer."""
        refs = self._outer_refs(item, previous)
        self.where = item.loc
        layers, output = self._expand(item, {}, refs, (), (), "")
        return layers, output

    def _outer_refs(self, item: Value, previous: str | None) -> list[Value]:
        given = item.value.get("inputs")
        if given is None:
            if previous is None:
                raise InvalidReference(
                    item.loc,
                    "a block instance has no 'inputs' and there is no single previous tensor",
                    "name its inputs",
                )
            return [Value(previous, item.loc)]
        raw = given.value if isinstance(given.value, list) else [given]
        return [
            Value(self.aliases.get(r.value, r.value), r.loc) if isinstance(r.value, str) else r
            for r in raw
        ]

    def _expand(
        self,
        item: Value,
        outer: dict[str, Value],
        refs: list[Value],
        path: tuple[str, ...],
        stack: tuple[str, ...],
        local_name: str,
        scope: str = "",
    ) -> tuple[list[Value], str]:
        """Expand one instance; ``local_name`` is its full name when nested, else empty, and
        ``scope`` the enclosing copy's prefix, which prefixes its ``copy_names``."""
        spec: dict[str, Value] = substitute(item, outer).value
        block = self._find(spec["block"], stack)
        params = self._params(block, spec)
        repeat = self._repeat(spec.get("repeat"))
        first = self._first(spec.get("first"), repeat)
        copy_names = _copy_names(spec.get("copy_names"))
        if len(refs) != len(block.inputs):
            raise InvalidReference(
                item.loc,
                f"block '{block.name}' takes {len(block.inputs)} input(s) ({', '.join(block.inputs)}), got {len(refs)}",
                "set 'inputs' accordingly",
            )
        name = local_name or (spec["name"].value if "name" in spec else self.auto_name(block.name))
        if not isinstance(name, str):
            raise InvalidArgumentValue(
                spec["name"].loc, "a block instance's name must be text", "an identifier"
            )
        out_layers: list[Value] = []
        output = ""
        for r in range(repeat):
            if copy_names is not None:
                prefix = copy_names.replace(COPY_NUMBER, _counted(first, r))
                prefix = f"{scope}_{prefix}" if scope else prefix
            else:
                prefix = f"{name}_{_counted(first, r)}" if repeat > 1 else name
            inner_path = (*path, name) if repeat == 1 else (*path, name, prefix)
            layers, output = self._body(
                block, params, refs, prefix, inner_path, (*stack, block.name)
            )
            out_layers.extend(layers)
            # The first input chains; the others (an encoder's output, a mask) reach every copy.
            refs = [Value(output, item.loc), *refs[1:]]
            if r == 0 and repeat > 1:  # every repetition expands to as many layers
                self.reserve(
                    len(layers) * (repeat - 1),
                    spec["repeat"].loc,
                    f"with block '{block.name}' repeated {repeat:,} times"
                    f" ({len(layers):,} layers each)",
                )
        if not path:
            self.aliases[name] = output
        return _frozen(out_layers, spec.get("trainable")), output

    def _find(self, ref: Value, stack: tuple[str, ...]) -> Block:
        if not isinstance(ref.value, str) or ref.value not in self.blocks:
            raise UnknownLayerType(
                ref.loc,
                f"unknown block {ref.value!r}",
                suggestion(str(ref.value), self.blocks, "blocks"),
            )
        if ref.value in stack or len(stack) >= MAX_NESTING:
            raise InvalidReference(
                ref.loc,
                f"block '{ref.value}' instantiates itself (through {' → '.join(stack)})",
                "blocks cannot be recursive",
            )
        return self.blocks[ref.value]

    def _params(self, block: Block, spec: dict[str, Value]) -> dict[str, Value]:
        params = dict(block.params)
        for key, value in spec.items():
            if key in INSTANCE_KEYS:
                continue
            if key not in block.params:
                raise UnknownArgument(
                    value.key_loc or value.loc,
                    f"block '{block.name}' has no parameter '{key}'",
                    suggestion(key, [*block.params, *INSTANCE_KEYS], "parameters"),
                )
            params[key] = value
        for key, value in params.items():
            if value.value is None:
                raise InvalidArgumentValue(
                    spec["block"].loc,
                    f"block '{block.name}': missing parameter '{key}'",
                    f"give {key}: ...",
                )
        return params

    def _first(self, value: Value | None, repeat: int) -> int | str:
        """The number of a repeat's first copy: 1, or as given (0 as PyTorch counts a
        ModuleList; 2 after a stage's different first block), or a letter (b, c, ...)."""
        if value is None:
            return 1
        found = value.value
        if isinstance(found, str) and len(found) == 1 and "a" <= found <= "z":
            if ord(found) + repeat - 1 > ord("z"):
                raise InvalidArgumentValue(
                    value.loc,
                    f"invalid first. Received: first={found!r} with repeat={repeat}, past 'z'",
                    "a letter that leaves room for every copy, or a number",
                )
            return found
        if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found <= MAX_FIRST:
            raise InvalidArgumentValue(
                value.loc,
                f"invalid first. Received: first={found!r}",
                f"a number from 0 to {MAX_FIRST:,} or a letter a-z",
            )
        return found

    def _repeat(self, value: Value | None) -> int:
        if value is None:
            return 1
        if (
            isinstance(value.value, bool)
            or not isinstance(value.value, int)
            or not 1 <= value.value <= MAX_REPEAT
        ):
            raise InvalidArgumentValue(
                value.loc,
                f"invalid repeat. Received: repeat={value.value!r}",
                f"an integer from 1 to {MAX_REPEAT}",
            )
        return value.value

    def _body(
        self,
        block: Block,
        params: dict[str, Value],
        refs: list[Value],
        prefix: str,
        path: tuple[str, ...],
        stack: tuple[str, ...],
    ) -> tuple[list[Value], str]:
        local = {n: r.value for n, r in zip(block.inputs, refs, strict=True)}
        previous = refs[0].value if len(refs) == 1 else None
        counters: dict[str, int] = {}
        out: list[Value] = []
        for raw in block.layers:
            if not isinstance(raw.value, dict):
                raise SpecSyntaxError(
                    raw.loc,
                    f"block '{block.name}': a layer must be a mapping",
                    "type: ... or block: ...",
                )
            if "block" in raw.value:
                inner_refs = self._local_refs(raw, local, previous, block)
                nested = raw.value["name"].value if "name" in raw.value else None
                nested = (
                    nested if isinstance(nested, str) else _local_name(raw.value, counters, "block")
                )
                layers, output = self._expand(
                    raw, params, inner_refs, path, stack, f"{prefix}_{nested}", prefix
                )
                out.extend(layers)
                local[nested] = output
                previous = output
                continue
            layer = substitute(raw, params)
            spec = dict(layer.value)
            local_name = spec["name"].value if "name" in spec else _local_name(spec, counters)
            if not isinstance(local_name, str):
                raise InvalidArgumentValue(
                    spec["name"].loc,
                    f"block '{block.name}': a layer's name must be text",
                    "an identifier",
                )
            full = f"{prefix}_{local_name}"
            spec["inputs"] = Value(self._local_refs(layer, local, previous, block), layer.loc)
            spec["name"] = Value(full, spec["name"].loc if "name" in spec else layer.loc)
            self.count_layer(self.where or layer.loc, f"at block '{block.name}' (in '{prefix}')")
            out.append(Value(spec, layer.loc, layer.key_loc))
            self.paths[full] = path
            local[local_name] = full
            previous = full
        return out, self._output(block, local, previous)

    def _local_refs(
        self, layer: Value, local: dict[str, str], previous: str | None, block: Block
    ) -> list[Value]:
        given = layer.value.get("inputs")
        if given is None:
            if previous is None:
                raise InvalidReference(
                    layer.loc,
                    f"block '{block.name}': a layer has no 'inputs' and there is no single previous tensor",
                    "name its inputs",
                )
            return [Value(previous, layer.loc)]
        raw = given.value if isinstance(given.value, list) else [given]
        out = []
        for ref in raw:
            if not isinstance(ref.value, str) or ref.value not in local:
                raise InvalidReference(
                    ref.loc,
                    f"block '{block.name}': 'inputs' refers to {ref.value!r}, which is not in the block",
                    suggestion(
                        str(ref.value), local, "names (block inputs and earlier block layers)"
                    ),
                )
            out.append(Value(local[ref.value], ref.loc))
        return out

    def _output(self, block: Block, local: dict[str, str], previous: str | None) -> str:
        if block.output is None:
            if previous is None:
                raise SpecError(block.loc, f"block '{block.name}' has no layers", "")
            return previous
        name = block.output.value
        if not isinstance(name, str) or name not in local:
            raise InvalidReference(
                block.output.loc,
                f"block '{block.name}': 'outputs' names {name!r}, not a block layer",
                suggestion(str(name), local, "names"),
            )
        return local[name]


def _frozen(layers: list[Value], trainable: Value | None) -> list[Value]:
    """An instance's layers with its ``trainable:`` given to each (as Keras's
    ``trainable = False`` on a model freezes all its layers); a share of another layer
    has no weights of its own, so it takes nothing."""
    if trainable is None or trainable.value is True:
        return layers
    if trainable.value is not False:
        raise InvalidArgumentValue(
            trainable.loc,
            f"a block instance's 'trainable' must be true or false. Received: "
            f"trainable={trainable.value!r}",
            "trainable: false freezes every layer of the instance",
        )
    return [
        Value({**layer.value, "trainable": trainable}, layer.loc)
        if isinstance(layer.value, dict) and "share" not in layer.value
        else layer
        for layer in layers
    ]


def is_instance(item: Value) -> bool:
    """Whether a ``layers:`` item is a block instance (``block: ...``), not a layer."""
    return isinstance(item.value, dict) and "block" in item.value


def _local_name(spec: dict[str, Value], counters: dict[str, int], key: str = "type") -> str:
    """``conv2d``, ``conv2d_1``, ... per block instance, like Keras's names."""
    raw = spec[key].value if key in spec else "layer"
    base = snake_case(canonical_type(raw) or str(raw)) if isinstance(raw, str) else "layer"
    n = counters.get(base, 0)
    counters[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _counted(first: int | str, r: int) -> str:
    """Copy ``r``'s number (``first + r``) or letter (``first``'s ``r``-th successor)."""
    return chr(ord(first) + r) if isinstance(first, str) else str(first + r)


def _copy_names(value: Value | None) -> str | None:
    """``copy_names``: the copies' name with ``{n}`` where the number goes."""
    if value is None:
        return None
    found = value.value
    text = found if isinstance(found, str) else ""
    if text.count(COPY_NUMBER) != 1 or not re.fullmatch(r"\w+", text.replace("{n}", "a"), re.A):
        raise InvalidArgumentValue(
            value.loc,
            f"invalid copy_names. Received: copy_names={found!r}",
            'a name with one {n} where the copy\'s number goes, e.g. "conv2_block{n}"',
        )
    return found
