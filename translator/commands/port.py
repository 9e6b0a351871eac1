"""The ``port`` command: carry one framework's weights into the others and prove it.

``port_report`` builds the source model with seeded random weights (drawn in the canonical
layout, so every tensor is non-trivial: biases, both recurrent biases, moving statistics) or
with the weights of a file, carries its tensors through the canonical layout into every
target framework, runs the same seeded input through all of them at inference, and measures
per output, and per layer, the largest absolute and relative difference (relative: the
largest absolute difference over the largest magnitude of the source's values). The
hyperparameter conversions the backends apply are named from each layer type's registered
``conversions`` (``translator.ir.registries.CONVERSIONS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from translator.errors import BackendError
from translator.ir import Graph, Node
from translator.ir.registries import CONVERSIONS
from translator.ir.sample import sample_inputs
from translator.weights.canonical import (
    Canonical,
    canonical_shapes,
    check_weights,
    from_canonical,
    graph_maps,
    to_canonical,
)
from translator.weights.files import load_any, origin, readable_file

CANONICAL = (
    "Keras's, with each recurrent bias split in two (input_bias, recurrent_bias) and each"
    " stacked recurrent layer after the first under layer_<i>/"
)


def _with_inner(node: Node) -> list[Node]:
    return [node, *([node.inner] if node.inner is not None else [])]


def sharing_notes(node: Node) -> list[str]:
    """What a shared layer or a tied Dense carries: nothing of its own."""
    if node.shares:
        return [f"applies '{node.shares}' again, with its weights (no tensors of its own)"]
    tied = node.links.get("tie")
    if tied is not None:
        return [f"kernel = transpose({tied.name}/embeddings), stored once, in '{tied.name}'"]
    return []


def frozen_note(node: Node) -> list[str]:
    """What ``trainable: false`` becomes: a flag in Keras and PyTorch, nothing in ONNX (its
    initializers have no notion of training); the weights carried are the same."""
    if node.shares or not (node.frozen_params("keras") or node.frozen_params("torch")):
        return []
    return [
        (
            "frozen: Keras layer.trainable = False, PyTorch requires_grad_(False); "
            "ONNX initializers carry no such flag"
        )
    ]


def hyperparameter_notes(graph: Graph) -> list[str]:
    """``"<layer> (<type>): <conversion>"`` for every table entry the spec uses; a shared
    layer's are its original's, so it says only whose weights it applies."""
    notes = []
    for node in graph.layers:
        own = sharing_notes(node) + frozen_note(node)
        notes += [f"{node.name} ({node.type}): {text}" for text in own]
        if node.shares:
            continue
        for part in _with_inner(node):
            for arg, render in (CONVERSIONS.get(part.type) or {}).items():
                if arg == "" or arg in part.args:
                    text = render(part if arg == "" else part.args.get(arg))
                    if text:
                        notes.append(f"{node.name} ({part.type}): {text}")
    return notes


def weight_notes(graph: Graph, source: str, targets: tuple[str, ...]) -> dict[str, list[str]]:
    """Per framework, every tensor that is not a plain copy of a canonical one: how the
    source's are read into the canonical layout, how each target's are made from it."""
    out: dict[str, list[str]] = {fw: [] for fw in (source, *targets)}
    for layer, m in graph_maps(graph).items():
        for fw in out:
            for x in m.entries[fw]:
                if x.describe() == f"{x.target} = {x.sources[0] if x.sources else ''}":
                    continue  # a plain copy
                if fw == source:
                    text = x.combine.describe_inverse(x.target, x.sources)
                else:
                    text = x.describe()
                out[fw].append(f"{layer}: {text}")
    return out


def random_canonical(graph: Graph, seed: int = 0) -> Canonical:
    """Seeded canonical weights in which every value matters: kernels scaled by their fan-in,
    biases and offsets small but non-zero, scales near 1, variances positive. Drawn directly
    in float32, scaled in place: a tensor never exists in float64 (twice the memory)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: Canonical = {}
    for key, shape in canonical_shapes(graph).items():
        role = key.rsplit("/", 1)[-1]
        if role in ("gamma", "moving_variance", "variance"):
            out[key] = _uniform(rng, shape, 0.5, 1.5)
        elif role.endswith("kernel") or role == "embeddings":
            fan_in = max(1, int(np.prod(shape[:-1]))) if len(shape) > 1 else 1
            value = rng.standard_normal(shape, dtype=np.float32)
            value *= np.float32(1 / np.sqrt(fan_in))
            out[key] = value
        else:  # bias, input_bias, recurrent_bias, beta, moving_mean, mean
            out[key] = _uniform(rng, shape, -0.2, 0.2)
    return out


def _uniform(rng: Any, shape: tuple[int, ...], low: float, high: float) -> Any:
    """Uniform in [low, high), float32 throughout."""
    import numpy as np

    value = rng.random(shape, dtype=np.float32)
    value *= np.float32(high - low)
    value += np.float32(low)
    return value


@dataclass(frozen=True)
class Difference:
    """Source vs one target on one tensor: an output, or a layer's output."""

    framework: str
    name: str
    index: int
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    within: bool = True  # every element: |got − ref| ≤ atol + rtol·|ref|

    def as_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "name": self.name,
            "index": self.index,
            "shape": list(self.shape),
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
        }


def difference(
    framework: str, name: str, index: int, ref: Any, got: Any, atol: float = 0.0, rtol: float = 0.0
) -> Difference:
    """Largest |got − ref|, absolute and over the largest |ref| (inf when shapes differ),
    and whether every element is within ``atol + rtol·|ref|`` (NaN never is)."""
    import numpy as np

    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    if ref.shape != got.shape:
        inf = float("inf")
        return Difference(framework, name, index, tuple(got.shape), inf, inf, False)
    gap = np.abs(got - ref)
    delta = float(np.max(gap)) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    within = bool(np.all(gap <= atol + rtol * np.abs(ref)))
    rel = delta / max(scale, 1e-30)
    return Difference(framework, name, index, tuple(ref.shape), delta, rel, within)


def tolerance(atol: float, rtol: float) -> str:
    """``atol 1e-05, rtol 1e-05``, as the reports print the rule."""
    return f"atol {atol:g}, rtol {rtol:g}"


@dataclass
class PortReport:
    """One spec ported from ``source`` to each of ``targets``."""

    spec: str
    file: str
    source: str
    targets: tuple[str, ...]
    weights: str
    atol: float
    inputs: dict[str, tuple[int, ...]]
    hyperparameters: list[str]
    conversions: dict[str, list[str]]
    rtol: float = 1e-5
    outputs: list[Difference] = field(default_factory=list)
    layers: list[Difference] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and all(d.within for d in self.outputs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "from": self.source,
            "to": list(self.targets),
            "weights": self.weights,
            "atol": self.atol,
            "rtol": self.rtol,
            "inputs": {k: list(v) for k, v in self.inputs.items()},
            "hyperparameters": self.hyperparameters,
            "conversions": self.conversions,
            "outputs": [d.as_dict() | {"ok": d.within} for d in self.outputs],
            "layers": [d.as_dict() for d in self.layers],
            "failures": self.failures,
            "ok": self.ok,
        }


def _source_weights(graph: Graph, source: str, path: str | None, seed: int) -> tuple[Any, str]:
    """The source framework's tensors and where they came from."""
    import backends

    if path is None:
        weights = from_canonical(graph, source, random_canonical(graph, seed))
        return weights, f"random (seed {seed})"
    kind = readable_file(path)
    notes: list[str] = []  # the file's dtype conversions, printed with where it came from
    if kind == source:  # the source's own file: its tensors as they are, buffers included
        weights = backends.load(source).load_weights_file(graph, path, notes)
        check_weights(graph, source, weights, path)
        return weights, origin(path, kind, notes)
    _, canonical = load_any(graph, path, notes)
    return from_canonical(graph, source, canonical), origin(path, kind, notes)


def _diffs(
    framework: str, ref: dict[str, list[Any]], got: dict[str, list[Any]], report: PortReport
) -> list[Difference]:
    return [
        difference(framework, name, i, r, g, report.atol, report.rtol)
        for name, values in ref.items()
        for i, (r, g) in enumerate(zip(values, got.get(name, []), strict=False))
    ]


def _outputs_by_name(graph: Graph, values: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name in graph.outputs:
        count = len(graph.node(name).output_shapes)
        out[name], values = list(values[:count]), values[count:]
    return out


def _run(fw: str, built: Any, inputs: dict[str, Any]) -> tuple[dict, dict]:
    """(outputs by output layer, every layer's outputs) of one built model."""
    import backends

    module = backends.load(fw)
    if built.unsupported:
        why = "; ".join(f"'{k}': {v}" for k, v in built.unsupported.items())
        raise BackendError(f"{fw} cannot build {why}")
    outputs = _outputs_by_name(built.graph, module.run(built, inputs))
    return outputs, module.layer_outputs(built, inputs)


def port_report(
    graph: Graph,
    source: str,
    targets: tuple[str, ...],
    weights_path: str | None = None,
    atol: float = 1e-5,
    seed: int = 0,
    rtol: float = 1e-5,
) -> PortReport:
    """Port ``graph``'s weights from ``source`` to ``targets`` and measure the differences."""
    import backends

    weights, origin = _source_weights(graph, source, weights_path, seed)
    src = backends.load(source)
    built = src.set_weights(src.build(graph, seed), weights)
    canonical = to_canonical(graph, source, src.get_weights(built))
    inputs = sample_inputs(graph, seed)
    report = PortReport(
        graph.name,
        graph.file,
        source,
        targets,
        origin,
        atol,
        {k: tuple(v.shape) for k, v in inputs.items()},
        hyperparameter_notes(graph),
        weight_notes(graph, source, targets),
        rtol,
    )
    ref_outputs, ref_layers = _run(source, built, inputs)
    for fw in targets:
        module = backends.load(fw)
        try:
            target = module.set_weights(
                module.build(graph, seed), from_canonical(graph, fw, canonical)
            )
            outputs, layers = _run(fw, target, inputs)
        except BackendError as exc:
            report.failures[fw] = str(exc)
            continue
        report.outputs += _diffs(fw, ref_outputs, outputs, report)
        report.layers += _diffs(fw, ref_layers, layers, report)
    order = {name: i for i, name in enumerate(n.name for n in graph.nodes)}
    report.layers.sort(key=lambda d: (order[d.name], targets.index(d.framework)))
    return report


def render_text(report: PortReport, details: bool = True) -> str:
    """The report for a terminal; ``details`` adds conversions and per-layer rows."""
    inputs = ", ".join(f"{k} {tuple(v)}" for k, v in report.inputs.items())
    head = f"{report.spec}: {report.source} → {', '.join(report.targets)}"
    rule = tolerance(report.atol, report.rtol)
    lines = [f"{head}  (weights: {report.weights}; input {inputs}; {rule})"]
    if details:
        lines += _section("hyperparameters", report.hyperparameters)
        lines.append(f"  canonical layout: {CANONICAL}")
        for fw, notes in report.conversions.items():
            title = f"{fw} (source) → canonical" if fw == report.source else f"canonical → {fw}"
            lines += _section(title, notes)
    lines += _table("outputs", report.outputs, marks=True)
    if details:
        lines += _table("layers", report.layers, marks=False)
    for fw, why in report.failures.items():
        lines.append(f"  FAILED {fw}: {why}")
    worst = max((d.max_abs for d in report.outputs), default=0.0)
    verdict = "ok" if report.ok else "FAILED"
    lines.append(f"  {verdict}: largest output difference {worst:.3g} ({rule})")
    return "\n".join(lines)


def _section(title: str, notes: list[str]) -> list[str]:
    return [f"  {title}:", *(f"    {n}" for n in notes)] if notes else []


def _table(title: str, diffs: list[Difference], marks: bool) -> list[str]:
    if not diffs:
        return []
    width = max(len(title), *(len(_label(d)) for d in diffs))
    head = f"    {title:<{width}}  {'to':<6} {'max abs':>10} {'max rel':>10}"
    rows = []
    for d in diffs:
        mark = "" if not marks else ("  ok" if d.within else "  ABOVE atol + rtol·|ref|")
        rows.append(
            f"    {_label(d):<{width}}  {d.framework:<6} {d.max_abs:>10.3g} {d.max_rel:>10.3g}{mark}"
        )
    return [head, *rows]


def _label(d: Difference) -> str:
    return d.name if d.index == 0 else f"{d.name}[{d.index}]"
