"""Spec loader: safe YAML → validated, normalized, shape-inferred IR ``Graph``.

The schema is applied here once: unknown keys, types and arguments are reported with the
closest accepted names, defaults are filled in, references are resolved, shapes inferred and
per-framework weight tensors predicted. Every problem found is collected and raised together
as ``SpecErrors`` (each one a ``FILE:LINE:COL: error: ...`` line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import translator.ops  # noqa: F401  (fills the registries)
from translator.errors import (
    BudgetExceeded,
    InvalidArgumentValue,
    InvalidReference,
    Location,
    SpecError,
    SpecErrors,
    SpecSyntaxError,
    UnknownArgument,
    UnknownLayerType,
    suggestion,
)
from translator.ir import INPUT, Graph, Node, Shape
from translator.ir.graph import freeze
from translator.ir.placement import place
from translator.ir.registries import SHAPES, WEIGHTS
from translator.ops.wrappers import wrappable
from translator.spec.blocks import Expander, is_instance, parse_blocks
from translator.spec.checkpoint import parse_checkpoint
from translator.spec.schema import (
    FROM_SPEC,
    SCHEMAS,
    Bool,
    Choice,
    Dims,
    LayerName,
    LayerSchema,
    canonical_type,
    known_type_names,
)
from translator.spec.source import Value, read_file, read_text
from translator.spec.values import identifier, kind, mapping, nonempty_list, snake_case

TOP_KEYS = (
    "name",
    "description",
    "data_format",
    "blocks",
    "inputs",
    "layers",
    "outputs",
    "checkpoint",
)
REQUIRED_TOP = ("name", "inputs", "layers")
INPUT_KEYS = ("name", "shape", "dtype")
LAYER_KEYS = ("type", "name", "inputs", "trainable")
DATA_FORMATS = Choice(("channels_last", "channels_first"))
DTYPES = Choice(("float32", "int32", "int64"))
# Stands for the output of a layer that could not be made and had no name of its own.
BROKEN = "<a layer with an error>"


class _Consequence(Exception):
    """A layer takes (or shares, or ties to) one that has an error already reported: its own
    would only follow from that one, so it is not checked and nothing more is reported."""


@dataclass
class _Context:
    """State of one load: the file, the errors so far, names taken, nodes built."""

    file: str
    data_format: str = "channels_last"
    errors: list[SpecError] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)  # block instance → its output layer

    def auto_name(self, type_: str) -> str:
        """``lstm``, ``lstm_1``, ... per spec, skipping names the spec uses explicitly."""
        base = snake_case(type_)
        while True:
            n = self.counters.get(base, 0)
            self.counters[base] = n + 1
            name = base if n == 0 else f"{base}_{n}"
            if name not in self.taken:
                self.taken.add(name)
                return name


def load(path: str) -> Graph:
    """Load the spec at ``path`` into a ``Graph``; raises ``SpecErrors`` on any problem."""
    try:
        return _build(read_file(path), _Context(path))
    except SpecError as error:
        raise SpecErrors([error]) from None


def load_text(text: str | bytes, file: str = "<spec>") -> Graph:
    """Load a spec given as text (used by tests and tools)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        return _build(read_text(data, file), _Context(file))
    except SpecError as error:
        raise SpecErrors([error]) from None


def _build(doc: Value, ctx: _Context) -> Graph:
    top = mapping(doc, "the spec", TOP_KEYS, REQUIRED_TOP)
    name = identifier(top["name"], "the spec's name")
    if "data_format" in top:
        ctx.data_format = DATA_FORMATS.coerce(
            top["data_format"].plain(), top["data_format"].loc, "the spec", "data_format"
        )
    description = top["description"].value if "description" in top else ""
    if not isinstance(description, str):
        raise InvalidArgumentValue(top["description"].loc, "'description' must be text", "a string")
    layer_values = nonempty_list(top["layers"], "'layers'")
    _reserve_names(layer_values, ctx)
    inputs = [_input(item, ctx) for item in nonempty_list(top["inputs"], "'inputs'")]
    previous = inputs[0].name if len(inputs) == 1 else None
    expander = Expander(parse_blocks(top.get("blocks")), ctx.auto_name, ctx.aliases)
    try:
        expander.reserve_plain(layer_values)
        for item in layer_values:
            if is_instance(item):
                previous = _instance(item, expander, ctx, previous)
            else:
                expander.count_layer(item.loc, "at this layer")
                previous = _layer(item, ctx, previous)
    except BudgetExceeded as error:  # nothing after it is checked
        raise SpecErrors([*ctx.errors, error]) from None
    if ctx.errors:
        raise SpecErrors(ctx.errors)
    outputs = _outputs(top.get("outputs"), ctx, previous)
    for node in ctx.nodes.values():
        for ref in node.inputs:
            ctx.nodes[ref].readers += (node,)
    graph = Graph(
        name,
        ctx.file,
        description,
        ctx.data_format,
        list(ctx.nodes.values()),
        [i.name for i in inputs],
        outputs,
        parse_checkpoint(top.get("checkpoint"), ctx.nodes),
    )
    return place(graph)


def _reserve_names(layers: list[Value], ctx: _Context) -> None:
    """Explicit layer names are taken before any automatic name is derived."""
    for item in layers:
        if isinstance(item.value, dict) and isinstance(
            item.value.get("name", Value(None, item.loc)).value, str
        ):
            ctx.taken.add(item.value["name"].value)


def _claim(name_value: Value, ctx: _Context, what: str) -> str:
    name = identifier(name_value, what)
    if name in ctx.nodes:
        raise InvalidArgumentValue(
            name_value.loc,
            f"the name '{name}' is used twice",
            "give each input and layer a unique name",
        )
    ctx.taken.add(name)
    return name


def _input(item: Value, ctx: _Context) -> Node:
    spec = mapping(item, "an input", INPUT_KEYS, ("name", "shape"))
    name = _claim(spec["name"], ctx, "an input's name")
    shape = Dims().coerce(spec["shape"].plain(), spec["shape"].loc, f"input '{name}'", "shape")
    dtype = (
        DTYPES.coerce(spec["dtype"].plain(), spec["dtype"].loc, f"input '{name}'", "dtype")
        if "dtype" in spec
        else "float32"
    )
    node = Node(
        name,
        INPUT,
        {"shape": shape, "dtype": dtype},
        (),
        item.loc,
        output_shapes=(shape,),
        dtype=dtype,
    )
    node.weights = WEIGHTS[INPUT](node)
    ctx.nodes[name] = node
    return node


def _resolve_type(spec: dict[str, Value], item: Value) -> tuple[str, LayerSchema]:
    if "type" not in spec:
        raise SpecSyntaxError(item.loc, "a layer has no 'type'", "e.g. type: Dense")
    raw = spec["type"].value
    canonical = canonical_type(raw) if isinstance(raw, str) else None
    if canonical is None or canonical == INPUT:
        accepted = suggestion(str(raw), [t for t in known_type_names() if t != INPUT], "types")
        raise UnknownLayerType(spec["type"].loc, f"unknown layer type {raw!r}", accepted)
    return canonical, SCHEMAS[canonical]


def _node(item: Value, ctx: _Context, wrapped_in: str | None = None) -> Node:
    """A node with validated, default-filled args; not yet wired or shape-inferred."""
    if not isinstance(item.value, dict):
        raise SpecSyntaxError(
            item.loc,
            f"a layer must be a mapping, not {kind(item.value)}",
            "type: ... plus the layer's arguments",
        )
    spec: dict[str, Value] = item.value
    if "share" in spec and wrapped_in is None:
        return _shared_node(spec, item, ctx)
    type_, schema = _resolve_type(spec, item)
    if wrapped_in and type_ not in wrappable(wrapped_in):
        raise InvalidArgumentValue(
            spec["type"].loc,
            f"{wrapped_in} cannot wrap {type_}",
            "accepted: " + ", ".join(wrappable(wrapped_in)),
        )
    name = _claim(spec["name"], ctx, "a layer's name") if "name" in spec else ctx.auto_name(type_)
    where = f"layer '{name}' ({type_})"
    args = _args(spec, schema, where, ctx, wrapped_in is not None)
    node = Node(name, type_, args, (), item.loc)
    if "trainable" in spec:
        node.trainable = Bool().coerce(
            spec["trainable"].plain(), spec["trainable"].loc, where, "trainable"
        )
    return node


SHARE_KEYS = ("share", "name", "inputs")


def _shared_node(spec: dict[str, Value], item: Value, ctx: _Context) -> Node:
    """``{share: NAME, inputs: ...}``: the layer NAME applied again, with the same weights."""
    for key, value in spec.items():
        if key not in SHARE_KEYS:
            raise UnknownArgument(
                value.key_loc or value.loc,
                f"a layer that shares another takes only {', '.join(SHARE_KEYS)}; got '{key}'",
                "its arguments are those of the shared layer",
            )
    ref = spec["share"]
    if ref.value in ctx.broken:
        raise _Consequence
    layers = [n for n in ctx.nodes if ctx.nodes[n].type != INPUT]
    if not isinstance(ref.value, str) or ref.value not in layers:
        raise InvalidReference(
            ref.loc,
            f"'share' names {ref.value!r}, not an earlier layer",
            suggestion(str(ref.value), layers, "layers"),
        )
    original = ctx.nodes[ref.value]
    original = ctx.nodes[original.shares] if original.shares else original
    name = (
        _claim(spec["name"], ctx, "a layer's name")
        if "name" in spec
        else ctx.auto_name(original.type)
    )
    return Node(
        name,
        original.type,
        original.args,
        (),
        item.loc,
        shares=original.name,
        links=original.links,
        trainable=original.trainable,
    )


def _link(node: Node, ctx: _Context) -> None:
    """Resolve arguments that name other layers (``tie``) into ``node.links``."""
    for arg in SCHEMAS[node.type].args:
        target = node.args.get(arg.name)
        if not isinstance(arg.kind, LayerName) or target is None or arg.name in node.links:
            continue
        if target in ctx.broken:
            raise _Consequence
        if target == node.name or target not in ctx.nodes:
            earlier = [n for n in ctx.nodes if n != node.name]
            raise InvalidReference(
                node.loc,
                f"layer '{node.name}' ({node.type}): '{arg.name}' names {target!r}, not an earlier layer",
                suggestion(target, earlier, "layers"),
            )
        node.links[arg.name] = ctx.nodes[target]
    if node.inner is not None:
        _link(node.inner, ctx)  # a wrapped layer may name other layers too


def _args(
    spec: dict[str, Value], schema: LayerSchema, where: str, ctx: _Context, wrapped: bool
) -> dict[str, Any]:
    allowed = [a.name for a in schema.args] + [
        k for k in LAYER_KEYS if not (wrapped and k == "inputs")
    ]
    args: dict[str, Any] = {}
    for key, value in spec.items():
        if key in LAYER_KEYS and key != "inputs":
            continue
        if key not in schema.arg_index:
            if key == "inputs" and not wrapped:
                continue
            accepted = suggestion(key, allowed, f"arguments of {schema.type}")
            raise UnknownArgument(
                value.key_loc or value.loc, f"{where}: unknown argument '{key}'", accepted
            )
        arg = schema.arg_index[key]
        if arg.kind.describe() == "layer mapping":
            args[key] = _node(value, ctx, schema.type)
        elif value.value is None and arg.default is None:
            args[key] = None
        else:
            args[key] = arg.kind.coerce(value.plain(), value.loc, where, key)
    for arg in schema.args:
        if arg.name in args:
            continue
        if arg.required:
            raise InvalidArgumentValue(
                _loc(spec),
                f"{where}: missing required argument '{arg.name}'",
                f"{arg.name}: {arg.kind.describe()}",
            )
        default = ctx.data_format if arg.default is FROM_SPEC else arg.default
        # Defaults go through the same coercion as written values (1 → (1, 1) for strides).
        args[arg.name] = (
            None if default is None else arg.kind.coerce(default, _loc(spec), where, arg.name)
        )
    return args


def _loc(spec: dict[str, Value]) -> Location:
    return spec["type"].loc


def _instance(item: Value, expander: Expander, ctx: _Context, previous: str | None) -> str | None:
    """Expand a block instance and load its layers; errors are collected, not raised."""
    try:
        layers, output = expander.instance(item, previous)
    except BudgetExceeded:
        raise
    except SpecError as error:
        ctx.errors.append(error)
        return _failed(item, ctx)
    for layer in layers:
        name = _layer(layer, ctx, previous)
        if name in ctx.nodes:
            ctx.nodes[name].block = expander.paths.get(name, ())
        previous = name
    return output


def _layer(item: Value, ctx: _Context, previous: str | None) -> str | None:
    """Validate, wire and infer one layer; errors are collected, not raised."""
    try:
        node = _node(item, ctx)
    except _Consequence:
        return _failed(item, ctx)
    except SpecError as error:
        ctx.errors.append(error)
        return _failed(item, ctx)
    ctx.nodes[node.name] = node
    try:
        node.inputs = _references(item.value.get("inputs"), ctx, previous, node)
        if any(ref in ctx.broken for ref in node.inputs):
            raise _Consequence
        _infer(node, ctx)
    except _Consequence:
        ctx.broken.add(node.name)
    except SpecError as error:
        ctx.errors.append(error)
        ctx.broken.add(node.name)
    return node.name


def _failed(item: Value, ctx: _Context) -> str:
    """The name later layers know a layer (or block instance) by that could not be made;
    marked broken, so that what takes it reports nothing more."""
    given = item.value.get("name") if isinstance(item.value, dict) else None
    name = given.value if given is not None else None
    name = name if isinstance(name, str) and name not in ctx.nodes else BROKEN
    ctx.broken.add(name)
    return name


def _references(
    value: Value | None, ctx: _Context, previous: str | None, node: Node
) -> tuple[str, ...]:
    where = f"layer '{node.name}' ({node.type})"
    if value is None:
        if previous is None:
            raise InvalidReference(
                node.loc,
                f"{where}: has no 'inputs' and there is no single previous tensor to take",
                "name its inputs, e.g. inputs: x",
            )
        return (previous,)
    raw = value.value if isinstance(value.value, list) else [value]
    refs = []
    for ref in raw:
        ref = ref if isinstance(ref, Value) else Value(ref, value.loc)
        if isinstance(ref.value, str) and ref.value in ctx.aliases:
            ref = Value(ctx.aliases[ref.value], ref.loc)  # a block instance: its output
        if not isinstance(ref.value, str):
            raise InvalidReference(
                ref.loc,
                f"{where}: 'inputs' must name layers or inputs. Received: {ref.value!r}",
                "a name or a list of names",
            )
        if ref.value in ctx.broken and ref.value != node.name:
            refs.append(ref.value)  # reported where it broke; the caller stops here
            continue
        if ref.value == node.name or ref.value not in ctx.nodes:
            later = ref.value in ctx.taken
            problem = "refers to itself or a later layer" if later else "refers to an unknown name"
            earlier = [n for n in ctx.nodes if n != node.name]
            raise InvalidReference(
                ref.loc,
                f"{where}: 'inputs' {problem} '{ref.value}'",
                suggestion(ref.value, earlier, "names (model inputs and earlier layers)"),
            )
        refs.append(ref.value)
    return tuple(refs)


def _infer(node: Node, ctx: _Context) -> None:
    shapes: list[Shape] = [s for ref in node.inputs for s in ctx.nodes[ref].output_shapes]
    schema = SCHEMAS[node.type]
    count = len(shapes)
    if count < schema.min_inputs or (schema.max_inputs is not None and count > schema.max_inputs):
        expected = (
            f"{schema.min_inputs} or more" if schema.max_inputs is None else str(schema.max_inputs)
        )
        raise InvalidReference(
            node.loc,
            f"layer '{node.name}' ({node.type}) takes {expected} input tensors, got {count}",
            "set 'inputs' accordingly",
        )
    dtypes = {ctx.nodes[ref].dtype for ref in node.inputs}
    if not SCHEMAS[node.type].token_ids and dtypes - {"float32"}:
        raise InvalidReference(
            node.loc,
            f"layer '{node.name}' ({node.type}) gets integer input",
            "integer token ids go into an Embedding first",
        )
    if SCHEMAS[node.type].token_ids and "float32" in dtypes:
        raise InvalidReference(
            node.loc,
            f"layer '{node.name}' ({node.type}) gets float32 input, but it reads integer token ids",
            "feed it an input with dtype int32 or int64",
        )
    node.input_shapes = tuple(shapes)
    _link(node, ctx)
    node.output_shapes = SHAPES[node.type](node)
    node.weights = WEIGHTS[node.type](node)
    if node.frozen:
        node.weights = freeze(node.weights)
    if node.shares:
        if node.weights != ctx.nodes[node.shares].weights:
            raise node.shape_error(
                f"it shares '{node.shares}', whose weights were made for a different input",
                "apply a shared layer only to inputs shaped like its first one",
            )
        node.weights = {fw: () for fw in node.weights}  # stored and counted at the original


def _outputs(value: Value | None, ctx: _Context, last: str | None) -> list[str]:
    if value is None:
        return [last] if last else []
    raw = value.value if isinstance(value.value, list) else [value]
    names = []
    for ref in raw:
        if isinstance(ref.value, str) and ref.value in ctx.aliases:
            ref = Value(ctx.aliases[ref.value], ref.loc)
        if not isinstance(ref.value, str) or ref.value not in ctx.nodes:
            raise InvalidReference(
                ref.loc,
                f"'outputs' names unknown layer {ref.value!r}",
                suggestion(str(ref.value), ctx.nodes, "names"),
            )
        names.append(ref.value)
    if len(set(names)) != len(names):
        raise InvalidReference(value.loc, "'outputs' lists a name twice", "list each output once")
    return names
