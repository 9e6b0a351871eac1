"""The intermediate representation: a spec's layers with shapes and every framework's tensors.

``graph`` holds the data types (``Graph``, ``Node``, ``WeightSpec``); ``registries`` the
per-layer-type registries the ``translator.ops`` families fill; ``layout`` the logical and
physical layouts of tensors; ``sample`` seeded inputs. Nothing here imports a framework.
"""

from __future__ import annotations

from translator.ir.graph import (
    FRAMEWORKS,
    INPUT,
    ROLES,
    Graph,
    Node,
    Shape,
    WeightSpec,
    add_counts,
    counts,
    format_shape,
)

__all__ = [
    "FRAMEWORKS",
    "INPUT",
    "ROLES",
    "Graph",
    "Node",
    "Shape",
    "WeightSpec",
    "add_counts",
    "counts",
    "format_shape",
]
