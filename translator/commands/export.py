"""The ``export`` command: one spec's model written for every framework, same weights in all.

``export_spec`` writes into one directory ``model.keras`` (Keras), ``model.onnx`` (ONNX),
``model.pt`` with ``model.py`` (a PyTorch state_dict and the standalone module that loads
it) and ``weights.npz`` (the canonical weights, ``translator.weights.canonical``), each made by
``backends.<fw>.export`` from the same canonical weights: random, or read from a weights
file. It then reloads every file the way a user would, runs one seeded input through each
(in that file's own layout) and measures its outputs against the spec's model as the
PyTorch backend builds it. A framework whose file cannot hold the model (Keras's built-in
GroupedQueryAttention refuses a query narrower than its values, say), or whose framework
cannot run it on this machine, is a failure in the report, not an exception.

Layouts (Keras the spec's, PyTorch and ONNX PyTorch's natural one) are ``translator.ir.layout``'s.

No framework is imported here: backends load lazily, numpy inside the functions.
"""

from __future__ import annotations

import importlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translator.errors import UnsupportedInBackend
from translator.ir import Graph
from translator.ir.layout import tensor_layouts, to_layout
from translator.outputs import check_directory, check_own_files, refuse, staged_directory

# The frameworks written, in the order their files are made and listed.
EXPORTERS = ("keras", "onnx", "torch")
CANONICAL_FILE = "weights.npz"
# Every name export writes: with --force, these (and only these) are replaced in --out.
OWN_FILES = ("model.keras", "model.onnx", "model.onnx.data", "model.pt", "model.py", CANONICAL_FILE)


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
    rtol: float = 1e-5
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, what it is)
    layouts: dict[str, list[str]] = field(default_factory=dict)  # framework → its inputs
    outputs: list[Any] = field(default_factory=list)  # translator.commands.port.Difference
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and all(d.within for d in self.outputs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "out": self.out,
            "weights": self.weights,
            "atol": self.atol,
            "rtol": self.rtol,
            "files": [{"path": p, "content": what} for p, what in self.files],
            "inputs": self.layouts,
            "outputs": [d.as_dict() | {"ok": d.within} for d in self.outputs],
            "failures": self.failures,
            "ok": self.ok,
        }


def _canonical(graph: Graph, weights_path: str | None, seed: int) -> tuple[Any, str]:
    from translator.commands.port import random_canonical
    from translator.weights.files import load_any, origin

    if weights_path is None:
        return random_canonical(graph, seed), f"random (seed {seed})"
    notes: list[str] = []  # the file's dtype conversions, printed with where it came from
    kind, canonical = load_any(graph, weights_path, notes)
    return canonical, origin(weights_path, kind, notes)


def write_files(
    graph: Graph, out: Path, canonical: Any, failures: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """Every framework's files and the canonical weights, all from ``canonical``. A
    framework whose file cannot hold the model (a layer its exporter declines) writes
    nothing; why goes into ``failures``, or raises without it."""
    from translator.weights.canonical import from_canonical
    from translator.weights.files import save_canonical

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
    from translator.weights.canonical import from_canonical

    torch = backends.load("torch")
    built = torch.set_weights(torch.build(graph), from_canonical(graph, "torch", canonical))
    return torch.run(built, inputs)


def check_files(graph: Graph, out: Path, canonical: Any, report: ExportReport, seed: int) -> None:
    """Reload every written model with its own framework and compare its outputs."""
    from translator.commands.port import difference
    from translator.ir.sample import sample_inputs

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
            diff = difference(fw, t.name, t.index, ref, value, report.atol, report.rtol)
            report.outputs.append(diff)


def _gist(exc: Exception) -> str:
    """The line of a framework's error message that says what went wrong: Keras wraps
    TensorFlow's under "Exception encountered when calling ...", with terminal colours and
    TensorFlow's "{{function_node ...}}" prefix."""
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{[^}]*\}\}\s*", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith("Exception encountered when")]
    return (said or lines or [""])[0]


def check_out(text: str, force: bool = False) -> Path:
    """``--out``: a new directory, an empty one, or (``force``) one whose files named like
    ours (``OWN_FILES``) are regular files, to be replaced; raises ``OutputError``."""
    out = check_directory("--out", text)
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise refuse(
                "--out",
                out,
                "directory exists and is not empty",
                f"pass --force to replace the export's own files in it ({', '.join(OWN_FILES)})"
                " and keep the others, or name a new directory",
            )
        check_own_files("--out", out, OWN_FILES)
    return out


def export_spec(
    graph: Graph,
    out: str | Path,
    weights_path: str | None = None,
    seed: int = 0,
    atol: float = 1e-5,
    force: bool = False,
    rtol: float = 1e-5,
) -> ExportReport:
    """Write ``graph``'s model for every framework into ``out`` and check each file.

    The files are written and checked in a directory staged next to ``out``, then moved
    into it whole (``translator.outputs.staged_directory``): a failed or interrupted export
    leaves ``out`` as it was."""
    target = check_out(str(out), force)
    canonical, origin = _canonical(graph, weights_path, seed)
    report = ExportReport(graph.name, str(out), origin, atol, rtol)
    with staged_directory("--out", target, OWN_FILES) as stage:
        written = write_files(graph, stage, canonical, report.failures)
        check_files(graph, stage, canonical, report, seed)
        shutil.rmtree(stage / "__pycache__", ignore_errors=True)  # from importing model.py
    report.files = [(str(target / Path(path).name), what) for path, what in written]
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
    from translator.commands.port import tolerance

    rule = tolerance(report.atol, report.rtol)
    lines.append(f"  {verdict}: largest difference {worst:.3g} ({rule})")
    return "\n".join(lines)


def _label(name: str, index: int) -> str:
    return name if index == 0 else f"{name}[{index}]"
