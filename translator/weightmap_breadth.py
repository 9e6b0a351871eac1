"""Weight maps of the breadth layers: 3-D and transposed convolutions, depthwise and separable
convolutions, PReLU, Group- and RMSNormalization, attention and PositionEmbedding.

The same declarative tables as ``translator.weightmap`` (which imports this module so that
every map is registered): per framework one ``Entry`` per tensor, from canonical tensors in
Keras's layout, keyed by the Keras tensor's role. Shared layers and a tied Dense's kernel
need no entry: the IR gives them no tensors (they are stored once, at the original layer or
in the Embedding), so the checks find nothing to fill.
"""

from __future__ import annotations

from translator.ir import Node
from translator.ops.attention import PREFIX
from translator.ops.conv_transpose import TRANSPOSES
from translator.ops.depthwise import DEPTHWISE, SEPARABLE
from translator.transforms import Chain, Map, Pack, Reshape, Shape, Transpose
from translator.weightmap import Entry, LayerMap, conv_map, e, simple_map, weight_map


@weight_map(*TRANSPOSES)
def conv_transpose_map(node: Node) -> LayerMap:
    """Keras's (*window, out, in) → PyTorch's and ONNX's (in, out, *window): the axes move as
    a forward convolution's do (the last two to the front, swapped). No flip: the three
    frameworks scatter the same, unflipped kernel."""
    return conv_map(node)


def depthwise_kernel(shape: Shape) -> Map:
    """Keras's (*window, c, m) → PyTorch's and ONNX's (c·m, 1, *window): output channel
    ``i·m + j`` is input channel ``i``'s ``j``-th filter, the row-major merge of (c, m)."""
    *window, c, m = shape
    rank = len(window)
    return Chain(
        (
            Reshape((*window, c * m), shape),
            Transpose((rank, *range(rank))),
            Reshape((c * m, 1, *window), (c * m, *window)),
        )
    )


@weight_map(*DEPTHWISE)
def depthwise_map(node: Node) -> LayerMap:
    """One filter set per input channel: a grouped convolution (groups = channels) in
    PyTorch and ONNX, whose kernel has one input channel per group."""
    kernel = depthwise_kernel(next(w.shape for w in node.weights["keras"] if w.name == "kernel"))
    return simple_map(
        node,
        {
            "keras": (e("kernel", "kernel"), e("bias", "bias")),
            "torch": (e("weight", "kernel", via=kernel), e("bias", "bias")),
            "onnx": (e("W", "kernel", via=kernel), e("B", "bias")),
        },
    )


@weight_map(*SEPARABLE)
def separable_map(node: Node) -> LayerMap:
    """A depthwise kernel (as ``depthwise_map``'s) then a 1×1 pointwise one (as a forward
    convolution's); the bias belongs to the pointwise convolution."""
    rank = SEPARABLE[node.type]
    keras = {w.name: w.shape for w in node.weights["keras"]}
    depthwise = depthwise_kernel(keras["depthwise_kernel"])
    pointwise = Transpose((rank + 1, rank, *range(rank)))
    return simple_map(
        node,
        {
            "keras": tuple(e(r, r) for r in ("depthwise_kernel", "pointwise_kernel", "bias")),
            "torch": (
                e("depthwise.weight", "depthwise_kernel", via=depthwise),
                e("pointwise.weight", "pointwise_kernel", via=pointwise),
                e("pointwise.bias", "bias"),
            ),
            "onnx": (
                e("depthwise_W", "depthwise_kernel", via=depthwise),
                e("pointwise_W", "pointwise_kernel", via=pointwise),
                e("B", "bias"),
            ),
        },
    )


@weight_map("PReLU")
def prelu_map(node: Node) -> LayerMap:
    """One slope per input element (shared axes of size 1), in the spec's layout everywhere:
    the backends apply it where the tensor is in that layout."""
    return simple_map(
        node,
        {
            "keras": (e("alpha", "alpha"),),
            "torch": (e("weight", "alpha"),),
            "onnx": (e("slope", "alpha"),),
        },
    )


@weight_map("GroupNormalization")
def groupnorm_map(node: Node) -> LayerMap:
    """A scale and an offset per channel, in every framework."""
    return simple_map(
        node,
        {
            "keras": (e("gamma", "gamma"), e("beta", "beta")),
            "torch": (e("weight", "gamma"), e("bias", "beta")),
            "onnx": (e("scale", "gamma"), e("B", "beta")),
        },
    )


@weight_map("RMSNormalization")
def rmsnorm_map(node: Node) -> LayerMap:
    """The scale over the normalized (trailing) axes, the same shape everywhere."""
    return simple_map(
        node,
        {
            "keras": (e("scale", "gamma"),),
            "torch": (e("weight", "gamma"),),
            "onnx": (e("scale", "gamma"),),
        },
    )


@weight_map("PositionEmbedding")
def position_embedding_map(node: Node) -> LayerMap:
    """One (sequence_length, features) table everywhere."""
    return simple_map(
        node,
        {
            "keras": (e("embeddings", "embeddings"),),
            "torch": (e("weight", "embeddings"),),
            "onnx": (e("embeddings", "embeddings"),),
        },
    )


def merge_heads(shape: Shape, axis: int) -> Map:
    """Keras's separate (heads, head size) axes at ``axis`` → one axis of heads·size, head
    major: how PyTorch and ONNX lay the heads out along a projection's features."""
    return Reshape((*shape[:axis], shape[axis] * shape[axis + 1], *shape[axis + 2 :]), shape)


def linear_weight(shape: Shape, axis: int) -> Map:
    """Heads merged at ``axis``, then transposed: a PyTorch (out features, in features)
    weight, as ``nn.Linear`` and ``nn.MultiheadAttention`` keep them."""
    return Chain((merge_heads(shape, axis), Transpose()))


def _role_entries(role: str, shapes: dict[str, Shape]) -> dict[str, list[Entry]]:
    """The query, key or value projection: Keras (in, heads, size) kernel and (heads, size)
    bias; PyTorch's custom module (heads·size, in) and ONNX's (in, heads·size)."""
    kernel, bias = f"{role}_kernel", f"{role}_bias"
    flat = merge_heads(shapes[kernel], 1)
    out: dict[str, list[Entry]] = {
        "keras": [e(f"{role}/kernel", kernel)],
        "torch": [e(f"{role}.weight", kernel, via=linear_weight(shapes[kernel], 1))],
        "onnx": [e(f"{PREFIX[role]}_W", kernel, via=flat)],
    }
    if bias in shapes:
        heads = merge_heads(shapes[bias], 0)
        out["keras"].append(e(f"{role}/bias", bias))
        out["torch"].append(e(f"{role}.bias", bias, via=heads))
        out["onnx"].append(e(f"{PREFIX[role]}_B", bias, via=heads))
    return out


def _output_entries(shapes: dict[str, Shape]) -> dict[str, list[Entry]]:
    """The output projection: Keras (heads, size, out); PyTorch (out, heads·size) in both
    its modules; ONNX (heads·size, out)."""
    flat, weight = (
        merge_heads(shapes["output_kernel"], 0),
        linear_weight(shapes["output_kernel"], 0),
    )
    return {
        "keras": [
            e("attention_output/kernel", "output_kernel"),
            e("attention_output/bias", "output_bias"),
        ],
        "torch": [
            e("output.weight", "output_kernel", via=weight),
            e("out_proj.weight", "output_kernel", via=weight),
            e("output.bias", "output_bias"),
            e("out_proj.bias", "output_bias"),
        ],
        "onnx": [e("out_W", "output_kernel", via=flat), e("out_B", "output_bias")],
    }


def _native_entries(shapes: dict[str, Shape]) -> list[Entry]:
    """``nn.MultiheadAttention``'s own tensors: the three projections packed in one
    (3E, E) ``in_proj_weight`` (rows: query, key, value) when key and value are E wide, else
    ``q/k/v_proj_weight``; one packed ``in_proj_bias``. The IR says which exist."""
    roles = ("query", "key", "value")
    out = [
        Entry(
            "in_proj_weight",
            tuple(f"{r}_kernel" for r in roles),
            Pack(linear_weight(shapes["query_kernel"], 1)),
        ),
        *(
            e(
                f"{PREFIX[r]}_proj_weight",
                f"{r}_kernel",
                via=linear_weight(shapes[f"{r}_kernel"], 1),
            )
            for r in roles
        ),
    ]
    if "query_bias" in shapes:
        biases = tuple(f"{r}_bias" for r in roles)
        out.append(Entry("in_proj_bias", biases, Pack(merge_heads(shapes["query_bias"], 0))))
    return out


@weight_map("MultiHeadAttention", "GroupQueryAttention")
def attention_map(node: Node) -> LayerMap:
    """Keras keeps heads as their own axes; PyTorch and ONNX merge them into the feature
    axis, head major. PyTorch's native ``nn.MultiheadAttention`` (when it can express the
    sizes) packs the input projections; its custom module keeps one per role."""
    shapes = {w.role: w.shape for w in node.weights["keras"]}
    tables: dict[str, list[Entry]] = {"keras": [], "torch": [], "onnx": []}
    for part in (*(_role_entries(r, shapes) for r in PREFIX), _output_entries(shapes)):
        for fw, entries in part.items():
            tables[fw] += entries
    tables["torch"] += _native_entries(shapes)
    return simple_map(node, {fw: tuple(entries) for fw, entries in tables.items()})
