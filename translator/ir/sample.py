"""Seeded random inputs for a graph: what every backend runs in a forward pass.

Free dimensions (``null``) get ``steps``; integer inputs get token ids below the smallest
vocabulary of the Embedding layers that read them.
"""

from __future__ import annotations

from typing import Any

from translator.ir import Graph
from translator.spec.schema import SCHEMAS

BATCH = 2
STEPS = 5


def vocabulary(graph: Graph, input_name: str) -> int:
    """The largest safe token id + 1 for an integer input."""
    sizes = [
        n.args[vocabulary_arg]
        for n in graph.nodes
        if (vocabulary_arg := SCHEMAS[n.type].token_ids) and input_name in n.inputs
    ]
    return min(sizes, default=2)


def sample_inputs(
    graph: Graph, seed: int = 0, batch: int = BATCH, steps: int = STEPS
) -> dict[str, Any]:
    """One array per model input, keyed by input name, in the spec's own layout."""
    import numpy as np  # only the commands that run models need numpy

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for name in graph.inputs:
        node = graph.node(name)
        shape = (batch, *(steps if d is None else d for d in node.output_shape))
        if node.dtype == "float32":
            out[name] = rng.standard_normal(shape, dtype=np.float32)
        else:
            out[name] = rng.integers(0, vocabulary(graph, name), size=shape).astype(node.dtype)
    return out
