"""``explain``: a layer's tensors in every framework, its formula, and how tensors correspond.

Pure IR: no framework is imported. Tensors correspond across frameworks by role; PyTorch's
and ONNX's input and recurrent biases both correspond to Keras's single ``bias``.
"""

from __future__ import annotations

from typing import Any

from translator.ir import FRAMEWORKS, Graph, Node, WeightSpec, format_shape
from translator.ir.registries import formula
from translator.reconcile import explain

LABELS = {"keras": "Keras", "torch": "PyTorch", "onnx": "ONNX"}
ROLE_GROUP = {"input_bias": "bias", "recurrent_bias": "bias"}


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

    def tensor(t: WeightSpec) -> dict[str, Any]:
        return {
            "name": t.name,
            "shape": list(t.shape),
            "count": t.size,
            "role": t.role,
            "trainable": t.trainable,
            "kind": t.kind,
        }

    return {
        "name": node.name,
        "type": node.type,
        "input_shape": [format_shape(s) for s in node.input_shapes],
        "output_shape": [format_shape(s) for s in node.output_shapes],
        "formula": formula(node),
        "frameworks": {
            fw: {"counts": node.counts(fw), "tensors": [tensor(t) for t in node.weights[fw]]}
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
    for fw in frameworks:
        lines.extend(_framework_lines(node, fw))
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
        lines.append(f"  [{note.rule}] {deltas}: {note.text}")
    return "\n".join(lines)


def _shape(t: WeightSpec) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ("," if len(t.shape) == 1 else "") + ")"


def _framework_lines(node: Node, fw: str) -> list[str]:
    counts = node.counts(fw)
    params = [t for t in node.weights[fw] if not t.buffer]
    head = f"  {LABELS[fw]}: {counts['total']:,} params"
    if params:
        head += " = " + " + ".join(f"{t.size:,}" for t in params)
    if counts.get("buffers"):
        head += f"; {counts['buffers']:,} in buffers (not params)"
    lines = [head]
    for t in node.weights[fw]:
        flags = "buffer" if t.buffer else ("trainable" if t.trainable else "non-trainable")
        lines.append(f"    {t.name:<36} {_shape(t):<16} {t.size:>12,}  {t.role:<20} {flags}")
    return lines


def select(graph: Graph, layer: str | None) -> list[Node]:
    """The layers to explain: one by name, or every layer."""
    if layer is None:
        return graph.layers
    return [graph.node(layer)]
