"""Preprocessing layers: Rescaling. PyTorch has no module for ``x * scale + offset``, so it is
the standalone ``ScaleOffset`` (``backends/torch/standalone/layers.py``), which ``export``
copies into ``model.py``."""

from __future__ import annotations

from backends.torch.model import describes
from backends.torch.standalone.assemble import Call, call
from translator.ir import Node


@describes("Rescaling")
def describe_rescaling(node: Node) -> Call:
    """Rescaling(scale, offset=0.0) → ``ScaleOffset``."""
    return call("ScaleOffset", node.args["scale"], node.args["offset"])
