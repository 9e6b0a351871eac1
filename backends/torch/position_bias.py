"""RelativePositionBias (T5's): the standalone ``RelativePositionBias`` module
(``backends/torch/standalone/attention.py``), which buckets the relative positions as
Hugging Face's ``T5Attention._relative_position_bucket`` does and holds the table as
``weight`` (num_buckets, num_heads), T5's ``relative_attention_bias.weight``."""

from __future__ import annotations

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from backends.torch.standalone.describe import arguments
from translator.ir import Node


@describes("RelativePositionBias")
def describe_relative_position_bias(node: Node) -> Call:
    """RelativePositionBias(num_heads, num_buckets=32, max_distance=128, bidirectional=True)
    → ``RelativePositionBias``."""
    own = arguments(node, "num_heads", "num_buckets", "max_distance", "bidirectional")
    return call("RelativePositionBias", **own)
