"""The ``audit`` command: what a model file from anywhere holds, layer by layer, against the spec.

``audit_file`` reads the file's tensors (``translator.weights.inventory``: by name where the
exporter kept it, by the graph's structure where it did not), and compares each spec layer
with the IR's prediction for the framework the file came from (PyTorch for
``torch.onnx.export``, a state_dict, ``.safetensors`` or ``.pt2``; Keras for ``.keras`` and
tf2onnx; ONNX for the translator's own export). Per layer, tensors are matched by name, then
by shape, then as a packing of several predicted tensors into one (ONNX's ``B = [Wb, Rb]``),
then by size, then as one predicted tensor split into several. What is left (predicted but missing, held but extra) goes to the exporter
rules (``translator.exporter_rules``); what no rule explains is ``unexplained``, and the
command exits 1 unless it is zero everywhere.

No framework is imported here; the readers import theirs lazily.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from translator.exporter_rules import RULE_INDEX, Finding, Row, Rows, explain_rows
from translator.ir import Graph, WeightSpec
from translator.weights.inventory import FileTensor, Inventory, read_inventory

LABELS = {"keras": "Keras", "torch": "PyTorch", "onnx": "ONNX"}
UNCLAIMED = "(no layer)"  # the row of tensors no spec layer claims
PACK_MAX = 4  # predicted tensors one stored tensor may pack (a Bidirectional LSTM's B: 4)
# The largest candidates tried per regrouping: combinations of 4 among 24 are 10,626; a row
# of hundreds of constants (an unrolled loop) must not make that millions.
REGROUP_CANDIDATES = 24
SPELLED_OUT = 3  # a rule applied more often is said once, with its total


@dataclass
class AuditReport:
    """A spec, a file, and the reconciled rows (one per layer that predicts or holds any)."""

    graph: Graph
    inventory: Inventory
    rows: list[Row]

    @property
    def predicted(self) -> int:
        return sum(w.size for r in self.rows for w in r.predicted)

    @property
    def held(self) -> int:
        return sum(t.size for r in self.rows for t in r.held)

    @property
    def unexplained(self) -> int:
        return sum(abs(r.unexplained) for r in self.rows)

    @property
    def ok(self) -> bool:
        return all(r.unexplained == 0 for r in self.rows)


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape's sizes without the 1s, sorted: equal for a tensor and its transposes."""
    return tuple(sorted(d for d in shape if d != 1))


def _pair(row: Row, same: Any) -> None:
    """Match each missing tensor to an extra one ``same`` says is it; take both out."""
    for w in list(row.missing):
        t = next((t for t in row.extra if same(w, t)), None)
        if t is not None:
            row.missing.remove(w)
            row.extra.remove(t)


def _floating(item: WeightSpec | FileTensor) -> bool:
    return getattr(item, "floating", True)  # a predicted tensor is always a float weight


def _summing(parts: list[Any], size: int) -> tuple[Any, ...] | None:
    """The first 2..PACK_MAX of ``parts`` whose sizes add up to ``size``."""
    for k in range(2, min(PACK_MAX, len(parts)) + 1):
        for combo in itertools.combinations(parts, k):
            if sum(p.size for p in combo) == size:
                return combo
    return None


def _regroup(row: Row, split: bool) -> None:
    """Packing (``split`` False): an extra tensor is several missing ones stored as one
    (ONNX's ``B = [Wb, Rb]``). Splitting: a missing tensor was stored as several extra ones
    (a recurrent kernel sliced per gate group, constant-folded)."""
    wholes: list[Any] = row.missing if split else row.extra
    parts: list[Any] = row.extra if split else row.missing
    for whole in sorted(wholes, key=lambda w: -w.size):
        fitting = [p for p in parts if _floating(p) and p.size < whole.size]
        fitting = sorted(fitting, key=lambda p: -p.size)[:REGROUP_CANDIDATES]
        combo = _summing(fitting, whole.size)
        if combo is not None and _floating(whole):
            for p in combo:
                parts.remove(p)
            wholes.remove(whole)


def match(row: Row) -> None:
    """Fill ``missing`` and ``extra`` with what name, shape, packing and size leave."""
    row.missing = list(row.predicted)
    row.extra = list(row.held)
    _pair(row, lambda w, t: t.named == w.name and t.shape == w.shape)
    _pair(row, lambda w, t: t.floating and _squeezed(t.shape) == _squeezed(w.shape))
    # Packing before sizes alone: a zero state of 24 elements must not pass for one of the
    # four 24-element biases a (2, 48) B packs.
    _regroup(row, split=False)
    _pair(row, lambda w, t: t.floating and t.size == w.size)
    _regroup(row, split=True)


def build_rows(graph: Graph, inventory: Inventory) -> Rows:
    """One row per spec layer, then one for the tensors no layer claims; each matched."""
    rows: Rows = {}
    for node in graph.layers:
        predicted = list(node.weights.get(inventory.framework, ()))
        rows[node.name] = Row(node.name, node, predicted, inventory.held(node.name))
    rows[UNCLAIMED] = Row(UNCLAIMED, None, [], inventory.held(None))
    for row in rows.values():
        match(row)
    return rows


def audit_file(graph: Graph, path: str) -> AuditReport:
    """Read ``path``, reconcile it against ``graph``, explain what differs."""
    inventory = read_inventory(path, graph)
    rows = build_rows(graph, inventory)
    explain_rows(rows, inventory)
    shown = [r for r in rows.values() if r.predicted or r.held]
    return AuditReport(graph, inventory, shown)


def _tensor_list(items: list[WeightSpec] | list[FileTensor]) -> str:
    return ", ".join(f"{t.name} {tuple(t.shape)}" for t in items)


def _left(row: Row) -> list[str]:
    """What no rule explains in ``row``, tensor by tensor."""
    lines = []
    if row.missing:
        lines.append(f"not in the file: {_tensor_list(row.missing)}")
    if row.extra:
        lines.append(f"not in the spec: {_tensor_list(row.extra)}")
    return lines


def _number(n: int) -> str:
    return f"{n:,}"


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def _row_cells(row: Row) -> list[str]:
    spec = sum(w.size for w in row.predicted)
    held = sum(t.size for t in row.held)
    rules = ", ".join(dict.fromkeys(f.rule for f in row.findings))
    if row.unexplained:
        rules = (rules + ", " if rules else "") + f"UNEXPLAINED {_signed(row.unexplained)}"
    kind = f" ({row.node.type})" if row.node is not None else ""
    return [f"{row.name}{kind}", _number(spec), _number(held), _signed(held - spec), rules]


def _table(report: AuditReport) -> list[str]:
    head = ["layer", "spec", "file", "difference", "rules"]
    cells = [_row_cells(r) for r in report.rows]
    total = report.held - report.predicted
    cells.append(["total", _number(report.predicted), _number(report.held), _signed(total), ""])
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    lines = []
    for c in [head, *cells]:
        left = c[0].ljust(widths[0])
        numbers = "  ".join(c[i].rjust(widths[i]) for i in (1, 2, 3))
        lines.append(f"  {left}  {numbers}  {c[4]}".rstrip())
    return lines


def _findings(report: AuditReport) -> list[str]:
    """Each rule applied, with its numbers: per layer, or (past ``SPELLED_OUT`` layers) in
    one line with its total and its first layer's numbers; then what no rule explains."""
    by_rule: dict[str, list[tuple[str, Finding]]] = {}
    for row in report.rows:
        for f in row.findings:
            by_rule.setdefault(f.rule, []).append((row.name, f))
    lines = []
    for rule, applied in by_rule.items():
        if len(applied) <= SPELLED_OUT:
            lines += [f"  [{rule}] {name} {_signed(f.delta)}: {f.text}" for name, f in applied]
            continue
        total = sum(f.delta for _, f in applied)
        name, first = applied[0]
        lines.append(
            f"  [{rule}] {len(applied)} times, {_signed(total)} in all; the first,"
            f" {name} {_signed(first.delta)}: {first.text}"
        )
    lines += [f"  UNEXPLAINED {r.name}: {text}" for r in report.rows for text in _left(r)]
    for used in (RULE_INDEX[i] for i in by_rule):
        lines.append(f"  {used.id} ({used.formula}): {used.cause}; to avoid: {used.avoid}")
    return lines


def render_text(report: AuditReport) -> str:
    """The per-layer table, each rule applied with its numbers, and the verdict."""
    inv = report.inventory
    lines = [
        f"{report.graph.name}: audit of {inv.source}",
        f"  written by {inv.exporter}; compared with the spec's {LABELS[inv.framework]} tensors",
        *_table(report),
        *_findings(report),
    ]
    total = report.held - report.predicted
    if report.ok:
        found = any(r.findings for r in report.rows)
        said = "every difference explained" if found else "no differences"
        lines.append(
            f"ok: spec {report.predicted:,}, file {report.held:,} ({_signed(total)}); {said}"
        )
    else:
        lines.append(
            f"UNEXPLAINED: {report.unexplained:,} elements in"
            f" {sum(1 for r in report.rows if r.unexplained)} layer(s)"
        )
    return "\n".join(lines)


def _row_data(row: Row) -> dict[str, Any]:
    spec = sum(w.size for w in row.predicted)
    held = sum(t.size for t in row.held)
    return {
        "layer": row.name,
        "type": row.node.type if row.node is not None else None,
        "spec": spec,
        "file": held,
        "difference": held - spec,
        "explanations": [{"rule": f.rule, "delta": f.delta, "text": f.text} for f in row.findings],
        "unexplained": row.unexplained,
        "missing": [{"name": w.name, "shape": list(w.shape)} for w in row.missing],
        "extra": [{"name": t.name, "shape": list(t.shape)} for t in row.extra],
    }


def as_dict(report: AuditReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    inv = report.inventory
    return {
        "spec": report.graph.name,
        "file": inv.source,
        "format": inv.format,
        "exporter": inv.exporter,
        "framework": inv.framework,
        "layers": [_row_data(r) for r in report.rows],
        "totals": {"spec": report.predicted, "file": report.held},
        "unexplained": report.unexplained,
        "ok": report.ok,
    }
