"""``explain``: a layer's tensors in every framework, its formula, and how tensors correspond.

Pure IR: no framework is imported. Tensors correspond across frameworks by role; PyTorch's
and ONNX's input and recurrent biases both correspond to Keras's single ``bias``.

Each tensor is labelled by what its framework makes of it: Keras trainable or non-trainable,
PyTorch parameter or buffer. ONNX has no notion of trainable: its tensors are initializers,
and the moving statistics (``input_mean``, ``input_var``) are labelled as statistics.
"""

from __future__ import annotations

from typing import Any

from translator.ir import FRAMEWORKS, Graph, Node, WeightSpec, format_shape
from translator.ir.registries import formula
from translator.reconcile import explain

LABELS = {"keras": "Keras", "torch": "PyTorch", "onnx": "ONNX"}
ROLE_GROUP = {"input_bias": "bias", "recurrent_bias": "bias"}
# Roles of tensors that are computed from the data seen, not learned by gradient.
STATISTICS = ("moving_mean", "moving_variance", "mean", "variance")


def correspondence(
    node: Node, frameworks: tuple[str, ...] = FRAMEWORKS
) -> dict[str, dict[str, list[WeightSpec]]]:
    """role group → framework → the tensors playing that role."""
    groups: dict[str, dict[str, list[WeightSpec]]] = {}
    for fw in frameworks:
        for tensor in node.weights[fw]:
            group = ROLE_GROUP.get(tensor.role, tensor.role)
            groups.setdefault(group, {}).setdefault(fw, []).append(tensor)
    return groups


def explain_data(node: Node, frameworks: tuple[str, ...] = FRAMEWORKS) -> dict[str, Any]:
    """Everything ``explain`` says about one layer, as plain data."""

    def tensor(fw: str, t: WeightSpec) -> dict[str, Any]:
        onnx = fw == "onnx"  # ONNX has initializers, trainable or not is not its notion
        return {
            "name": t.name,
            "shape": list(t.shape),
            "count": t.size,
            "role": t.role,
            "trainable": None if onnx else t.trainable,
            "kind": "initializer" if onnx else t.kind,
            "label": tensor_label(fw, t),
        }

    return {
        "name": node.name,
        "type": node.type,
        "input_shape": [format_shape(s) for s in node.input_shapes],
        "output_shape": [format_shape(s) for s in node.output_shapes],
        "formula": formula(node),
        "frameworks": {
            fw: {"counts": node.counts(fw), "tensors": [tensor(fw, t) for t in node.weights[fw]]}
            for fw in frameworks
        },
        "correspondence": {
            group: {fw: [t.name for t in ts] for fw, ts in by_fw.items()}
            for group, by_fw in correspondence(node, frameworks).items()
        },
        "explanations": [e.as_dict(frameworks) for e in explain(node)],
    }


def render_text(node: Node, frameworks: tuple[str, ...] = FRAMEWORKS) -> str:
    """The human-readable explanation of one layer."""
    lines = [
        f"{node.name} ({node.type})",
        f"  input  {', '.join(format_shape(s) for s in node.input_shapes) or '-'}",
    ]
    lines.append(f"  output {', '.join(format_shape(s) for s in node.output_shapes)}")
    lines.append(f"  Keras formula: {formula(node)}")
    widths = _widths([_cells(fw, t) for fw in frameworks for t in node.weights[fw]])
    for fw in frameworks:
        lines.extend(_framework_lines(node, fw, widths))
    groups = correspondence(node, frameworks)
    if groups:
        lines.append("  corresponding tensors:")
        for group, by_fw in groups.items():
            side = " ↔ ".join(
                f"{LABELS[fw]} " + " + ".join(f"{t.name} {_shape(t)}" for t in ts)
                for fw, ts in by_fw.items()
            )
            lines.append(f"    {group}: {side}")
    for note in explain(node):
        deltas = ", ".join(
            f"{LABELS[fw]} {d:+,}" for fw, d in note.delta.items() if fw in frameworks
        )
        lines.append(
            f"  [{note.rule}] {deltas}: {note.text}" if deltas else f"  [{note.rule}] {note.text}"
        )
    return "\n".join(lines)


def _shape(t: WeightSpec) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ("," if len(t.shape) == 1 else "") + ")"


def tensor_label(fw: str, t: WeightSpec) -> str:
    """What ``fw`` makes of the tensor: trainable, non-trainable, buffer, or (ONNX, which has
    no notion of trainable) initializer, a statistic or not."""
    if fw == "onnx":
        return "initializer, statistic" if t.role in STATISTICS else "initializer"
    if t.buffer:
        return "buffer"
    return "trainable" if t.trainable else "non-trainable"


def _cells(fw: str, t: WeightSpec) -> tuple[str, ...]:
    """One tensor's row: name, shape, count, role, label."""
    return (t.name, _shape(t), f"{t.size:,}", t.role, tensor_label(fw, t))


def _widths(rows: list[tuple[str, ...]]) -> list[int]:
    """Each column as wide as its longest cell, over every framework of the layer."""
    return [max((len(r[i]) for r in rows), default=0) for i in range(5)]


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    name, shape, count, role, label = cells
    columns = (name.ljust(widths[0]), shape.ljust(widths[1]), count.rjust(widths[2]))
    return "    " + "  ".join((*columns, role.ljust(widths[3]), label)).rstrip()


def _framework_lines(node: Node, fw: str, widths: list[int]) -> list[str]:
    counts = node.counts(fw)
    params = [t for t in node.weights[fw] if not t.buffer]
    head = f"  {LABELS[fw]}: {counts['total']:,} params"
    if params:
        head += " = " + " + ".join(f"{t.size:,}" for t in params)
    if counts.get("buffers"):
        head += f"; {counts['buffers']:,} in buffers (not params)"
    lines = [head]
    lines.extend(_row(_cells(fw, t), widths) for t in node.weights[fw])
    return lines


def select(graph: Graph, layer: str | None) -> list[Node]:
    """The layers to explain: one by name, or every layer."""
    if layer is None:
        return graph.layers
    return [graph.node(layer)]
