"""A partial import: the spec of the layers an importer claimed, made something a person can
complete, and the report that lists what was not imported.

When some layers of a source model are unclaimed, ``import`` still writes the claimed
layers as a spec (``complete``), with this convention where a claimed layer reads the output
of an unclaimed one:

* **A stand-in input.** The unclaimed layer's output becomes a model input of the same name
  (made a spec name if it is not one) and of its known shape and dtype, marked by a comment
  ``# stand-in for ...``. The layers after it read that input, so the spec loads
  (``translator check``, ``count``) and counts the claimed layers exactly; a person completes
  it by removing the stand-in and writing the layers that compute it.
* **A TODO comment** ``# TODO: <name> (<op>, N parameters) not imported: <why>`` where each
  unclaimed layer belongs: before the first layer that reads it, else after the last layer.

Where an unclaimed layer's output shape is unknown (the importer did not say, or the layer
is called more than once), its readers keep the reference and the spec does not load; the
report says so. Outputs that no claimed layer makes are left out (the last layer is then the
output). An importer that refuses a layer reading an unclaimed one (ONNX, PyTorch) lists that
layer as unclaimed too, so its partial spec holds the layers before the first unclaimed one.

The report (``report_markdown``) is Markdown: source, framework, counts, whether the spec
loads, the stand-ins, the weights, and a table of the unclaimed layers.

No framework is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from translator.commands.importing import INPUT_DTYPES, Unclaimed, spec_name

REPORT_SUFFIX = ".import-report.md"  # SPEC.yaml → SPEC.import-report.md, next to it


@dataclass
class Notes:
    """YAML comments for a spec's text: lines at the top, lines before an input or layer
    (by name), and lines after the last layer."""

    header: list[str] = field(default_factory=list)
    before: dict[str, list[str]] = field(default_factory=dict)
    after_layers: list[str] = field(default_factory=list)


@dataclass
class Partial:
    """The completed partial spec, its comments, and which unclaimed layers have stand-ins
    (``{unclaimed name: input name}``)."""

    spec: dict[str, Any]
    notes: Notes
    stand_ins: dict[str, str] = field(default_factory=dict)
    dangling: list[str] = field(default_factory=list)  # references left unresolved


def todo(u: Unclaimed) -> str:
    """The TODO comment of an unclaimed layer (one line)."""
    reason = " ".join(u.reason.split())
    return f"# TODO: {u.name} ({u.cls}, {u.params:,} parameters) not imported: {reason}"


def _refs(value: Any) -> list[str]:
    """The names a layer's ``inputs`` (a name or a list of names) refers to."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    return [_renamed(v, names) for v in value] if isinstance(value, list) else value


def _stand_in(u: Unclaimed, taken: set[str]) -> dict[str, Any] | None:
    """The model input standing in for ``u``'s output; None when its shape is unknown."""
    if u.shape is None or not u.shape or u.dtype not in INPUT_DTYPES:
        return None
    entry: dict[str, Any] = {"name": spec_name(u.name, "stand_in", taken), "shape": list(u.shape)}
    if u.dtype != "float32":
        entry["dtype"] = u.dtype
    return entry


def complete(spec: dict[str, Any], unclaimed: list[Unclaimed]) -> Partial:
    """The partial spec ``spec`` (claimed layers only) made loadable by the convention of the
    module doc, with its comments."""
    layers = [dict(layer) for layer in spec.get("layers", [])]
    inputs = [dict(i) for i in spec.get("inputs", [])]
    defined = {str(i["name"]) for i in inputs} | {str(layer["name"]) for layer in layers}
    by_name = {u.name: u for u in unclaimed}
    partial = Partial({**spec, "inputs": inputs, "layers": layers}, Notes())
    placed: set[str] = set()
    taken = set(defined)
    for layer in layers:
        for ref in _refs(layer.get("inputs")):
            if ref in defined or ref in partial.stand_ins or ref in partial.dangling:
                continue
            u = by_name.get(ref)
            entry = _stand_in(u, taken) if u is not None else None
            if u is None or entry is None:
                partial.dangling.append(ref)
            else:
                partial.stand_ins[ref] = entry["name"]
                inputs.append(entry)
                note = f"# stand-in for the output of {ref} ({u.cls}, not imported)"
                partial.notes.before[entry["name"]] = [note]
            if u is not None:
                partial.notes.before.setdefault(str(layer["name"]), []).append(todo(u))
                placed.add(u.name)
        if "inputs" in layer:
            layer["inputs"] = _renamed(layer["inputs"], partial.stand_ins)
    partial.notes.after_layers = [todo(u) for u in unclaimed if u.name not in placed]
    if partial.stand_ins and len(inputs) - len(partial.stand_ins) == 1 and layers:
        # The first layer took the one input implicitly; with stand-ins there are several.
        layers[0].setdefault("inputs", str(inputs[0]["name"]))
    _keep_made_outputs(partial.spec, defined)
    fed = _feeding_unclaimed(partial.spec)
    if fed:
        outputs = _refs(partial.spec.get("outputs")) or [str(layers[-1]["name"])]
        partial.spec["outputs"] = outputs + fed
        partial.notes.after_layers.append(
            f"# outputs also {', '.join(fed)}: read only by layers not imported (an output is"
            " built, and its weights port)"
        )
    return partial


def _feeding_unclaimed(spec: dict[str, Any]) -> list[str]:
    """The layers no kept layer reads and no output names: those whose readers were not
    imported (every framework prunes a layer that leads to no output)."""
    layers, inputs = spec["layers"], spec["inputs"]
    read: set[str] = set(_refs(spec.get("outputs")))
    previous = str(inputs[0]["name"]) if len(inputs) == 1 else None
    for layer in layers:
        read.update(_refs(layer["inputs"]) if "inputs" in layer else [previous or ""])
        previous = str(layer["name"])
    if "outputs" not in spec and layers:
        read.add(str(layers[-1]["name"]))
    return [str(layer["name"]) for layer in layers if str(layer["name"]) not in read]


def _keep_made_outputs(spec: dict[str, Any], defined: set[str]) -> None:
    """Keep only the outputs a claimed layer or input makes; none left: the last layer."""
    if "outputs" not in spec:
        return
    kept = [ref for ref in _refs(spec["outputs"]) if ref in defined]
    if not kept:
        del spec["outputs"]
    else:
        spec["outputs"] = kept[0] if len(kept) == 1 else kept


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def report_markdown(
    report: Any, partial: Partial, loads: str | None, weights: str, out: str
) -> str:
    """The import report of a partial import (``report`` an ``ImportReport``; ``loads`` None
    when the spec loads, else the loader's first error; ``weights`` what became of them)."""
    unclaimed: list[Unclaimed] = report.unclaimed
    total = sum(u.params for u in unclaimed)
    claimed = len(partial.spec["layers"])
    lines = [
        f"# Partial import of `{report.source}`",
        "",
        f"- source: `{report.source}` ({report.framework})",
        f"- claimed: {claimed} layer(s), written to `{out}`",
        f"- unclaimed: {len(unclaimed)} layer(s), holding {total:,} parameters (table below)",
        "- the partial spec "
        + ("loads with `translator check`" if loads is None else f"does not load: {loads}"),
        f"- weights: {weights}",
    ]
    for name, standing in partial.stand_ins.items():
        lines.append(f"- stand-in input `{standing}`: the output of unclaimed `{name}`")
    for ref in partial.dangling:
        lines.append(f"- unresolved reference `{ref}`: its shape is unknown, so no stand-in")
    lines += ["", "| node or module | op | parameters | why |", "| --- | --- | ---: | --- |"]
    lines += [
        f"| {_cell(u.name)} | {_cell(u.cls)} | {u.params:,} | {_cell(u.reason)} |"
        for u in unclaimed
    ]
    lines += [
        "",
        "To complete the spec, write the layers each `# TODO` comment names where it stands,",
        "and replace each stand-in input by the layers that compute it.",
    ]
    return "\n".join(lines) + "\n"


def _loads(text: str, out: str) -> tuple[Any, str | None]:
    """The partial spec's graph and None, or None and the loader's first error."""
    from translator.errors import SpecErrors
    from translator.spec.loader import load_text

    try:
        return load_text(text, out), None
    except SpecErrors as exc:
        return None, exc.errors[0].render()


def write_partial(imported: Any, report: Any, out: str, weights_out: str | None) -> Any:
    """Write the partial spec of ``imported`` (an ``Imported`` with unclaimed layers) to
    ``out`` and its report next to it, and the claimed layers' weights to ``weights_out``
    when the spec loads (then each claimed layer's weights are its own, well defined)."""
    from pathlib import Path

    from translator.commands.importing import _canonical, _write_atomically, spec_text
    from translator.weights.files import save_canonical

    partial = complete(imported.spec, report.unclaimed)
    report_path = str(Path(out).with_suffix(REPORT_SUFFIX))
    partial.notes.header = [
        (
            f"# A partial import of {report.source} ({report.framework}):"
            f" {len(report.unclaimed)} layer(s) not imported, listed in {Path(report_path).name}"
        )
    ]
    text = spec_text(partial.spec, partial.notes)
    graph, error = _loads(text, out)
    canonical = _canonical(imported, graph) if weights_out and graph is not None else None
    if not weights_out:
        weights = "not asked for (--weights-out)"
    elif canonical is None:
        weights = f"not written to {weights_out}: the partial spec does not load"
    else:
        weights = f"the claimed layers' canonical weights, written to {weights_out}"
    body = report_markdown(report, partial, error, weights, out)
    _write_atomically(Path(out), lambda temp: temp.write_text(text, encoding="utf-8"))
    claimed = f"{len(partial.spec['layers'])} claimed layers"
    state = "loads with translator check" if error is None else f"does not load ({error})"
    report.written.append((out, f"partial spec '{partial.spec['name']}', {claimed}; {state}"))
    _write_atomically(Path(report_path), lambda temp: temp.write_text(body, encoding="utf-8"))
    report.written.append((report_path, "import report: what was not imported, and why"))
    if weights_out and canonical is not None:
        _write_atomically(Path(weights_out), lambda temp: save_canonical(temp, canonical))
        report.written.append((weights_out, "canonical weights of the claimed layers"))
    elif weights_out:
        report.notes.append(f"weights: {weights}")
    report.notes += [
        f"stand-in input {v}: the output of unclaimed {k}" for k, v in partial.stand_ins.items()
    ]
    return report
