"""Pooling: Max/AveragePooling1D/2D/3D and their global forms. None has weights.

Padding ``same`` follows TensorFlow (extra element at the end): max pooling pads with -inf so
padding never wins; average pooling leaves the padding out of each window's count, as Keras
does (ONNX ``count_include_pad=0``). On channels-first data they are ``nn.MaxPool*d`` /
``nn.AvgPool*d`` (an uneven padding as ``ceil_mode=True`` where the stride is above 1);
otherwise the standalone modules (``backends/torch/standalone/spatial.py``) that ``export``
copies into ``model.py``.
"""

from __future__ import annotations

from typing import Any

from backends.torch import program
from backends.torch.conv import padding_of, per_axis, zero_padded
from backends.torch.importing import FUNCTIONS, MODULES, ModuleCall, Reading, Refused, arg, op_name
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, Description, call, steps
from backends.torch.standalone.describe import compact
from translator.ir import Node
from translator.ir.layout import same_pairs
from translator.ops.pooling import GLOBAL_POOLS, POOLS

# Layer type → its windowed pooling module (the rank comes from the window's arguments).
POOL_CLASSES = {
    "MaxPooling1D": "MaxPooling",
    "MaxPooling2D": "MaxPooling",
    "MaxPooling3D": "MaxPooling",
    "AveragePooling1D": "AveragePooling",
    "AveragePooling2D": "AveragePooling",
    "AveragePooling3D": "AveragePooling",
}
# Global pooling type → its reduction.
REDUCTIONS = {
    "GlobalAveragePooling1D": "mean",
    "GlobalAveragePooling2D": "mean",
    "GlobalAveragePooling3D": "mean",
    "GlobalMaxPooling1D": "max",
    "GlobalMaxPooling2D": "max",
    "GlobalMaxPooling3D": "max",
}


@describes(*POOLS)
def describe_pooling(node: Node) -> Call:
    """Max/AveragePooling1D/2D/3D(pool_size=2, strides=None, padding=valid|same,
    ceil_mode=False, data_format) → ``nn.MaxPool*d`` / ``nn.AvgPool*d``, else ``MaxPooling``
    or ``AveragePooling``."""
    a = node.physical_args
    strides = tuple(a["strides"] or a["pool_size"])
    native = native_pooling(node, tuple(a["pool_size"]), strides)
    if native is not None:
        return native
    window = {"pool_size": tuple(a["pool_size"]), "strides": strides}
    more = {"padding": a["padding"], "data_format": a["data_format"]}
    if a["ceil_mode"]:
        more["ceil_mode"] = True
    return call(POOL_CLASSES[node.type], **window, **more)


def native_pooling(node: Node, size: tuple[int, ...], strides: tuple[int, ...]) -> Call | None:
    """``nn.MaxPool*d`` / ``nn.AvgPool*d`` (padding left out of the average, as TensorFlow
    does) on channels-first data; ``None`` on channels-last data or sizes not known.

    TensorFlow's "same" pads (before, after) with ``after`` equal to ``before`` or one more.
    The module pads ``before`` on both sides; where one axis needs one more at the end,
    ``ceil_mode=True`` adds the last window, which PyTorch clips to the padded input and, the
    padding left out, averages over its elements inside the input: TensorFlow's window."""
    a = node.physical_args
    if a["data_format"] != "channels_first":
        return None
    pairs: tuple[tuple[int, int], ...] = ((0, 0),) * len(size)
    if a["padding"] == "same":
        if None in node.input_shape:
            return None
        shape = node.input_shape
        sizes = shape[1:] if node.args["data_format"] == "channels_first" else shape[:-1]
        pairs = same_pairs(node.known(sizes), size, strides, (1,) * len(size)) or ()
        if not _ceil_fits(node.known(sizes), pairs, size, strides):
            return None
    kind = "Max" if node.type.startswith("Max") else "Avg"
    more: dict[str, Any] = {} if strides == size else {"stride": compact(strides)}
    if any(before for before, _ in pairs):
        more["padding"] = compact(before for before, _ in pairs)
    if any(before != after for before, after in pairs) or a["ceil_mode"]:
        more["ceil_mode"] = True
    if kind == "Avg" and (a["ceil_mode"] or any(before or after for before, after in pairs)):
        # ceil_mode: the clipped last window averages its elements inside the input only.
        more["count_include_pad"] = False
    return call(f"nn.{kind}Pool{len(size)}d", compact(size), **more)


def _ceil_fits(
    sizes: tuple[int, ...],
    pairs: tuple[tuple[int, int], ...],
    size: tuple[int, ...],
    strides: tuple[int, ...],
) -> bool:
    """Whether ``nn.*Pool*d(padding=before, ceil_mode=True)`` makes TensorFlow's windows:
    PyTorch refuses a window larger than the input and its padding on both sides, and with
    stride 1 the ceiling adds no window (the one more zero at the end needs a stride > 1)."""
    for n, (before, after), k, s in zip(sizes, pairs, size, strides, strict=True):
        if n + 2 * before < k or (after != before and s == 1):
            return False
    return True


@describes(*GLOBAL_POOLS)
def describe_global_pooling(node: Node) -> Description:
    """GlobalMax/AveragePooling1D/2D/3D(data_format, keepdims=False) → ``GlobalPooling``
    over the spatial axes (the batch axis is 0)."""
    first = 2 if node.physical_args["data_format"] == "channels_first" else 1
    rank = GLOBAL_POOLS[node.type]
    reduce = REDUCTIONS[node.type]
    if first == 2:
        kind = "Avg" if reduce == "mean" else "Max"
        main = call(f"nn.Adaptive{kind}Pool{rank}d", 1)
        flat = () if node.physical_args["keepdims"] else (("flatten", call("nn.Flatten")),)
        return steps(main, (), flat)
    dims = tuple(range(first, first + rank))
    return call("GlobalPooling", reduce, dims=dims, keepdims=node.physical_args["keepdims"])


# Importing: nn.MaxPool/AvgPool 1d/2d/3d → Max/AveragePooling (pads equal to TF's "same":
# ``padding: same``, for a max pool or an average leaving pads out; an average counting zero
# pads gets a ZeroPadding layer first; ceil_mode=True without pads: ``ceil_mode: true``
# unless TF's "same" computes the same windows); nn.AdaptiveAvgPool to size 1 → the global average
# pool, taking in a flatten that follows it, as a person writes it.
WINDOW_POOLS = {"MaxPool": "MaxPooling", "AvgPool": "AveragePooling"}
# Operations whose values are never negative: a max over them is the same with zero pads as
# with PyTorch's -inf pads (ResNet's stem: ReLU, then MaxPool2d(3, 2, padding=1)).
NON_NEGATIVE = ("relu", "relu6", "hardtanh", "sigmoid")


def _ceil_same(node: Any, kernel: list[int], strides: list[int], maximum: bool) -> str:
    """``same`` for a ceil_mode pool computing TensorFlow's "same" (as ``native_pooling``
    writes it: pads equal to its ``before``, an average leaving them out); else refused."""
    rank = len(kernel)
    pads = per_axis(arg(node, 3, "padding", 0), rank)
    same = same_pairs(Reading.shape(node.args[0])[2:], kernel, strides, [1] * rank)
    counted = not maximum and any(pads) and arg(node, 5, "count_include_pad", True)
    pairs = list(zip(same or (), strides, strict=False))
    uneven = any(b != e and s == 1 for (b, e), s in pairs)
    if same is None or counted or uneven or [b for b, _ in same] != pads:
        raise Refused("ceil_mode=True makes a larger output than the spec's pools")
    return "same"


def _ceil_padding(node: Any, kernel: list[int], strides: list[int], maximum: bool) -> str:
    """A ceil_mode pool's spec padding: ``same`` where it computes TensorFlow's "same"
    (``_ceil_same``), else ``valid`` (with ``ceil_mode: true``) where it pads nothing."""
    try:
        return _ceil_same(node, kernel, strides, maximum)
    except Refused as exc:
        if any(per_axis(arg(node, 3, "padding", 0), len(kernel))):
            raise Refused(
                "ceil_mode=True with padding (the spec's ceil_mode pads nothing)"
            ) from exc
        return "valid"


def _window_pool(r: Reading, call: ModuleCall) -> None:
    node = call.op(
        "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"
    )
    rank = len(Reading.shape(node)) - 2
    kernel = per_axis(arg(node, 1, "kernel_size"), rank)
    strides = per_axis(arg(node, 2, "stride") or kernel, rank)
    maximum = op_name(node).startswith("max")
    if maximum and (arg(node, 4, "dilation", 1) not in (1, [1] * rank)):
        raise Refused("a dilated pooling window has no spec equivalent")
    ceil = bool(arg(node, 5 if maximum else 4, "ceil_mode", False))
    if ceil:
        padding, pads = _ceil_padding(node, kernel, strides, maximum), None
    else:
        padding, pads = padding_of(
            node.args[0], arg(node, 3, "padding", 0), kernel, strides, [1] * rank
        )
    x = node.args[0]
    zeros_kept = maximum and op_name(node.args[0]) in NON_NEGATIVE  # zeros pad as -inf does
    if (
        pads is not None
        and not zeros_kept
        and (maximum or not arg(node, 5, "count_include_pad", True))
    ):
        raise Refused("pads that are not TensorFlow's same (a max pool pads with -inf)")
    if padding == "same" and not maximum and arg(node, 5, "count_include_pad", True):
        padding, pads = "valid", [[b, b] for b in per_axis(arg(node, 3, "padding", 0), rank)]
    if pads is not None:
        x = zero_padded(r, call, x, pads)
    kind = WINDOW_POOLS["MaxPool" if maximum else "AvgPool"]
    layer: dict[str, Any] = {"type": f"{kind}{rank}D", "pool_size": kernel, "padding": padding}
    if strides != kernel:
        layer["strides"] = strides
    if ceil and padding == "valid":
        layer["ceil_mode"] = True
    r.add(call, layer, [x], node)


for _base in WINDOW_POOLS:
    MODULES.register(*(f"{_base}{k}d" for k in (1, 2, 3)))(_window_pool)


def _pooled(call: ModuleCall) -> tuple[Any, str]:
    """The node of an adaptive pool's values (a max pool also gives indices), and its kind."""
    node = call.nodes[-1]
    if not call.cls.startswith("AdaptiveMax"):
        return node, "Average"
    pool = call.op("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d")
    values = [u for u in pool.users if op_name(u) == "getitem" and u.args[1] == 0]
    if len(values) != 1 or any(u.users for u in pool.users if u.args[1] != 0):
        raise Refused("its indices are read (the spec's pools give values only)")
    return values[0], "Max"


@MODULES.register(*(f"Adaptive{k}Pool{n}d" for k in ("Avg", "Max") for n in (1, 2, 3)))
@FUNCTIONS.register("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d")
def read_adaptive_pool(r: Reading, call: ModuleCall) -> None:
    """nn.AdaptiveAvg/MaxPoolNd(1) → GlobalAverage/MaxPoolingND (a flatten after it taken
    in)."""
    node, kind = _pooled(call)
    shape = Reading.shape(node)
    if any(n != 1 for n in shape[2:]):
        raise Refused(f"an adaptive pool to {list(shape[2:])}, not to size 1 (a global pool)")
    output, keep = node, True
    user = r.only_user(node)
    if user is not None and user.op == "call_function" and len(Reading.shape(user)) == 2:
        flatten = r.call_of(user)
        if len(flatten.nodes) == 1 and op_name(user) in ("flatten", "view", "reshape"):
            r.claim(flatten)
            output, keep = user, False
    layer = {"type": f"Global{kind}Pooling{len(shape) - 2}D", "keepdims": keep}
    r.add(call, layer, [call.nodes[0].args[0]], output)


@MODULES.register("GlobalPooling")
def read_global_pooling(r: Reading, call: ModuleCall) -> None:
    """``GlobalPooling(reduce, dims, keepdims)``, ``model.py``'s pool over the spatial axes
    of channels-last data → GlobalMax/AveragePoolingND(data_format=channels_last)."""
    node = call.op("mean", "amax")
    rank = len(Reading.shape(node.args[0]))
    dims = sorted(int(d) % rank for d in arg(node, 1, "dim"))
    if dims != list(range(1, rank - 1)):
        raise Refused("it reduces other axes than the spatial ones of channels-last data")
    kind = "Max" if op_name(node) == "amax" else "Average"
    layer = {"type": f"Global{kind}Pooling{rank - 2}D", "keepdims": arg(node, 2, "keepdim", False)}
    r.add(call, layer, [node.args[0]], node)
    program.last(r)


@MODULES.register("AveragePooling", "MaxPooling")
def read_channels_last_pooling(r: Reading, call: ModuleCall) -> None:
    """model.py's pooling of channels-last data without pads (the channels moved first,
    pooled, moved back) → Max/AveragePoolingND(data_format=channels_last, padding=valid)."""
    ops = [op_name(n) for n in call.nodes]
    if ops[0] != "permute" or ops[-1] != "permute":
        raise Refused("a channels-last pooling in another form than model.py's")
    if len(ops) != 3:
        raise Refused("a padded channels-last pooling (pads TensorFlow's way, no layer reads)")
    node = call.nodes[1]
    rank = len(Reading.shape(node)) - 2
    kernel = per_axis(arg(node, 1, "kernel_size"), rank)
    strides = per_axis(arg(node, 2, "stride") or kernel, rank)
    kind = WINDOW_POOLS["MaxPool" if op_name(node).startswith("max") else "AvgPool"]
    layer = {"type": f"{kind}{rank}D", "pool_size": kernel, "strides": strides}
    r.add(call, layer, [call.nodes[0].args[0]], call.nodes[-1])
    program.last(r)
