"""Attention: MultiHeadAttention, GroupQueryAttention and PositionEmbedding, composed from
MatMul, Reshape, Transpose and Softmax (opset 21 has no attention operator).

Keras's projections are EinsumDense kernels (features, heads, head size); ONNX holds each as
a (features, heads·head size) MatMul weight, the same numbers row-major, so the heads split
off by a Reshape. Scores are scaled by ``1 / sqrt(head size)`` after the dot product, as
``keras.ops.dot_product_attention`` does; dropout is off at inference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from backends.onnx.model import BUILDERS, Layer
from translator.ops.attention import PREFIX, biases, mha_dims

# What a masked score becomes before the softmax (TensorFlow's large negative): exp → 0.
MASKED = -1e9


def _inputs(inputs: list[str]) -> tuple[str, str, str]:
    """(query, value, key) in Keras's call order; value defaults to query, key to value."""
    query = inputs[0]
    value = inputs[1] if len(inputs) > 1 else query
    key = inputs[2] if len(inputs) > 2 else value
    return query, value, key


def project(layer: Layer, x: str, role: str, heads: int, size: int) -> str:
    """(batch, steps, features) → (batch, heads, steps, size) through the role's projection."""
    y = layer.op("MatMul", [x, layer.weight(f"{PREFIX[role]}_W")])
    if biases(layer.node)[role]:
        y = layer.op("Add", [y, layer.weight(f"{PREFIX[role]}_B")])
    y = layer.op("Reshape", [y, layer.ints("heads", [0, 0, heads, size])])
    return layer.op("Transpose", [y], perm=[0, 2, 1, 3])


def _causal(layer: Layer, scores: str) -> str:
    """Mask future keys: TF's ``band_part(ones(T, S), -1, 0)``, query step t sees keys ≤ t."""
    size = layer.op("Shape", [scores], start=2)
    one = numpy_helper.from_array(np.ones(1, np.float32))  # the attribute is a 1-element tensor
    ones = layer.op("ConstantOfShape", [size], value=one)
    visible = layer.op("Cast", [layer.op("Trilu", [ones], upper=0)], to=onnx.TensorProto.BOOL)
    return layer.op("Where", [visible, scores, layer.const("masked", MASKED)])


def attend(
    layer: Layer, query: str, key: str, value: str, head_size: int, bias: str | None = None
) -> str:
    """softmax(q·kᵀ × scale [+ causal mask])·v on (batch, heads, steps, size); the scale is
    the spec's ``scale`` where given, else 1 / sqrt(head_size)."""
    scores = layer.op("MatMul", [query, layer.op("Transpose", [key], perm=[0, 1, 3, 2])])
    scale = layer.args.get("scale")
    scale = 1.0 / math.sqrt(head_size) if scale is None else scale
    scores = layer.op("Mul", [scores, layer.const("scale", scale)])
    if bias is not None:  # attention_bias: (batch, heads, query steps, key steps)
        scores = layer.op("Add", [scores, bias])
    if layer.args["causal"]:
        scores = _causal(layer, scores)
    return layer.op("MatMul", [layer.op("Softmax", [scores], axis=-1), value])


def output(layer: Layer, context: str, heads: int, size: int) -> str:
    """(batch, heads, steps, size) → (batch, steps, out) through the output projection."""
    y = layer.op("Transpose", [context], perm=[0, 2, 1, 3])
    y = layer.op("Reshape", [y, layer.ints("merged", [0, 0, heads * size])])
    y = layer.op("MatMul", [y, layer.weight("out_W")])
    return layer.op("Add", [y, layer.weight("out_B")]) if biases(layer.node)["output"] else y


@BUILDERS.register("MultiHeadAttention")
def build_mha(layer: Layer, inputs: list[str]) -> list[str]:
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, output_shape=None, dropout=0,
    use_bias=True, causal=False); inputs [query], [query, value] or [query, value, key]."""
    d = mha_dims(layer.node)
    bias = inputs.pop() if layer.args["attention_bias"] else None
    query, value, key = _inputs(inputs)
    q = project(layer, query, "query", d["h"], d["kd"])
    k = project(layer, key, "key", d["h"], d["kd"])
    v = project(layer, value, "value", d["h"], d["vd"])
    return [output(layer, attend(layer, q, k, v, d["kd"], bias), d["h"], d["vd"])]


@BUILDERS.register("GroupQueryAttention")
def build_gqa(layer: Layer, inputs: list[str]) -> list[str]:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout=0,
    use_bias=True, causal=False). As Keras's ``ops.repeat(key, repeats, axis=heads)``, query
    head ``i`` reads key/value head ``i // (num_query_heads / num_key_value_heads)``."""
    a = layer.args
    hd, hq, hkv = a["head_dim"], a["num_query_heads"], a["num_key_value_heads"]
    query, value, key = _inputs(inputs)
    shared = layer.ints("shared_heads", [i // (hq // hkv) for i in range(hq)])
    q = project(layer, query, "query", hq, hd)
    k = layer.op("Gather", [project(layer, key, "key", hkv, hd), shared], axis=1)
    v = layer.op("Gather", [project(layer, value, "value", hkv, hd), shared], axis=1)
    if a["rope_max_wavelength"] is not None:
        q, k = rotated(layer, q, hd), rotated(layer, k, hd)
    return [output(layer, attend(layer, q, k, v, hd), hq, hd)]


def rotated(layer: Layer, x: str, size: int) -> str:
    """Rotary position embeddings on (batch, heads, steps, size), as Llama's: feature ``i``
    of the first half pairs with ``i + size/2`` (rotate_half), turned by the angle
    ``position / rope_max_wavelength ** (2i / size)``; positions 0 … steps − 1 counted from
    the input's own length (CumSum of ones)."""
    half, base = size // 2, layer.args["rope_max_wavelength"]
    exponents = np.arange(0, size, 2, dtype=np.float32) / np.float32(size)
    inverse = (1.0 / np.power(np.float32(base), exponents)).astype(np.float32)
    one = numpy_helper.from_array(np.ones(1, np.float32))
    ones = layer.op("ConstantOfShape", [layer.op("Shape", [x], start=2, end=3)], value=one)
    positions = layer.op("Sub", [layer.op("CumSum", [ones, layer.ints("axis", 0)]), ones])
    angles = layer.op(
        "Mul",
        [
            layer.op("Unsqueeze", [positions, layer.ints("at", [1])]),
            layer.const("inverse", inverse[None, :]),
        ],
    )
    angles = layer.op("Concat", [angles, angles], axis=-1)  # (steps, size)
    first, second = layer.ops("Split", [x, layer.ints("halves", [half, half])], 2, axis=-1)
    turned = layer.op("Concat", [layer.op("Neg", [second]), first], axis=-1)
    cos, sin = layer.op("Cos", [angles]), layer.op("Sin", [angles])
    return layer.op("Add", [layer.op("Mul", [x, cos]), layer.op("Mul", [turned, sin])])


@BUILDERS.register("PositionEmbedding")
def build_position_embedding(layer: Layer, inputs: list[str]) -> list[str]:
    """PositionEmbedding(sequence_length): the first ``steps`` rows of the embeddings,
    broadcast to the input's (batch, steps, features)."""
    (x,) = inputs
    steps = layer.op("Shape", [x], start=1, end=2)
    rows = layer.op(
        "Slice",
        [layer.weight("embeddings"), layer.ints("start", [0]), steps, layer.ints("axis", [0])],
    )
    return [layer.op("Expand", [rows, layer.op("Shape", [x])])]


# Importing (``backends.onnx.attention_layers``): the spec layers attention subgraphs and
# learned position tables of a file are, from their sizes.
def multihead_layer(heads: int, size: int, values: int, width: int, query: int) -> dict[str, Any]:
    """MultiHeadAttention(num_heads, key_dim), with value_dim and output_shape where the
    value projection's width (``values``) or the output's (``width``) is not the default."""
    layer: dict[str, Any] = {"type": "MultiHeadAttention", "num_heads": heads, "key_dim": size}
    if values != heads * size:
        layer["value_dim"] = values // heads
    if width != query:  # the spec's default: the query's width
        layer["output_shape"] = width
    return layer


def grouped_layer(heads: int, kv_heads: int, size: int, rotated: float | None) -> dict[str, Any]:
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads), rotated by
    rotary embeddings of base ``rotated`` where given."""
    layer = {"type": "GroupQueryAttention", "head_dim": size, "num_query_heads": heads}
    layer |= {"num_key_value_heads": kv_heads}
    return layer | ({"rope_max_wavelength": rotated} if rotated is not None else {})


def position_layer(rows: int) -> dict[str, Any]:
    """PositionEmbedding(sequence_length) of a table of ``rows``."""
    return {"type": "PositionEmbedding", "sequence_length": rows}
