"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding1D/2D/3D, Cropping1D/2D,
UpSampling1D/2D and RepeatVector. None has weights.

They work on the spec's layout directly (every layer hands on tensors in that layout), so
Flatten's row-major order is Keras's. The modules are the standalone ones
(``backends/torch/standalone/layers.py`` and ``resampling.py``) that ``export`` copies into
``model.py``; the descriptions here derive their arguments from the IR.
"""

from __future__ import annotations

from typing import Any

from backends.torch.conv import PAD_OPS, folded_padding, pad_pairs, zeros
from backends.torch.importing import FUNCTIONS, MODULES, ModuleCall, Reading, Refused, arg, op_name
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node
from translator.ops.reshape import CROPPINGS, PADDINGS


@describes("Flatten")
def describe_flatten(node: Node) -> Call:
    """Flatten() → ``nn.Flatten`` (row-major, in the layout the layer runs in: channels first
    after images, the next Dense's weight rows in that order)."""
    return call("nn.Flatten")


@describes("Reshape")
def describe_reshape(node: Node) -> Call:
    """Reshape(target_shape) → ``Reshape``."""
    return call("Reshape", **arguments(node, "target_shape"))


@describes("Permute")
def describe_permute(node: Node) -> Call:
    """Permute(dims) → ``Permute``."""
    return call("Permute", **arguments(node, "dims"))


@describes("ZeroPadding2D", *PADDINGS)
def describe_zero_padding(node: Node) -> Call:
    """ZeroPadding1D/2D/3D(padding=1, data_format) → on channels-first data,
    ``nn.ZeroPad1d/2d/3d``; otherwise ``ZeroPadding`` (``F.pad`` on the spec's spatial axes)."""
    a = node.physical_args
    pairs = tuple(tuple(pair) for pair in a["padding"])
    if a["data_format"] == "channels_first":
        flat = tuple(p for pair in reversed(pairs) for p in pair)  # last axis first
        return call(f"nn.ZeroPad{len(pairs)}d", flat)
    return call("ZeroPadding", **arguments(node, "padding", "data_format"))


@describes(*CROPPINGS)
def describe_cropping(node: Node) -> Call:
    """Cropping1D(cropping=1) / Cropping2D(cropping=0, data_format) → ``Cropping``, ``F.pad``
    with negative amounts (Cropping1D has no data_format: it always crops axis 1, the steps)."""
    layout = arguments(node, "data_format") if "data_format" in node.physical_args else {}
    return call("Cropping", node.physical_args["cropping"], **layout)


@describes("UpSampling1D")
def describe_upsampling1d(node: Node) -> Call:
    """UpSampling1D(size=2) → on channels-first sequences ``nn.Upsample(scale_factor=size)``
    (nearest: each step repeated); otherwise ``Repeat`` along the steps."""
    size = node.physical_args["size"]
    if node.physical_args.get("data_format") == "channels_first":
        return call("nn.Upsample", scale_factor=size)
    return call("Repeat", (size,), (1,))


@describes("UpSampling2D")
def describe_upsampling2d(node: Node) -> Call:
    """UpSampling2D(size=2, data_format, interpolation=nearest|bilinear) → ``Repeat`` of rows
    and columns (nearest) or ``BilinearUpSampling2D``."""
    a = node.physical_args
    factors = tuple(a["size"])
    if a["interpolation"] == "bilinear":
        return call("BilinearUpSampling2D", factors, a["data_format"])
    first = 2 if a["data_format"] == "channels_first" else 1
    return call("Repeat", factors, (first, first + 1))


@describes("RepeatVector")
def describe_repeat_vector(node: Node) -> Call:
    """RepeatVector(n) → ``RepeatVector``."""
    return call("RepeatVector", node.physical_args["n"])


# Importing: nn.Flatten / torch.flatten from axis 1 → Flatten; view/reshape keeping the batch
# axis → Flatten (to one axis) or Reshape (to the program's static shape); permute keeping the
# batch axis → Permute.


@MODULES.register("Flatten")
@FUNCTIONS.register("Flatten")
def read_flatten(r: Reading, call: ModuleCall) -> None:
    """nn.Flatten() or torch.flatten(x, 1) → Flatten."""
    node = call.op("flatten")
    if arg(node, 1, "start_dim", 0) != 1 or arg(node, 2, "end_dim", -1) not in (
        -1,
        len(Reading.shape(node.args[0])) - 1,
    ):
        raise Refused("it flattens other axes than all but the batch axis")
    r.add(call, {"type": "Flatten"}, [node.args[0]], node)


@FUNCTIONS.register("View", "Reshape")
def read_view(r: Reading, call: ModuleCall) -> None:
    """x.view / x.reshape keeping the batch axis → Flatten or Reshape (no layer if unchanged)."""
    node = call.nodes[0]
    given, shape = Reading.shape(node.args[0]), Reading.shape(node)
    if shape[0] != given[0]:
        raise Refused("it reshapes across the batch axis")
    if shape == given:
        r.refs[node] = r.value(node.args[0])
        return
    layer = (
        {"type": "Flatten"}
        if len(shape) == 2
        else {"type": "Reshape", "target_shape": list(shape[1:])}
    )
    r.add(call, layer, [node.args[0]], node)


@FUNCTIONS.register("Permute")
def read_permute(r: Reading, call: ModuleCall) -> None:
    """x.permute(0, *dims) keeping the batch axis first → Permute(dims) (Whisper's frames
    after its convolutions: ``permute(0, 2, 1)``); the axes are the spec's, counted from 1."""
    node = call.nodes[0]
    rank = len(Reading.shape(node.args[0]))
    dims = [int(d) % rank for d in arg(node, 1, "dims")]
    if dims[0] != 0:
        raise Refused("it moves the batch axis")
    if dims == list(range(rank)):
        r.refs[node] = r.value(node.args[0])
        return
    r.add(call, {"type": "Permute", "dims": dims[1:]}, [node.args[0]], node)


# What the program does without changing a value: a cast to the dtype it has (``.to`` after
# an embedding), an alias, a check of a tensor's metadata (no value at all).


@FUNCTIONS.register("To", "Alias", "Contiguous")
def read_same_values(r: Reading, call: ModuleCall) -> None:
    """x.to(x.dtype), torch.ops.aten.alias(x), x.contiguous() → no layer: x's name."""
    node = call.nodes[0]
    if node.meta["val"].dtype != node.args[0].meta["val"].dtype:
        raise Refused("a cast to another dtype, which no spec layer makes")
    r.refs[node] = r.value(node.args[0])


@FUNCTIONS.register("AssertTensorMetadata")
def read_metadata_check(r: Reading, call: ModuleCall) -> None:
    """torch._assert_tensor_metadata(x, …): a check at tracing, no value; nothing to add."""


@MODULES.register("ZeroPad1d", "ZeroPad2d", "ZeroPad3d")
def read_zero_pad(r: Reading, call: ModuleCall) -> None:
    """nn.ZeroPad1d/2d/3d(pads) → ZeroPadding1D/2D/3D (channels first); none where the
    convolution it feeds takes it in as its padding (``conv.folded_padding``)."""
    node = call.op(*PAD_OPS)
    if not zeros(node):
        raise Refused("a pad with another value than zero")
    if folded_padding(node) is not None:
        return  # the convolution reads the unpadded input, padding "same" or "causal"
    pairs = pad_pairs(node)
    if len(pairs) != len(Reading.shape(node)) - 2:
        raise Refused("it pads other axes than the spatial ones")
    layer = {"type": f"ZeroPadding{len(pairs)}D", "padding": pairs}
    r.add(call, layer, [node.args[0]], node)


@MODULES.register("RepeatVector")
def read_repeat_vector(r: Reading, call: ModuleCall) -> None:
    """``RepeatVector(n)``: (batch, d) → (batch, n, d), each vector repeated → RepeatVector."""
    node, x = call.nodes[-1], call.nodes[0].args[0]
    given, shape = Reading.shape(x), Reading.shape(node)
    if len(given) != 2 or len(shape) != 3 or (shape[0], shape[2]) != given:
        raise Refused("a repeat of other than vectors along a new axis 1")
    r.add(call, {"type": "RepeatVector", "n": shape[1]}, [x], node)


# Importing Keras's 1-D layers that work on the steps (axis 1 of (batch, steps, features))
# from operations on the last axis of channels-first sequences (after a Conv1D): the spec's
# layer between two Permutes, as a channels-first spec must write it.
STEPS_SWAPPED = [2, 1]  # Permute(dims): (channels, steps) ↔ (steps, channels)


def on_steps(r: Reading, call: ModuleCall, layer: dict[str, Any], x: Any, output: Any) -> None:
    """``layer`` on the steps of the channels-first sequence ``x``, making ``output``:
    Permute, the layer, Permute back."""
    base = call.path or call.nodes[0].name
    permute = {"type": "Permute", "dims": STEPS_SWAPPED}
    turned, done = ("steps first", base), ("steps last", base)  # keys no fx node equals
    last = r.layers[-1] if r.layers else {}
    if last == {"name": r.refs.get(x), **permute} and len(x.users) == 1:
        r.sources.pop(r.layers.pop()["name"])  # a Permute back, read only here: they cancel
        r.refs[turned] = str(r.previous())
    else:
        r.add(ModuleCall(f"{base}_steps_first", call.cls, call.nodes), permute, [x], turned)
    r.add(call, layer, [turned], done)
    r.add(ModuleCall(f"{base}_channels_first", call.cls, call.nodes), permute, [done], output)


@MODULES.register("Upsample")
@FUNCTIONS.register("UpsampleNearest1d")
def read_upsampling(r: Reading, call: ModuleCall) -> None:
    """nn.Upsample(scale_factor=n) (nearest) or F.interpolate on channels-first sequences,
    by a whole factor → UpSampling1D(n) between Permutes."""
    node = call.op("upsample_nearest1d")
    given, shape = Reading.shape(node.args[0]), Reading.shape(node)
    size = shape[-1] // given[-1]
    scales = arg(node, 2, "scale_factors")
    if len(call.nodes) != 1 or shape[-1] != size * given[-1] or size < 1:
        raise Refused("an upsampling by other than a whole factor")
    if scales is not None and [float(s) for s in scales] != [float(size)]:
        raise Refused(f"a scale factor {scales} other than the sizes' ratio {size}")
    on_steps(r, call, {"type": f"UpSampling{len(shape) - 2}D", "size": size}, node.args[0], node)


@MODULES.register("Cropping")
@FUNCTIONS.register("Pad", "ConstantPadNd")
def read_cropping(r: Reading, call: ModuleCall) -> None:
    """F.pad by negative amounts only on the spatial axes (model.py's ``Cropping``) →
    Cropping2D (channels first), or Cropping1D on the steps between Permutes."""
    node = call.op(*PAD_OPS)
    pairs = pad_pairs(node)
    rank = len(Reading.shape(node)) - 2
    mode = arg(node, 2, "mode", "constant") if op_name(node) == "pad" else "constant"
    if len(call.nodes) != 1 or mode != "constant":
        raise Refused("a pad by a mode other than zeros")
    if len(pairs) != rank or rank > 2 or any(p > 0 for pair in pairs for p in pair):
        raise Refused("a pad by other than negative amounts of the spatial axes (a cropping)")
    layer = {"type": f"Cropping{rank}D", "cropping": [[-p for p in pair] for pair in pairs]}
    if rank == 2:
        r.add(call, layer, [node.args[0]], node)
        return
    on_steps(r, call, layer, node.args[0], node)
