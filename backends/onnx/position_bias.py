"""RelativePositionBias (T5's) from Range, Sub, Clip and Gather: the bucket of each relative
position ``j - i`` read from the translator's table (``translator.ops.position_bias.buckets``,
gathered at ``clip(j - i) + max_distance``), then the (num_buckets, num_heads) table's rows,
transposed to (heads, steps, steps) and expanded over the batch."""

from __future__ import annotations

import numpy as np

from backends.onnx.model import BUILDERS, Layer
from translator.ops.position_bias import buckets


@BUILDERS.register("RelativePositionBias")
def build_relative_position_bias(layer: Layer, inputs: list[str]) -> list[str]:
    """RelativePositionBias(num_heads, num_buckets=32, max_distance=128, bidirectional=True)
    on a (batch, steps, features) sequence → (batch, heads, steps, steps)."""
    (x,) = inputs
    a = layer.args
    limit = a["max_distance"]
    table = np.array(buckets(a["num_buckets"], limit, a["bidirectional"]), np.int64)
    steps = layer.op("Squeeze", [layer.op("Shape", [x], start=1, end=2)])
    positions = layer.op("Range", [layer.ints("zero", 0), steps, layer.ints("one", 1)])
    keys = layer.op("Unsqueeze", [positions, layer.ints("row", [0])])
    queries = layer.op("Unsqueeze", [positions, layer.ints("column", [1])])
    relative = layer.op("Sub", [keys, queries])  # key j - query i
    index = layer.op("Clip", [relative, layer.ints("low", -limit), layer.ints("high", limit)])
    index = layer.op("Add", [index, layer.ints("offset", limit)])
    bucket = layer.op("Gather", [layer.ints("buckets", table), index])
    bias = layer.op("Gather", [layer.weight("embeddings"), bucket])  # (steps, steps, heads)
    bias = layer.op(
        "Unsqueeze", [layer.op("Transpose", [bias], perm=[2, 0, 1]), layer.ints("batch", [0])]
    )
    batch = layer.op("Shape", [x], start=0, end=1)
    rest = layer.op("Shape", [bias], start=1)
    return [layer.op("Expand", [bias, layer.op("Concat", [batch, rest], axis=0)])]
