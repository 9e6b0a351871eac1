"""Compare a spec across frameworks: build, measure, check against the IR, reconcile.

``count_report`` answers from the IR alone (no framework imported). ``compare_report`` builds
the real model in each framework once, runs a forward pass on a seeded random batch, measures
what each framework really created and checks it against the IR tensor by tensor: a
difference there is a translator bug and fails loudly. Differences *between* frameworks are
then attributed to the reconciliation rules; what no rule explains is reported as unexplained.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from translator.commands.distinct import (
    Group,
    Materialized,
    choose,
    distinct_groups,
    materialized,
    mini_graph,
    weight_bytes,
)
from translator.errors import TranslatorError, UnsupportedInBackend
from translator.ir import FRAMEWORKS, INPUT, Graph, Node, counts, format_shape, memory
from translator.ir.sample import BATCH, STEPS, sample_inputs
from translator.reconcile import Explanation, explain, storage_note, unexplained

Counts = dict[str, int]
COLLECT_ABOVE = 64 * 2**20  # bytes of weights in one distinct layer's model


@dataclass
class LayerRow:
    """One layer's counts per framework (``None``: not built there), and their reconciliation."""

    name: str
    type: str
    output_shapes: tuple[Any, ...]
    params: dict[str, Counts | None]
    explanations: list[Explanation]
    unexplained: dict[str, int | None]
    unsupported: dict[str, str] = field(default_factory=dict)
    block: tuple[str, ...] = ()  # the block instances the layer belongs to, outermost first
    layers: int = 1  # how many layers this row sums (more than 1 for a collapsed block)
    stored: str = ""  # where weights it uses but does not own are stored and counted

    def as_dict(self, frameworks: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "output_shape": [format_shape(s) for s in self.output_shapes],
            "params": {fw: self.params.get(fw) for fw in frameworks},
            "explanations": [e.as_dict(frameworks) for e in self.explanations],
            "unexplained": {fw: self.unexplained.get(fw) for fw in frameworks if fw != "keras"},
        }
        if self.unsupported:
            out["unsupported"] = dict(sorted(self.unsupported.items()))
        if self.block:
            out["block"] = list(self.block)
        if self.layers > 1:
            out["layers"] = self.layers
        if self.stored:
            out["stored"] = self.stored
        return out


@dataclass
class Report:
    """The comparison of one spec. ``failures`` are backend errors and IR mismatches."""

    spec: str
    file: str
    frameworks: tuple[str, ...]
    measured: bool
    rows: list[LayerRow]
    totals: dict[str, Counts | None]
    failures: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    materialized: Materialized | None = None  # set when measured once per distinct layer

    @property
    def layers(self) -> list[LayerRow]:
        return [r for r in self.rows if r.type != INPUT]

    @property
    def unexplained_total(self) -> int:
        return sum(abs(v or 0) for r in self.rows for v in r.unexplained.values())

    @property
    def ok(self) -> bool:
        return not self.failures and self.unexplained_total == 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": self.spec,
            "frameworks": list(self.frameworks),
            "layers": [r.as_dict(self.frameworks) for r in self.layers],
            "totals": {fw: self.totals.get(fw) for fw in self.frameworks},
        }
        if self.materialized is not None:
            out["materialize"] = self.materialized.as_dict()
        if self.failures:
            out["failures"] = list(self.failures)
        return out


def _row(
    node: Node,
    params: dict[str, Counts | None],
    unsupported: dict[str, str],
    frameworks: tuple[str, ...],
) -> LayerRow:
    # Only the rules that move a compared framework's count are part of this comparison.
    notes = [e for e in explain(node) if e.note or any(e.delta.get(fw) for fw in frameworks)]
    totals = {fw: (p["total"] if p is not None else None) for fw, p in params.items()}
    return LayerRow(
        node.name,
        node.type,
        node.output_shapes,
        params,
        notes,
        unexplained(totals, notes),
        unsupported,
        node.block,
        stored=storage_note(node),
    )


def count_report(graph: Graph, frameworks: tuple[str, ...] = FRAMEWORKS) -> Report:
    """The comparison predicted by the IR alone: no framework is imported."""
    basis = _with_keras(frameworks)
    rows = [_row(n, {fw: n.counts(fw) for fw in basis}, {}, frameworks) for n in graph.nodes]
    totals: dict[str, Counts | None] = {fw: graph.counts(fw) for fw in frameworks}
    return Report(graph.name, graph.file, frameworks, False, _only(rows, frameworks), totals)


def _with_keras(frameworks: tuple[str, ...]) -> tuple[str, ...]:
    """Deltas are against Keras; without a measured Keras, the IR's Keras count is the base."""
    return frameworks if "keras" in frameworks else ("keras", *frameworks)


def _only(rows: list[LayerRow], frameworks: tuple[str, ...]) -> list[LayerRow]:
    for row in rows:
        row.params = {fw: row.params[fw] for fw in frameworks}
    return rows


@dataclass
class _Measured:
    layers: dict[str, Counts]
    totals: Counts | None
    unsupported: dict[str, str]


def compare_report(
    graph: Graph,
    frameworks: tuple[str, ...] = FRAMEWORKS,
    seed: int = 0,
    materialize: str | None = None,
    max_memory: int | None = None,
) -> Report:
    """Build, run and measure ``graph`` in each framework; reconcile against Keras.

    ``materialize``: ``full`` builds whole models; ``distinct`` builds each distinct layer
    once (``translator.commands.distinct``); None chooses by the weights' size and by
    ``max_memory`` (bytes, ``--max-memory``).
    """
    failures: list[str] = []
    seconds: dict[str, float] = {}
    mode, why = choose(graph, frameworks, materialize, max_memory)
    groups = distinct_groups(graph) if mode == "distinct" else []
    measured = _measure_each(graph, frameworks, groups, seed, failures, seconds)
    rows = []
    for node in graph.nodes:
        params: dict[str, Counts | None] = {
            fw: measured[fw].layers.get(node.name) for fw in frameworks
        }
        if "keras" not in frameworks:
            params = {"keras": node.counts("keras"), **params}
        reasons = {
            fw: m.unsupported[node.name] for fw, m in measured.items() if node.name in m.unsupported
        }
        rows.append(_row(node, params, reasons, frameworks))
    totals = {fw: measured[fw].totals for fw in frameworks}
    report = Report(
        graph.name, graph.file, frameworks, True, _only(rows, frameworks), totals, failures, seconds
    )
    if mode == "distinct":
        report.materialized = materialized(graph, groups, why)
    return report


def _measure_each(
    graph: Graph,
    frameworks: tuple[str, ...],
    groups: list[Group],
    seed: int,
    failures: list[str],
    seconds: dict[str, float],
) -> dict[str, _Measured]:
    """Each framework's measurement: of whole models, or of ``groups`` when there are some."""
    measured: dict[str, _Measured] = {}
    inputs = {} if groups else sample_inputs(graph, seed)
    for fw in _keras_last(frameworks):
        start = time.perf_counter()
        if groups:
            measured[fw] = _measure_distinct(graph, fw, groups, seed, failures)
        else:
            measured[fw] = _measure(graph, fw, inputs, seed, failures)
        seconds[fw] = time.perf_counter() - start
        if not groups and memory.weight_bytes(graph, fw) > COLLECT_ABOVE:
            memory.release()  # the model just measured, before the next framework builds
    return measured


def _measure(
    graph: Graph, framework: str, inputs: Any, seed: int, failures: list[str]
) -> _Measured:
    """Build, run and measure in one framework; problems go to ``failures``."""
    import backends  # lazily: only the commands that build real models pay for frameworks

    try:
        backend = backends.load(framework)
        built = backend.build(graph, seed=seed)
        measurement = backend.measure(built)
        if not built.unsupported:
            _check_outputs(graph, framework, backend.run(built, inputs), failures)
    except UnsupportedInBackend as exc:
        return _Measured({}, None, {n.name: exc.reason for n in graph.layers})
    except (TranslatorError, Exception) as exc:  # a framework's own error is a backend failure
        failures.append(f"{framework}: {type(exc).__name__}: {exc}")
        return _Measured({}, None, {})
    failures.extend(check_measurement(graph, measurement))
    layers = {name: c for name, (_, c) in measurement.layers.items()}
    totals = None if built.unsupported else measurement.totals
    return _Measured(layers, totals, dict(built.unsupported))


def _keras_last(frameworks: tuple[str, ...]) -> list[str]:
    """The order to measure in: Keras on TensorFlow keeps the memory of its largest model (or
    layer) for the process (oneDNN's pooling CPU allocator does not return it), so the
    frameworks that give theirs back measure first and the peak is one framework's."""
    return sorted(frameworks, key=lambda fw: fw == "keras")


def _measure_distinct(
    graph: Graph, framework: str, groups: list[Group], seed: int, failures: list[str]
) -> _Measured:
    """Measure each group's first node once in ``framework`` (``mini_graph``), count it for
    every node of the group, and check it against each node's own IR prediction."""
    import backends  # lazily: only the commands that build real models pay for frameworks
    from backends.base import Measurement

    try:
        backend = backends.load(framework)
    except UnsupportedInBackend as exc:
        return _Measured({}, None, {n.name: exc.reason for n in graph.layers})
    except (TranslatorError, Exception) as exc:  # a framework's own error is a backend failure
        failures.append(f"{framework}: {type(exc).__name__}: {exc}")
        return _Measured({}, None, {})
    found: dict[str, Any] = {}
    unsupported: dict[str, str] = {}
    for group in groups:
        entry, reason = _measure_group(backend, graph, group, seed, failures)
        for node in group.nodes:
            if entry is not None:
                found[node.name] = entry
            elif reason:
                unsupported[node.name] = reason
    totals = None
    if len(found) == len(graph.nodes):
        keys = next(iter(found.values()))[1].keys()
        totals = {k: sum(c[k] for _, c in found.values()) for k in keys}
    failures.extend(check_measurement(graph, Measurement(framework, found, totals or {})))
    return _Measured({name: c for name, (_, c) in found.items()}, totals, unsupported)


def _measure_group(
    backend: Any, graph: Graph, group: Group, seed: int, failures: list[str]
) -> tuple[Any, str]:
    """The first node's (tensors, counts) from its mini graph, or None and why not."""
    mini = mini_graph(graph, group)
    try:
        return _measure_mini(backend, mini, group, seed, failures)
    finally:
        # Keras layers sit in reference cycles: collected now, a large layer's memory is
        # reused by the next one instead of adding to it (a small one is not worth the time).
        if weight_bytes(mini, (backend.NAME,)) > COLLECT_ABOVE:
            memory.release()


def _measure_mini(
    backend: Any, mini: Graph, group: Group, seed: int, failures: list[str]
) -> tuple[Any, str]:
    """Build, measure and run ``mini``; the group's first node's (tensors, counts)."""
    node = group.first
    try:
        built = backend.build(mini, seed=seed)
        if node.name in built.unsupported:
            return None, built.unsupported[node.name]
        entry = backend.measure(built).layers[node.name]
        if not built.unsupported:
            outputs = backend.run(built, sample_inputs(mini, seed))
            _check_outputs(mini, backend.NAME, outputs, failures)
    except UnsupportedInBackend as exc:
        return None, exc.reason
    except (TranslatorError, Exception) as exc:  # a framework's own error is a backend failure
        alike = f" (and {len(group.nodes) - 1} alike)" if len(group.nodes) > 1 else ""
        failures.append(f"{backend.NAME}: layer '{node.name}'{alike}: {type(exc).__name__}: {exc}")
        return None, ""
    return entry, ""


def _size_fits(predicted: int | None, size: int) -> bool:
    return predicted is None or predicted == size


def _check_outputs(graph: Graph, framework: str, outputs: list[Any], failures: list[str]) -> None:
    """The outputs' shapes against the IR's: the batch of the sample inputs, every known size
    exactly (a free size, null, may come out as any: the sample's steps, or one more)."""
    expected = [shape for name in graph.outputs for shape in graph.node(name).output_shapes]
    got = [tuple(o.shape) for o in outputs]
    fits = len(got) == len(expected) and all(
        len(g) == len(e) + 1 and g[0] == BATCH and all(map(_size_fits, e, g[1:]))
        for g, e in zip(got, expected, strict=False)
    )
    if not fits:
        predicted = [(BATCH, *(STEPS if d is None else d for d in e)) for e in expected]
        failures.append(
            f"{framework}: the forward pass gave output shapes {got}, the IR predicts {predicted}"
        )


def check_measurement(graph: Graph, measurement: Any) -> list[str]:
    """Every difference between the IR's predicted tensors and the real ones (a bug)."""
    fw = measurement.framework
    problems = []
    for node in graph.nodes:
        if node.name not in measurement.layers:
            continue
        tensors, reported = measurement.layers[node.name]
        predicted = {(w.name, w.shape, w.trainable, w.buffer) for w in node.weights[fw]}
        real = {t.key for t in tensors}
        for key in sorted(predicted - real):
            problems.append(
                f"{fw}: layer '{node.name}': the IR predicts {key} but {fw} has no such tensor"
            )
        for key in sorted(real - predicted):
            problems.append(
                f"{fw}: layer '{node.name}': {fw} has {key} that the IR does not predict"
            )
        if reported != counts(fw, node.weights[fw]):
            problems.append(
                f"{fw}: layer '{node.name}': {fw} counts {reported}, the IR {node.counts(fw)}"
            )
    if len(measurement.layers) == len(graph.nodes) and measurement.totals != graph.counts(fw):
        problems.append(f"{fw}: the model counts {measurement.totals}, the IR {graph.counts(fw)}")
    return problems


def collapse(report: Report, depth: int) -> Report:
    """The report at block depth ``depth`` (as torchinfo's ``depth``): layers nested in more
    than ``depth`` block instances are summed into one row per instance at that level."""
    rows: list[LayerRow] = []
    groups: dict[str, LayerRow] = {}
    for row in report.rows:
        if len(row.block) <= depth:
            rows.append(row)
            continue
        key = row.block[depth]
        if key not in groups:
            groups[key] = LayerRow(
                key, "block", row.output_shapes, {}, [], {}, {}, row.block[: depth + 1], 0
            )
            rows.append(groups[key])
        _absorb(groups[key], row)
    return replace(report, rows=rows)


def _absorb(group: LayerRow, row: LayerRow) -> None:
    """Add ``row`` into the summed ``group`` row."""
    group.layers += row.layers
    group.output_shapes = row.output_shapes
    for fw, got in row.params.items():
        mine = group.params.get(fw, {})
        if got is None or (fw in group.params and mine is None):
            group.params[fw] = None
        else:
            group.params[fw] = {k: (mine or {}).get(k, 0) + v for k, v in got.items()}
    for fw, left in row.unexplained.items():
        so_far = group.unexplained.get(fw, 0)
        group.unexplained[fw] = None if left is None or so_far is None else so_far + left
    group.unsupported.update(row.unsupported)
    by_rule = {e.rule: e for e in group.explanations}
    for note in row.explanations:
        if note.rule in by_rule:
            old = by_rule[note.rule]
            delta = {fw: old.delta.get(fw, 0) + d for fw, d in note.delta.items()}
            by_rule[note.rule] = Explanation(
                note.rule, delta, old.text, old.count + note.count, note.note
            )
        else:
            by_rule[note.rule] = note
    group.explanations = list(by_rule.values())
