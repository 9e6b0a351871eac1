"""Porting weights between frameworks through one canonical layout.

``to_canonical`` turns one framework's tensors (``{layer: {tensor: array}}``, named as the
IR's ``WeightSpec``s name them) into the canonical weights (``{"<layer>/<role path>":
array}``, Keras's layout with recurrent biases split, see ``translator.weights.maps``);
``from_canonical`` turns them into any framework's. Both check the arrays against the IR
before converting anything and raise ``WeightsError`` with one line naming the layer, the
tensor and the two shapes. The canonical file is a ``.npz`` keyed like the dict.

No framework is imported here, and numpy only inside the functions that need it, so
``count`` stays as cheap as a YAML parse.
"""

from __future__ import annotations

from typing import Any

import translator.ops  # noqa: F401  (fills MAPS: each family registers its weight maps)
from translator.errors import InternalError, WeightsError
from translator.ir import FRAMEWORKS, Graph, Node
from translator.weights.maps import MAPS, LayerMap, Shape, ir_names

Weights = dict[str, dict[str, Any]]  # {layer: {framework tensor name: array}}
Canonical = dict[str, Any]  # {"<layer>/<role path>": array}


def layer_map(node: Node) -> LayerMap | None:
    """The node's weight map, checked against the IR both ways; ``None`` without weights."""
    if not any(node.weights.get(fw) for fw in FRAMEWORKS):
        return None
    rule = MAPS.get(node.type)
    if rule is None:
        raise InternalError(f"layer type {node.type} has weights but no weight map")
    found = rule(node)
    for fw in FRAMEWORKS:
        _check_map(node, fw, found)
    return found


def _check_map(node: Node, framework: str, found: LayerMap) -> None:
    """Every IR tensor filled exactly once, every canonical tensor read (a translator bug
    otherwise, never the user's)."""
    entries = found.entries[framework]
    targets = [x.target for x in entries]
    read = {s for x in entries for s in x.sources}
    if sorted(targets) != sorted(ir_names(node, framework)) or read != set(found.canonical):
        raise InternalError(
            f"weight map of '{node.name}' ({node.type}) disagrees with the IR for {framework}:"
            f" fills {sorted(targets)} from {sorted(read)}; the IR has"
            f" {sorted(ir_names(node, framework))} and canonical {sorted(found.canonical)}"
        )


def graph_maps(graph: Graph) -> dict[str, LayerMap]:
    """The weight map of every layer that has weights, in graph order."""
    return {n.name: m for n in graph.nodes if (m := layer_map(n)) is not None}


def canonical_shapes(graph: Graph) -> dict[str, Shape]:
    """Every canonical key of ``graph`` and the shape it holds."""
    return {
        f"{layer}/{path}": shape
        for layer, m in graph_maps(graph).items()
        for path, shape in m.canonical.items()
    }


def _shape(value: Any) -> Shape:
    return tuple(int(d) for d in getattr(value, "shape", ()))


def _check(
    source: str,
    label: str,
    expected: dict[tuple[str, str], Shape],
    given: dict[tuple[str, str], Shape],
) -> None:
    """Compare (layer, tensor) → shape both ways; raise the first problem as one line, with
    how many more there are. ``label`` names the layout (``torch``, ``canonical``)."""
    layers = list(dict.fromkeys(layer for layer, _ in expected))
    problems: list[WeightsError] = []
    for (layer, tensor), shape in expected.items():
        got = given.get((layer, tensor))
        if got is None:
            message = (
                f"layer '{layer}': missing tensor '{tensor}' ({label}), expected shape {shape}"
            )
            problems.append(WeightsError(source, message, layer, tensor, shape, None))
        elif got != shape:
            message = f"layer '{layer}' tensor '{tensor}' ({label}): expected shape {shape}, received {got}"
            problems.append(WeightsError(source, message, layer, tensor, shape, got))
    for (layer, tensor), got in given.items():
        if (layer, tensor) in expected:
            continue
        if layer in layers:
            names = ", ".join(t for lay, t in expected if lay == layer)
            message = f"layer '{layer}': unknown tensor '{tensor}' ({label}, shape {got}); expected {names}"
        else:
            message = f"no layer '{layer}' with {label} weights in the spec (tensor '{tensor}'); layers with weights: {', '.join(layers) or 'none'}"
        problems.append(WeightsError(source, message, layer, tensor, None, got))
    if problems:
        first = problems[0]
        if len(problems) > 1:
            said = str(first).removeprefix(f"{source}: ")
            said += (
                f" (and {len(problems) - 1} more problems){_keys_summary(label, expected, given)}"
            )
            first = WeightsError(
                source, said, first.layer, first.tensor, first.expected, first.received
            )
        first.details = _key_lines(label, expected, given)
        raise first


SHOWN = 3  # keys named in the one-line message; --verbose lists every one


def _key(label: str, layer: str, tensor: str) -> str:
    return f"{layer}/{tensor}" if label == "canonical" else f"{layer}.{tensor}"


def _unmatched(
    expected: dict[tuple[str, str], Shape], given: dict[tuple[str, str], Shape]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(the keys the file lacks, the keys it holds that the spec does not read)."""
    return [k for k in expected if k not in given], [k for k in given if k not in expected]


def _keys_summary(
    label: str, expected: dict[tuple[str, str], Shape], given: dict[tuple[str, str], Shape]
) -> str:
    """``; missing 31: a, b, c, …; unused in the file 24: x, y, z, …`` (empty parts left out)."""
    parts = []
    for what, keys in zip(
        ("missing", "unused in the file"), _unmatched(expected, given), strict=True
    ):
        if keys:
            named = ", ".join(_key(label, *k) for k in keys[:SHOWN])
            parts.append(f"{what} {len(keys)}: {named}{', …' if len(keys) > SHOWN else ''}")
    return "".join(f"; {p}" for p in parts) + ("; --verbose lists them all" if parts else "")


def _key_lines(
    label: str, expected: dict[tuple[str, str], Shape], given: dict[tuple[str, str], Shape]
) -> list[str]:
    """One line per missing key (its expected shape) and per unused key (its shape)."""
    missing, unused = _unmatched(expected, given)
    return [f"  missing  {_key(label, *k)} {expected[k]}" for k in missing] + [
        f"  unused   {_key(label, *k)} {given[k]}" for k in unused
    ]


def check_weights(graph: Graph, framework: str, weights: Weights, source: str = "weights") -> None:
    """Every IR tensor of ``framework`` present with its shape, nothing else."""
    given = {
        (layer, name): _shape(value)
        for layer, tensors in weights.items()
        for name, value in tensors.items()
    }
    check_weight_shapes(graph, framework, given, source)


def check_canonical(graph: Graph, canonical: Canonical, source: str = "canonical weights") -> None:
    """Every canonical key of ``graph`` present with its shape, nothing else."""
    check_canonical_shapes(graph, {key: _shape(value) for key, value in canonical.items()}, source)


def check_canonical_shapes(graph: Graph, shapes: dict[str, Shape], source: str) -> None:
    """``check_canonical`` on shapes alone (a file's headers, before its data is read)."""
    expected = {_split(key): shape for key, shape in canonical_shapes(graph).items()}
    _check(source, "canonical", expected, {_split(key): shape for key, shape in shapes.items()})


def check_weight_shapes(
    graph: Graph, framework: str, shapes: dict[tuple[str, str], Shape], source: str
) -> None:
    """``check_weights`` on (layer, tensor) → shape alone, before a file's data is read."""
    expected = {
        (node.name, name): shape
        for node in graph.nodes
        for name, shape in ir_names(node, framework).items()
    }
    _check(source, framework, expected, shapes)


def weight_roles(graph: Graph, framework: str) -> dict[tuple[str, str], str]:
    """(layer, framework tensor name) → the tensor's IR role (``num_batches_tracked``, ...)."""
    return {
        (node.name, w.name): w.role for node in graph.nodes for w in node.weights.get(framework, ())
    }


def _split(key: str) -> tuple[str, str]:
    """A canonical key ``<layer>/<role path>`` → (layer, role path)."""
    layer, _, path = key.partition("/")
    return layer, path


def to_canonical(graph: Graph, framework: str, weights: Weights) -> Canonical:
    """``framework``'s tensors → the canonical weights (float32 copies)."""
    import numpy as np

    check_weights(graph, framework, weights, f"{framework} weights")
    out: Canonical = {}
    for layer, m in graph_maps(graph).items():
        for entry in m.entries[framework]:
            array = np.asarray(weights[layer][entry.target])
            shapes = [m.canonical[s] for s in entry.sources]
            parts = entry.combine.inverse(array, shapes)
            for path, part in zip(entry.sources, parts, strict=True):
                out[f"{layer}/{path}"] = np.array(part, dtype=np.float32)
    return out


def from_canonical(graph: Graph, framework: str, canonical: Canonical) -> Weights:
    """The canonical weights → ``framework``'s tensors, ``{layer: {tensor: array}}``."""
    import numpy as np

    check_canonical(graph, canonical)
    out: Weights = {}
    for node in graph.nodes:
        m = layer_map(node)
        if m is None:
            continue
        shapes = ir_names(node, framework)
        tensors = out.setdefault(node.name, {})
        for entry in m.entries[framework]:
            sources = [np.asarray(canonical[f"{node.name}/{s}"]) for s in entry.sources]
            value = entry.combine.forward(sources, shapes[entry.target])
            dtype = value.dtype if value.dtype.kind in "iu" else np.float32
            tensors[entry.target] = np.array(value, dtype=dtype, order="C")
    return out
