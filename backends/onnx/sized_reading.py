"""Values an ONNX graph computes from its inputs' sizes alone, at sizes given to them.

A file exported with dynamic axes (``torch.onnx.export(..., dynamic_shapes=...)``: a batch
``b`` and a length ``t``) computes at run time what a file of static shapes holds as
constants: the positions ``0 … t − 1`` sliced off a buffer, the causal mask built from the
length, rotary cos/sin tables cut to it. Such a tensor has no one value, but it has one for
each size of the inputs: ``probed`` gives its values with the inputs' named dynamic axes set
to each of ``PROBES`` in turn (a ``Shape`` read off onnx's inferred shapes, every other node
run by onnx's reference runtime), so a reader can check that each is what a static file
would hold at that size (positions 0 … t − 1, a causal mask of t × t, Llama's tables of t
rows). A tensor read from the inputs' values, not their sizes, has none.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

from backends.onnx.reading import Source

# Sizes for the inputs' named dynamic axes, in the order they first appear (batch, steps, …):
# distinct within a probe, so an axis is told from another, and two probes, so a value that
# follows the sizes is told from a constant.
PROBES = ((2, 3, 5, 7), (3, 5, 7, 11))
SIZE_OPS = ("Shape", "Size")


def probes(source: Source) -> list[dict[str, int]]:
    """Each probe as sizes by the name onnx gives an input's dynamic axis; none when an
    input has an unnamed one, or more than a probe gives."""
    dims = [d for i in source.inputs for d in source.named.get(i.onnx, ())]
    if None in dims:
        return []
    names = list(dict.fromkeys(d for d in dims if isinstance(d, str)))
    if not names or len(names) > len(PROBES[0]):
        return []
    return [dict(zip(names, probe, strict=False)) for probe in PROBES]


def _data(source: Source) -> set[str]:
    """Tensors read from the inputs' values (a ``Shape`` of one reads its size only)."""
    if "data" not in source.sized:
        data = {i.onnx for i in source.inputs}
        for node in source.model.graph.node:
            if node.op_type not in SIZE_OPS and any(t in data for t in node.input):
                data.update(node.output)
        source.sized["data"] = data
    found: set[str] = source.sized["data"]
    return found


def _resolved(source: Source, tensor: str, names: dict[str, int]) -> bool:
    named = source.named.get(tensor)
    return named is not None and all(isinstance(d, int) or d in names for d in named)


def _nodes(source: Source, tensor: str, names: dict[str, int]) -> list[onnx.NodeProto] | None:
    """The nodes computing ``tensor`` from constants and sizes, in file order; None when it
    reads an input's values (or a size onnx could not name)."""
    data, seen, stack, nodes = _data(source), set(), [tensor], {}
    while stack:
        current = stack.pop()
        if current in seen or not current or source.constant(current) is not None:
            continue
        seen.add(current)
        node = source.producers.get(current)
        if current in data or node is None:
            return None
        nodes[id(node)] = node
        sized = node.op_type in SIZE_OPS and _resolved(source, node.input[0], names)
        stack.extend([] if sized else node.input)
    order = {id(n): i for i, n in enumerate(source.model.graph.node)}
    return sorted(nodes.values(), key=lambda n: order[id(n)])


def _size_of(source: Source, node: onnx.NodeProto, names: dict[str, int]) -> np.ndarray:
    """A Shape's (or Size's) value: the input's named shape at ``names``."""
    named = source.named[node.input[0]]
    shape = [d if isinstance(d, int) else names[str(d)] for d in named]
    if node.op_type == "Size":
        return np.array(math.prod(shape), np.int64)
    given = {a.name: a.i for a in node.attribute}
    return np.array(shape[given.get("start", 0) : given.get("end", len(shape))], np.int64)


def _run(source: Source, node: onnx.NodeProto, values: dict[str, np.ndarray]) -> list[np.ndarray]:
    """A node's outputs, run by onnx's reference runtime on ``values``."""
    from onnx.reference import ReferenceEvaluator

    inputs = {t: values[t] for t in node.input if t}
    feeds = [numpy_helper.from_array(np.asarray(v), t) for t, v in inputs.items()]
    outputs = [helper.make_empty_tensor_value_info(t) for t in node.output]
    graph = helper.make_graph([node], "sized", [], outputs, feeds)
    model = helper.make_model(graph, opset_imports=source.model.opset_import)
    return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, {})]


def _at(source: Source, tensor: str, k: int, names: dict[str, int]) -> np.ndarray | None:
    """``tensor``'s value at probe ``k`` (sizes ``names``), None if it has none."""
    memo: dict[str, np.ndarray] = source.sized.setdefault(f"probe {k}", {})
    if tensor not in memo:
        nodes = _nodes(source, tensor, names)
        try:
            for node in (n for n in nodes or () if n.output[0] not in memo):
                memo.update(zip(node.output, _outputs(source, node, names, memo), strict=False))
        except Exception:  # an operator onnx's runtime cannot run at these sizes: none
            return None
    return memo.get(tensor)


def _outputs(
    source: Source, node: onnx.NodeProto, names: dict[str, int], memo: dict[str, np.ndarray]
) -> list[np.ndarray]:
    if node.op_type in SIZE_OPS and _resolved(source, node.input[0], names):
        return [_size_of(source, node, names)]
    values = {t: memo[t] if t in memo else source.constant(t) for t in node.input if t}
    return _run(source, node, values)  # type: ignore[arg-type]


def probed(source: Source, tensor: str) -> list[np.ndarray] | None:
    """``tensor``'s value at each probe of the inputs' sizes (a constant's own value, once);
    None for a tensor read from the inputs' values."""
    constant = source.constant(tensor)
    if constant is not None:
        return [constant]
    found = [_at(source, tensor, k, names) for k, names in enumerate(probes(source))]
    return None if not found or any(v is None for v in found) else found  # type: ignore[return-value]


def sized(source: Source, tensor: str) -> bool:
    """Whether ``tensor`` is computed from constants and the inputs' sizes alone, not a
    constant (a file of dynamic axes)."""
    return source.constant(tensor) is None and probed(source, tensor) is not None


def shapes(source: Source, tensor: str) -> list[tuple[int, ...]]:
    """``tensor``'s shape (a static one once, else at each probe); none when onnx's
    inferred shape is unknown or has a size no input names."""
    named = source.named.get(tensor)
    if named is None or None in named:
        return []
    if all(isinstance(d, int) for d in named):
        return [tuple(int(d) for d in named if d is not None)]
    found = [[d if isinstance(d, int) else p.get(str(d)) for d in named] for p in probes(source)]
    return [tuple(d for d in f if d is not None) for f in found if None not in f]


def keeps_whole(source: Source, node: onnx.NodeProto) -> bool:
    """Whether a ``Slice`` keeps every element of its input, whatever the inputs' sizes: the
    exporter's ``x[:, 0:INT64_MAX]``, or ``x[:, :t]`` of a length ``t`` read off the input.
    A constant bound on an axis of dynamic size must keep it at any size (``x[:, :5]`` keeps
    the probes' 3 and 5 steps, not 8), one computed from the sizes at each probe."""
    if node.op_type != "Slice" or len(node.input) < 3:
        return False
    names = (*node.input[1:5], "", "")[:4]  # starts, ends, axes, steps
    given = [probed(source, t) if t else None for t in names]
    seen, named = shapes(source, node.input[0]), source.named.get(node.input[0], ())
    if any(t and g is None for t, g in zip(names, given, strict=True)) or not seen:
        return False
    cases = max(len(seen), *(len(g) for g in given if g is not None))
    large = tuple(d if isinstance(d, int) else ANY_SIZE for d in named)
    if len(seen) not in (1, cases):
        return False
    for k in range(cases):
        starts, ends, axes, steps = (None if g is None else g[min(k, len(g) - 1)] for g in given)
        shape = seen[min(k, len(seen) - 1)]
        bounds = [(large if len(g or ()) == 1 else shape) for g in given[:2]]
        if not _whole(bounds, starts, ends, axes, steps):
            return False
    return True


ANY_SIZE = 2**31 - 1  # a size beyond any probe: a constant bound of a dynamic axis keeps it


def _whole(
    bounds: list[tuple[int, ...]],
    starts: np.ndarray | None,
    ends: np.ndarray | None,
    axes: np.ndarray | None,
    steps: np.ndarray | None,
) -> bool:
    """Whether ``Slice(starts, ends, axes, steps)`` keeps a tensor whole, its starts read
    against the shape ``bounds[0]``, its ends against ``bounds[1]``."""
    if starts is None or ends is None:
        return False
    starts, ends = starts.reshape(-1), ends.reshape(-1)
    along = range(starts.size) if axes is None else axes.reshape(-1).tolist()
    for i, axis in enumerate(int(a) % len(bounds[0]) for a in along):
        first, last = bounds[0][axis], bounds[1][axis]
        start, end = int(starts[i]), int(ends[i])
        start, end = start + first if start < 0 else start, end + last if end < 0 else end
        if (steps is not None and int(steps.reshape(-1)[i]) != 1) or max(start, 0) != 0:
            return False
        if end < last:
            return False
    return True


def reshaped(source: Source, node: onnx.NodeProto) -> tuple[int | None, ...]:
    """A Reshape's output shape: onnx's inferred one, a size it left unknown taken from the
    shape the Reshape is given, where that sets it alike at each probe (a constant part, or a
    −1 resolved against the input's size: ``(b, t, −1, 16)`` of (b, t, 64) splits 4 heads)."""
    inferred = source.shapes.get(node.output[0], ())
    targets, inputs = probed(source, node.input[1]), shapes(source, node.input[0])
    if None not in inferred or not targets or not inputs:
        return inferred
    zero = None if {a.name: a.i for a in node.attribute}.get("allowzero", 0) else 0
    found = [
        _resolved_target(targets[min(k, len(targets) - 1)], inputs[min(k, len(inputs) - 1)], zero)
        for k in range(max(len(targets), len(inputs)))
    ]
    if any(len(f) != len(inferred) for f in found):
        return inferred
    alike = [f[0] if len(set(f)) == 1 else None for f in zip(*found, strict=True)]
    return tuple(d if d is not None else a for d, a in zip(inferred, alike, strict=True))


def _resolved_target(
    target: np.ndarray, given: tuple[int, ...], copied: int | None
) -> tuple[int, ...]:
    """A Reshape's shape with its −1 set, and its 0s copies of the input's sizes (unless
    ``allowzero``: ``copied`` None)."""
    dims = [given[i] if d == copied and i < len(given) else int(d) for i, d in enumerate(target)]
    known = math.prod(d for d in dims if d != -1)
    return tuple(math.prod(given) // max(known, 1) if d == -1 else d for d in dims)
