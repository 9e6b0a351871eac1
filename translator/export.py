"""The ``export`` command: one spec's model written for every framework, same weights in all.

``export_spec`` writes into one directory ``model.keras`` (Keras), ``model.onnx`` (ONNX),
``model.pt`` with ``model.py`` (a PyTorch state_dict and the standalone module that loads
it) and ``weights.npz`` (the canonical weights, ``translator.port``), each made by
``backends.<fw>.export`` from the same canonical weights: random, or read from a weights
file. It then reloads every file the way a user would, runs one seeded input through each
(in that file's own layout) and measures its outputs against the spec's model as the
PyTorch backend builds it. A framework whose file cannot hold the model (Keras's built-in
GroupedQueryAttention refuses a query narrower than its values, say), or whose framework
cannot run it on this machine, is a failure in the report, not an exception.

Layouts: Keras takes the spec's layout. PyTorch and ONNX take PyTorch's natural one
(``natural_axes``): in a channels-last spec with 2-D spatial layers (convolutions, pooling,
padding, cropping, upsampling), tensors with two axes or more before the channels put the
channels before the two image axes ((H, W, C) → (C, H, W), (T, H, W, C) → (T, C, H, W)); with
3-D spatial layers, volumes likewise ((D, H, W, C) → (C, D, H, W)), and a spec with both
takes the 3-D rule (a rank-3 tensor then keeps its layout). 1-D spatial layers change
nothing: their tensors are sequences, and sequences stay (batch, time, features) everywhere,
as PyTorch's recurrent layers and attention take them (``nn.Conv1d``'s (batch, channels,
time) would make every Conv1D-and-RNN model disagree with itself).

No framework is imported here: backends load lazily, numpy inside the functions.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translator.errors import UnsupportedInBackend
from translator.ir import Graph, Node, Shape

# The frameworks written, in the order their files are made and listed.
EXPORTERS = ("keras", "onnx", "torch")
CANONICAL_FILE = "weights.npz"
# Layer types with spatial axes, by how many: a channels-last spec with any of them takes
# images (or volumes) channels first in PyTorch and ONNX.
SPATIAL: dict[int, frozenset[str]] = {
    2: frozenset(
        {
            "Conv2D",
            "Conv2DTranspose",
            "DepthwiseConv2D",
            "SeparableConv2D",
            "MaxPooling2D",
            "AveragePooling2D",
            "GlobalMaxPooling2D",
            "GlobalAveragePooling2D",
            "ZeroPadding2D",
            "Cropping2D",
            "UpSampling2D",
        }
    ),
    3: frozenset(
        {
            "Conv3D",
            "Conv3DTranspose",
            "MaxPooling3D",
            "AveragePooling3D",
            "GlobalMaxPooling3D",
            "GlobalAveragePooling3D",
            "ZeroPadding3D",
        }
    ),
}


def spatial_rank(graph: Graph) -> int:
    """How many image axes a channels-last spec's tensors have in PyTorch's eyes: 3 with a
    3-D spatial layer (wrapped ones included), else 2 with a 2-D one, else 0 (as for any
    channels-first spec, already in PyTorch's layout)."""
    if graph.data_format != "channels_last":
        return 0
    types = {t for n in graph.nodes for t in (n.type, n.inner.type if n.inner else None)}
    return max((rank for rank, spatial in SPATIAL.items() if types & spatial), default=0)


def image_spec(graph: Graph) -> bool:
    """A channels-last spec with a 2-D or 3-D spatial layer (wrapped ones included)."""
    return spatial_rank(graph) > 0


def natural_axes(graph: Graph, shape: Shape) -> tuple[int, ...] | None:
    """The axes (batch axis 0 included) of a spec-layout tensor of per-example ``shape`` in
    PyTorch's natural order, ``None`` when the two layouts are the same."""
    rank, spatial = len(shape), spatial_rank(graph)
    if not spatial or rank < spatial + 1:
        return None
    lead = rank - spatial  # the axes before the image axes, batch axis not counted
    return (0, *range(1, lead), rank, *range(lead, rank))


def inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes ``axes``."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


@dataclass(frozen=True)
class Tensor:
    """A model input or output as exported: its node, its index among the node's outputs
    (``many``: the node has several), per-example spec shape, dtype, and ``axes`` from the
    spec's layout to PyTorch's natural one (``None``: the same)."""

    name: str
    index: int
    many: bool
    shape: Shape
    dtype: str
    axes: tuple[int, ...] | None

    @property
    def inverse(self) -> tuple[int, ...] | None:
        return None if self.axes is None else inverse(self.axes)

    def natural_shape(self) -> tuple[int | None, ...]:
        full = (None, *self.shape)
        return full if self.axes is None else tuple(full[a] for a in self.axes)

    def describe(self, natural: bool = True) -> str:
        """``(batch, 1, 28, 28) float32``; free sizes are ``None``."""
        dims = self.natural_shape() if natural else (None, *self.shape)
        text = ", ".join(["batch", *(str(d) for d in dims[1:])])
        return f"({text}) {self.dtype}"


@dataclass(frozen=True)
class Layouts:
    """Every input and output tensor of a graph, in ``forward`` order."""

    inputs: list[Tensor]
    outputs: list[Tensor]


def tensor_layouts(graph: Graph) -> Layouts:
    """The graph's inputs and output tensors with their natural-layout permutations."""
    inputs = []
    for name in graph.inputs:
        node = graph.node(name)
        shape = node.output_shape
        inputs.append(Tensor(name, 0, False, shape, node.dtype, natural_axes(graph, shape)))
    outputs = []
    for name in graph.outputs:
        node = graph.node(name)
        many = len(node.output_shapes) > 1
        for i, shape in enumerate(node.output_shapes):
            axes = natural_axes(graph, shape)
            outputs.append(Tensor(name, i, many, shape, node.dtype, axes))
    return Layouts(inputs, outputs)


def to_layout(arrays: list[Any], tensors: list[Tensor], natural: bool, back: bool = False) -> list:
    """Spec-layout arrays → ``natural`` (PyTorch's) layout, or back with ``back``."""
    import numpy as np

    if not natural:
        return list(arrays)
    out = []
    for array, t in zip(arrays, tensors, strict=True):
        axes = t.inverse if back else t.axes
        out.append(array if axes is None else np.ascontiguousarray(np.transpose(array, axes)))
    return out


def fresh_name(graph: Graph, base: str) -> str:
    """``base``, with ``_`` appended while a spec layer has that name: the name of a layer an
    exporter adds (a Permute around a convolution, say)."""
    names = {n.name for n in graph.nodes}
    while base in names:
        base += "_"
    return base


def stack_name(graph: Graph, name: str, index: int) -> str:
    """The exported layer holding layer ``index`` > 0 of recurrent stack ``name`` where a
    framework has no stacks (Keras)."""
    return fresh_name(graph, f"{name}_layer_{index}")


def same_pads(node: Node, framework: str) -> tuple[tuple[int, int], ...]:
    """TensorFlow's "same" zeros (before, after) per spatial axis of a convolution ``node``
    (known sizes), the odd one at the end."""
    a = node.args
    shape = node.input_shape
    sizes = shape[1:] if a["data_format"] == "channels_first" else shape[:-1]
    pairs = []
    for n, k, s, d in zip(sizes, a["kernel_size"], a["strides"], a["dilation_rate"], strict=True):
        if n is None:
            raise UnsupportedInBackend(framework, node.type, "unequal strides need known sizes")
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def exporter(framework: str) -> Any:
    """``backends.<framework>.export`` (importing the framework)."""
    import backends

    backends.load(framework)
    return importlib.import_module(f"backends.{framework}.export")


@dataclass
class ExportReport:
    """What ``export_spec`` wrote and how each reloaded file's outputs compare."""

    spec: str
    out: str
    weights: str
    atol: float
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, what it is)
    layouts: dict[str, list[str]] = field(default_factory=dict)  # framework → its inputs
    outputs: list[Any] = field(default_factory=list)  # translator.porting.Difference
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and all(d.max_abs <= self.atol for d in self.outputs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "out": self.out,
            "weights": self.weights,
            "atol": self.atol,
            "files": [{"path": p, "content": what} for p, what in self.files],
            "inputs": self.layouts,
            "outputs": [d.as_dict() | {"ok": d.max_abs <= self.atol} for d in self.outputs],
            "failures": self.failures,
            "ok": self.ok,
        }


def _canonical(graph: Graph, weights_path: str | None, seed: int) -> tuple[Any, str]:
    from translator.port import load_any
    from translator.porting import random_canonical

    if weights_path is None:
        return random_canonical(graph, seed), f"random (seed {seed})"
    kind, canonical = load_any(graph, weights_path)
    return canonical, f"{weights_path} ({kind})"


def write_files(
    graph: Graph, out: Path, canonical: Any, failures: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """Every framework's files and the canonical weights, all from ``canonical``. A
    framework whose file cannot hold the model (a layer its exporter declines) writes
    nothing; why goes into ``failures``, or raises without it."""
    from translator.port import from_canonical, save_canonical

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for fw in EXPORTERS:
        try:
            written = exporter(fw).export(graph, from_canonical(graph, fw, canonical), out)
        except UnsupportedInBackend as gap:
            if failures is None:
                raise
            failures[fw] = f"not exported: {gap.layer_type}: {gap.reason}"
            continue
        files += [(str(path), what) for path, what in written]
    save_canonical(out / CANONICAL_FILE, canonical)
    files.append((str(out / CANONICAL_FILE), 'canonical weights, keys "<layer>/<role>"'))
    return files


def reference_outputs(graph: Graph, canonical: Any, inputs: dict[str, Any]) -> list[Any]:
    """The spec's model as the PyTorch backend builds it, holding ``canonical``."""
    import backends
    from translator.port import from_canonical

    torch = backends.load("torch")
    built = torch.set_weights(torch.build(graph), from_canonical(graph, "torch", canonical))
    return torch.run(built, inputs)


def check_files(graph: Graph, out: Path, canonical: Any, report: ExportReport, seed: int) -> None:
    """Reload every written model with its own framework and compare its outputs."""
    from translator.porting import difference
    from translator.sample import sample_inputs

    layouts = tensor_layouts(graph)
    inputs = sample_inputs(graph, seed)
    spec_inputs = [inputs[t.name] for t in layouts.inputs]
    reference = reference_outputs(graph, canonical, inputs)
    for fw in (fw for fw in EXPORTERS if fw not in report.failures):  # written
        module = exporter(fw)
        report.layouts[fw] = [f"{t.name} {t.describe(module.NATURAL)}" for t in layouts.inputs]
        feed = to_layout(spec_inputs, layouts.inputs, module.NATURAL)
        try:
            got = module.run_exported(graph, out, feed)
        # A file its own framework refuses, or cannot run on this machine (TensorFlow's
        # errors are neither RuntimeError nor ValueError): reported, not raised.
        except Exception as exc:
            report.failures[fw] = f"{type(exc).__name__}: {_gist(exc)}"
            continue
        got = to_layout(got, layouts.outputs, module.NATURAL, back=True)
        for t, ref, value in zip(layouts.outputs, reference, got, strict=True):
            report.outputs.append(difference(fw, t.name, t.index, ref, value))


def _gist(exc: Exception) -> str:
    """The line of a framework's error message that says what went wrong: Keras wraps
    TensorFlow's under "Exception encountered when calling ...", with terminal colours and
    TensorFlow's "{{function_node ...}}" prefix."""
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{[^}]*\}\}\s*", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith("Exception encountered when")]
    return (said or lines or [""])[0]


def export_spec(
    graph: Graph,
    out: str | Path,
    weights_path: str | None = None,
    seed: int = 0,
    atol: float = 1e-5,
) -> ExportReport:
    """Write ``graph``'s model for every framework into ``out`` and check each file."""
    canonical, origin = _canonical(graph, weights_path, seed)
    report = ExportReport(graph.name, str(out), origin, atol)
    report.files = write_files(graph, Path(out), canonical, report.failures)
    check_files(graph, Path(out), canonical, report, seed)
    return report


def render_text(report: ExportReport) -> str:
    """The report for a terminal: the files, each framework's inputs, the differences."""
    lines = [f"{report.spec}: exported to {report.out} (weights: {report.weights})"]
    width = max(len(p) for p, _ in report.files)
    lines += [f"  wrote {p:<{width}}  {what}" for p, what in report.files]
    lines.append("  inputs:")
    lines += [f"    {fw:<6} {', '.join(ins)}" for fw, ins in report.layouts.items()]
    lines.append(
        "  each file reloaded by its framework, same input, vs the spec's model (max abs difference):"
    )
    names = list(dict.fromkeys((d.name, d.index) for d in report.outputs))
    head = max([len("output"), *(len(_label(n, i)) for n, i in names)])
    lines.append(f"    {'output':<{head}}" + "".join(f"  {fw:>9}" for fw in EXPORTERS))
    for name, index in names:
        row = {d.framework: d.max_abs for d in report.outputs if (d.name, d.index) == (name, index)}
        cells = "".join(f"  {row[fw]:>9.2g}" if fw in row else f"  {'-':>9}" for fw in EXPORTERS)
        lines.append(f"    {_label(name, index):<{head}}{cells}")
    lines += [f"  FAILED {fw}: {why}" for fw, why in report.failures.items()]
    worst = max((d.max_abs for d in report.outputs), default=0.0)
    verdict = "ok" if report.ok else "FAILED"
    lines.append(f"  {verdict}: largest difference {worst:.3g} (atol {report.atol:g})")
    return "\n".join(lines)


def _label(name: str, index: int) -> str:
    return name if index == 0 else f"{name}[{index}]"
