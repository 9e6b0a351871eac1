"""Wrappers: TimeDistributed and Bidirectional. Each holds a wrapped layer under `layer:`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from translator.ir import FRAMEWORKS, Graph, Node, Shape, WeightSpec
from translator.ir.layout import natural_axes
from translator.ir.placement import NATURAL, Layout, Step, layout_rule, on_images, rule_of
from translator.ir.registries import SHAPES, WEIGHTS, formula, formula_rule, shape_rule, weight_rule
from translator.ops.recurrent import GATES, Direction, rnn_map, rnn_shape, rnn_weights
from translator.spec.schema import REQUIRED, SCHEMAS, Arg, Choice, LayerSchema, Nested, layer_schema
from translator.weights.maps import MAPS, Entry, LayerMap, weight_map

MERGE_MODES = ("concat", "sum", "mul", "ave", None)

layer_schema(
    "TimeDistributed",
    "wrappers",
    "Applies the wrapped layer to every time step (axis 1) independently.",
    Arg("layer", Nested(), REQUIRED, "the layer applied per step"),
)
layer_schema(
    "Bidirectional",
    "wrappers",
    "Runs a recurrent layer forwards and backwards and merges the two outputs.",
    Arg("layer", Nested(), REQUIRED, "a SimpleRNN, LSTM or GRU"),
    Arg("merge_mode", Choice(MERGE_MODES), "concat", "how outputs merge (null: two outputs)"),
)

# Which layer types each wrapper accepts; the loader checks this.
WRAPPABLE: dict[str, Callable[[LayerSchema], bool]] = {
    "Bidirectional": lambda schema: schema.type in GATES,
    # One tensor per step in, so no merges.
    "TimeDistributed": lambda schema: schema.min_inputs == schema.max_inputs == 1,
}


def wrappable(wrapper: str) -> list[str]:
    """The layer types ``wrapper`` accepts under ``layer:``."""
    return [t for t, schema in SCHEMAS.items() if WRAPPABLE[wrapper](schema)]


def _inner_node(node: Node, input_shape: Shape) -> Node:
    inner = node.wrapped
    inner.input_shapes = (input_shape,)
    return inner


@shape_rule("TimeDistributed")
def time_distributed_shape(node: Node) -> tuple[Shape, ...]:
    if len(node.input_shape) < 2:
        raise node.shape_error(
            "expects an input with a time axis (batch, time, ...)", "add a time axis"
        )
    steps, rest = node.input_shape[0], node.input_shape[1:]
    inner = _inner_node(node, rest)
    inner.output_shapes = SHAPES[inner.type](inner)
    return ((steps, *inner.output_shape),)


@weight_rule("TimeDistributed")
def time_distributed_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    inner = node.wrapped
    inner.weights = WEIGHTS[inner.type](inner)
    prefix = _td_prefix(inner)
    return {
        fw: tuple(replace(w, name=prefix[fw] + w.name) for w in tensors)
        for fw, tensors in inner.weights.items()
    }


@shape_rule("Bidirectional")
def bidirectional_shape(node: Node) -> tuple[Shape, ...]:
    inner = _inner_node(node, node.input_shape)
    if inner.args["num_layers"] > 1:
        # PyTorch feeds both directions of layer i into layer i+1; Keras's Bidirectional runs
        # each direction's stack alone. Neither can build the other's exactly.
        raise node.shape_error(
            "Bidirectional cannot wrap a layer with num_layers > 1",
            "stack Bidirectional layers instead",
        )
    units = inner.args["units"]
    inner.output_shapes = (rnn_shape(inner, units),)
    mode = node.args["merge_mode"]
    if mode is None:
        return (inner.output_shape, inner.output_shape)
    return (rnn_shape(inner, 2 * units if mode == "concat" else units),)


@weight_rule("Bidirectional")
def bidirectional_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    inner = node.wrapped
    inner.weights = WEIGHTS[inner.type](inner)
    # Keras names the copies forward_<name> / backward_<name> (not doubling a forward_ or
    # backward_ the name already starts with); PyTorch's bidirectional RNN adds _reverse to
    # the second direction's tensors; ONNX stacks both in one tensor.
    directions = (
        (f"forward_{inner.name.removeprefix('forward_')}/", ""),
        (f"backward_{inner.name.removeprefix('backward_')}/", "_reverse"),
    )
    return rnn_weights(inner, directions)


def _td_prefix(inner: Node) -> dict[str, str]:
    """How each framework names the wrapped layer's tensors inside a TimeDistributed."""
    return {"keras": f"{inner.name}/", "torch": "layer.", "onnx": ""}


@weight_map("TimeDistributed")
def time_distributed_map(node: Node) -> LayerMap:
    """The wrapped layer's map, with the wrapper's tensor names."""
    inner = node.wrapped
    if not any(inner.weights.get(fw) for fw in FRAMEWORKS):
        return LayerMap({}, {fw: () for fw in FRAMEWORKS})
    inner_map = MAPS[inner.type](inner)
    prefix = _td_prefix(inner)
    return LayerMap(
        inner_map.canonical,
        {
            fw: tuple(Entry(prefix[fw] + x.target, x.sources, x.combine) for x in entries)
            for fw, entries in inner_map.entries.items()
        },
    )


@weight_map("Bidirectional")
def bidirectional_map(node: Node) -> LayerMap:
    """Keras's forward_/backward_ copies, PyTorch's ``_reverse`` tensors, ONNX's stacked
    directions (the prefixes follow ``bidirectional_weights``)."""
    base = node.wrapped.name
    directions = (
        Direction("forward/", f"forward_{base.removeprefix('forward_')}/", ""),
        Direction("backward/", f"backward_{base.removeprefix('backward_')}/", "_reverse"),
    )
    # The wrapped node with the wrapper's tensors (both directions), which the IR holds.
    return rnn_map(replace(node.wrapped, weights=node.weights), directions)


@formula_rule("TimeDistributed")
def time_distributed_formula(node: Node) -> str:
    return "the wrapped layer's " + formula(node.wrapped).rsplit(" = ", 1)[0]


@formula_rule("Bidirectional")
def bidirectional_formula(node: Node) -> str:
    return "2 directions × " + formula(node.wrapped).rsplit(" = ", 1)[0]


@layout_rule("TimeDistributed")
def time_distributed_layout(node: Node, inputs: tuple[Layout, ...], graph: Graph) -> Step:
    """TimeDistributed of an image layer runs channels first, (batch, time, C, H, W), its
    wrapped layer on (batch * time, C, H, W); of anything else, in the spec's layout."""
    inner = node.wrapped
    rank = len(node.input_shape)
    if rule_of(inner) is not on_images or inner.args.get("data_format") != "channels_last":
        return Step()
    # Natural only when the time axis stays where it is: (T, H, W, C) → (T, C, H, W).
    if natural_axes(graph, node.input_shape) != (0, 1, rank, *range(2, rank)):
        return Step()
    return Step(NATURAL, NATURAL)


def bidirectional_layer(inner: dict[str, Any], merge_mode: str | None = "concat") -> dict[str, Any]:
    """The spec layer running the recurrent spec layer ``inner`` both ways, the two outputs
    merged by ``merge_mode``: what the importers make of PyTorch's and ONNX's bidirectional
    recurrent layers."""
    merged = {} if merge_mode == "concat" else {"merge_mode": merge_mode}
    return {"type": "Bidirectional", **merged, "layer": inner}
