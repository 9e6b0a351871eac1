"""RelativePositionBias (T5's): the standalone ``RelativePositionBias`` module
(``backends/torch/standalone/attention.py``), which buckets the relative positions as
Hugging Face's ``T5Attention._relative_position_bucket`` does and holds the table as
``weight`` (num_buckets, num_heads), T5's ``relative_attention_bias.weight``; and importing
T5's attention, whose module computes that bias (``read_relative_bias_attention``)."""

from __future__ import annotations

import math
from typing import Any

from backends.torch.attention import ATTENDING, SCALING, SHAPING, read_qkvo_attention
from backends.torch.importing import MODULES, SHAPES, ModuleCall, Reading, Refused, op_name
from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node
from translator.ops.position_bias import buckets


@describes("RelativePositionBias")
def describe_relative_position_bias(node: Node) -> Call:
    """RelativePositionBias(num_heads, num_buckets=32, max_distance=128, bidirectional=True)
    → ``RelativePositionBias``."""
    own = arguments(node, "num_heads", "num_buckets", "max_distance", "bidirectional")
    return call("RelativePositionBias", **own)


# Importing T5's attention (``T5Attention`` with ``has_relative_attention_bias``): q/k/v/o
# projections around scaled_dot_product_attention (scale 1) whose mask is the relative position
# bias the module computes: its Embedding (``relative_attention_bias``, (num_buckets, heads))
# looking up bucket ids computed from no input, permuted to (heads, steps, steps) → a
# RelativePositionBias layer (of the attention's input, whose steps it reads), then the
# attention with ``attention_bias: true`` reading it; the later layers reuse that bias, as
# T5's do (``backends.torch.attention``'s ``_bias``). The bucketing is recognised by its
# values: every bucket id checked against T5's formula for the table's size.
BUCKETING = {
    *("arange", "sub", "gt", "lt", "ge", "abs", "log", "full_like", "min", "where", "to"),
    *("embedding", "_assert_tensor_metadata", "add", "mul", "div", "unsqueeze", "permute"),
}


def relative_bias_prefix(nodes: list[Any]) -> int:
    """How many of the nodes, through the fourth Linear, are q/k/v/o attention that also
    looks up one Embedding (T5's bias table) among bucket arithmetic; 0 where they are not."""
    ops = [op_name(n) for n in nodes]
    linears = [i for i, name in enumerate(ops) if name == "linear"]
    end = linears[3] + 1 if len(linears) >= 4 else 0
    head = ops[:end]
    allowed = SHAPING | SCALING | ATTENDING | BUCKETING
    fits = head.count("embedding") == 1 and head.count("scaled_dot_product_attention") == 1
    return end if end and fits and set(head) <= allowed else 0


def read_relative_bias_attention(r: Reading, call: ModuleCall) -> None:
    """T5Attention with its relative position bias → RelativePositionBias(num_heads,
    num_buckets, max_distance, bidirectional) of the query's input, then the attention
    (MultiHeadAttention with ``attention_bias: true``, ``scale: 1.0``, no biases)."""
    lookup = call.op("embedding")
    table, ids = lookup.args[:2]
    rows, heads = Reading.shape(table)
    layer = {"type": "RelativePositionBias", "num_heads": heads, "num_buckets": rows}
    layer |= _bucketing(r, ids, rows)
    permuted = r.only_user(lookup)
    if permuted is None or op_name(permuted) != "permute" or list(permuted.args[1]) != [2, 0, 1]:
        raise Refused("the bias table's lookup is not made (heads, steps, steps)")
    biased = r.only_user(permuted)
    if biased is None or op_name(biased) != "unsqueeze" or biased.args[1] != 0:
        raise Refused("the bias is not given a batch axis before the attention")
    query = call.op("linear")
    path = _module_path(lookup, call.path)
    r.add(ModuleCall(path, "Embedding", [lookup]), layer, [query.args[0]], biased)
    read_qkvo_attention(r, call)


def _module_path(node: Any, default: str) -> str:
    """The path of the innermost ``nn.Embedding`` call ``node`` belongs to (T5's
    ``relative_attention_bias``), else ``default``."""
    stack = (node.meta.get("nn_module_stack") or {}).values()
    paths = [path for path, cls in stack if str(cls).rsplit(".", 1)[-1] == "Embedding"]
    return paths[-1] if paths else default


def _bucketing(r: Reading, ids: Any, rows: int) -> dict[str, Any]:
    """``max_distance`` and ``bidirectional`` of the (steps, steps) bucket ids, read off the
    program (the logarithm's divisor, log(max_distance / exact)) and checked id by id."""
    value = r.constant(ids)
    if value is None or value.dim() != 2 or value.shape[0] != value.shape[1]:
        raise Refused("the bias table is looked up by other ids than (steps, steps) buckets")
    divisors = [n.args[1] for n in _ancestors(ids) if op_name(n) == "div" and n.args[0].op]
    divisors = [d for d in divisors if isinstance(d, float) and d > 0]
    steps = value.shape[0]
    relative = [[j - i for j in range(steps)] for i in range(steps)]
    for bidirectional, divisor in ((b, d) for b in (True, False) for d in divisors):
        exact = (rows // 2 if bidirectional else rows) // 2
        distance = round(exact * math.exp(divisor))
        table = buckets(rows, distance, bidirectional)
        found = [
            [table[min(max(d, -distance), distance) + distance] for d in row] for row in relative
        ]
        if value.tolist() == found:
            return {"max_distance": distance, "bidirectional": bidirectional}
    raise Refused("bucket ids other than T5's relative position buckets")


def _ancestors(node: Any) -> list[Any]:
    """Every node ``node`` is computed from (itself included), each once."""
    seen, queue = {node}, [node]
    while queue:
        for parent in queue.pop().all_input_nodes:
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return list(seen)


SHAPES.register("RelativeBiasAttention")(relative_bias_prefix)
MODULES.register("RelativeBiasAttention")(read_relative_bias_attention)
