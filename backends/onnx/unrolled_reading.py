"""Importing a simple recurrence written out step by step, as torch.onnx's dynamo exporter
writes PyTorch's ``nn.RNN``: one SimpleRNN, or a Bidirectional of two (``PATTERNS``).

The whole time-first sequence is projected at once, ``MatMul(x, K)`` then ``Add(b_ih)``
(none without a bias), reversed in time (a ``Slice`` of step -1) for a run backwards; each
step is taken of it (``Slice`` [t, t + 1) on axis 0 then ``Squeeze``, or ``Gather`` at t),
added to the state before times ``R`` (``MatMul``) and the recurrent bias, then activated
(one operator: ``Tanh``, ``Relu``, ...). The first step has no state before: it adds a
constant of the recurrent bias's rows (zeros, or nothing, without a bias), or the product of
zeros. The states joined on axis 0 in processing order (``Concat``) are the sequence (a
backward run's ``go_backwards``); the last state alone, the layer's last. A backward run's
joined in time order, concatenated on the last axis after a forward run's on the same
sequence: a Bidirectional (merge_mode concat).

Strict: every step uses the same K, R and biases, step t reads step t - 1's state (read
only so and by the joining), the steps are as many as the sequence's; another form is left
to the per-operator recognisers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from backends.onnx.importing import PATTERNS, Reading, Recogniser, Thunk, View, attributes
from backends.onnx.loop_reading import ONNX_GATES, onnx_weights
from backends.onnx.merge import SUM_OP
from backends.onnx.recurrent import PLAIN_ACTIVATIONS, SIMPLE_RNN, reverses_time
from backends.onnx.recurrent_reading import zero_state
from backends.onnx.step_reading import ints
from translator.commands.importing import written_args
from translator.ops.wrappers import bidirectional_layer

Node = onnx.NodeProto


@dataclass
class Run:
    """A recurrence written out: its input, weights, and each step's state."""

    sequence: str
    kernel: np.ndarray
    input_bias: np.ndarray | None
    activation: str = ""
    recurrent: np.ndarray | None = None
    state_bias: np.ndarray | None = None  # the recurrent bias (a vector), if any
    states: list[str] = field(default_factory=list)  # in processing order
    nodes: list[Node] = field(default_factory=list)
    backwards: bool = False  # run from the last step to the first


def _projection(r: Reading, node: Node) -> tuple[Run, str] | None:
    """MatMul(x, K) [then Add(b_ih)] of a data x: the run begun, and the projected sequence."""
    kernel = r.const(node.input[1])
    if r.const(node.input[0]) is not None or kernel is None or kernel.ndim != 2:
        return None
    run, out = Run(node.input[0], kernel, None, nodes=[node]), node.output[0]
    add = r.reader(out)
    summed = add is not None and add.op_type == SUM_OP and len(add.input) == 2
    others = [t for t in add.input if t != out] if add is not None and summed else []
    bias = r.const(others[0]) if len(others) == 1 else None
    if add is not None and bias is not None and bias.shape == kernel.shape[1:]:
        run.input_bias, out = bias, add.output[0]
        run.nodes.append(add)
    return run, out


def _taken_step(r: Reading, node: Node) -> tuple[int, str, list[Node]] | None:
    """(t, the step, the nodes) of Slice [t, t + 1) on axis 0 then Squeeze([0]), or Gather at t."""
    if node.op_type == "Gather":
        index = r.const(node.input[1])
        ok = index is not None and index.ndim == 0 and attributes(node).get("axis", 0) == 0
        return (int(index), node.output[0], [node]) if ok else None  # type: ignore[arg-type]
    given = [ints(r, t) for t in [*node.input[1:5], ""][:4]] if node.op_type == "Slice" else []
    if not given or given[0] is None or given[1] != [given[0][0] + 1] or given[2] != [0]:
        return None
    drop = r.reader(node.output[0])
    if given[3] not in (None, [1]) or drop is None or drop.op_type != "Squeeze":
        return None
    return (given[0][0], drop.output[0], [node, drop]) if ints(r, drop.input[1]) == [0] else None


def _steps(r: Reading, projected: str) -> dict[int, tuple[str, list[Node]]] | None:
    """Each time step taken of the projected sequence, by its time: all of them, once each."""
    readers = r.source.readers.get(projected, [])
    taken = [_taken_step(r, n) for n in readers]
    shape = r.shape(projected)
    found = {t[0]: (t[1], t[2]) for t in taken if t is not None}
    if shape is None or not readers or None in taken or len(found) != len(readers):
        return None
    return found if sorted(found) == list(range(shape[0] or -1)) else None


def _terms(r: Reading, tensor: str) -> tuple[list[str], list[Node]]:
    """The terms a tree of Adds (each the only reader of its output) sums, and the Adds."""
    node = r.source.producers.get(tensor)
    if node is None or node.op_type != SUM_OP or r.reader(tensor) is None:
        return [tensor], []
    terms: list[str] = []
    adds = [node]
    for operand in node.input:
        inner, nodes = _terms(r, operand)
        terms, adds = terms + inner, adds + nodes
    return terms, adds


def _step(r: Reading, run: Run, part: str) -> tuple[str, Node | None, Any, list[Node]] | None:
    """One step around its input's part: (its state, the recurrent product, its constant
    (or None), the nodes), or None for another form."""
    act = r.reader(part)
    while act is not None and act.op_type == SUM_OP:
        act = r.reader(act.output[0])
    if act is None or act.op_type not in PLAIN_ACTIVATIONS or len(act.input) != 1:
        return None
    if run.activation not in ("", act.op_type):
        return None
    run.activation = act.op_type
    terms, adds = _terms(r, act.input[0]) if act.input[0] != part else ([part], [])
    consts = [r.const(t) for t in terms]
    made = [r.source.producers.get(t) for t in terms]
    products = [n for n, c in zip(made, consts, strict=True) if c is None and n is not None]
    products = [n for n in products if n.op_type == "MatMul"]
    fixed = [c for c in consts if c is not None]
    if terms.count(part) != 1 or len(fixed) > 1 or len(products) + len(fixed) + 1 != len(terms):
        return None
    if len(products) > 1 or (products and r.reader(products[0].output[0]) is None):
        return None
    product = products[0] if products else None
    return act.output[0], product, fixed[0] if fixed else None, [*adds, act]


def _bias_of(value: Any, units: int) -> np.ndarray | None:
    """A constant's rows as one vector of ``units`` (all rows equal), else None."""
    if value is None or value.size % units or not value.size:
        return None if value is not None else np.zeros(units, np.float32)
    rows = value.reshape(-1, units)
    return rows[0] if (rows == rows[0]).all() else None


def _chain(r: Reading, run: Run, parts: list[str]) -> bool:
    """Whether the steps over ``parts`` (in time order) chain: step t reads step t - 1's
    state by the same R, each adds the same recurrent bias; ``run`` filled."""
    units, biases, biased = run.kernel.shape[1], [], False
    for index, part in enumerate(parts):
        step = _step(r, run, part)
        if step is None:
            return False
        state, product, fixed, nodes = step
        multiplied = _product(r, run, not index, product)
        if multiplied is None:
            return False
        nodes = [*multiplied, *nodes]
        biases.append(_bias_of(fixed, units))
        biased = biased or (fixed is not None and (index > 0 or bool(fixed.any())))
        run.states.append(state)
        run.nodes.extend(nodes)
    first = biases[0]
    if first is None or any(b is None or not np.array_equal(b, first) for b in biases):
        return False
    run.state_bias = first if biased else None
    return run.recurrent is None or run.recurrent.shape == (units, units)


def _product(r: Reading, run: Run, first: bool, product: Node | None) -> list[Node] | None:
    """The step's recurrent product, if it multiplies the state before by the run's R (the
    first step's: none, or of zeros); None otherwise."""
    if first and (product is None or zero_state(r, product.input[0])):
        return [] if product is None else [product]
    recurrent = r.const(product.input[1]) if product is not None and not first else None
    if product is None or recurrent is None or product.input[0] != run.states[-1]:
        return None
    run.recurrent = recurrent if run.recurrent is None else run.recurrent
    same = recurrent.shape == run.recurrent.shape and (recurrent == run.recurrent).all()
    return [product] if same else None


def _outputs(r: Reading, run: Run) -> dict[str, Any] | None:
    """What the run hands on: its states joined on axis 0 (the sequence; a backward run's
    in processing order, or ``turned`` back to time order, as a Bidirectional's), or its
    last state alone; None when a state is read otherwise."""
    states = run.states
    readers = [r.source.readers.get(s, []) for s in states]
    inside = {id(n) for n in run.nodes}
    others = [[n for n in found if id(n) not in inside] for found in readers]
    joins = {id(n): n for found in others for n in found if n.op_type == "Concat"}
    join = next(iter(joins.values())) if len(joins) == 1 else None
    shape = r.shape(states[-1])
    if join is not None and attributes(join).get("axis") == 0:
        turned = run.backwards and list(join.input) == states[::-1]
        if list(join.input) != states and not turned:
            return None
        if any(found != [join] for found in others) or shape is None or shape[0] != 1:
            return None
        run.nodes.append(join)
        views: dict[str, tuple[int | None, ...]] = {join.output[0]: (1, 0, 2)}
        return {"return_sequences": True, "views": views, "join": join, "turned": turned}
    if any(others[:-1]) or shape is None or len(shape) not in (2, 3):
        return None
    if len(shape) == 3 and shape[0] != 1:
        return None
    views = {states[-1]: (None,) * (len(shape) - 2) + (0, 1)}
    return {"return_sequences": False, "views": views, "join": None, "turned": False}


Match = tuple[Run, dict[str, Any]]


def find_run(r: Reading, node: Node) -> Match | None:
    """The recurrence a MatMul projects the input of (run backwards when the projection is
    reversed in time first), and its outputs; None for another form."""
    begun = _projection(r, node)
    if begun is None:
        return None
    run, projected = begun
    flip = r.reader(projected)
    if flip is not None and flip.op_type == "Slice" and reverses_time(r, flip, (1, 0, 2)):
        run.backwards, projected = True, flip.output[0]
        run.nodes.append(flip)
    steps = _steps(r, projected)
    if steps is None:
        return None
    run.nodes.extend(n for _, nodes in steps.values() for n in nodes)
    if not _chain(r, run, [steps[t][0] for t in sorted(steps)]):
        return None
    outputs = _outputs(r, run)
    return (run, outputs) if outputs is not None else None


def _pairs(r: Reading, matches: list[Match]) -> list[tuple[Match, Match, Node]]:
    """A forward run and a backward one (turned back to time order) on one sequence, of one
    configuration, their sequences concatenated on the last axis: a Bidirectional's."""
    found = []
    for backward in (m for m in matches if m[1]["turned"]):
        merge = r.reader(backward[1]["join"].output[0])
        for forward in (m for m in matches if m[1]["join"] and not m[0].backwards):
            pair = [forward[1]["join"].output[0], backward[1]["join"].output[0]]
            if merge is None or merge.op_type != "Concat" or list(merge.input) != pair:
                continue
            last = attributes(merge).get("axis") in (2, -1) and len(r.shape(pair[0]) or ()) == 3
            alike = _layer(forward[0], True) == _layer(backward[0], True)
            if last and alike and forward[0].sequence == backward[0].sequence:
                found.append((forward, backward, merge))
    return found


@PATTERNS.register("UnrolledRecurrence")
def find_unrolled(r: Reading) -> dict[int, Recogniser]:
    """Each recurrence written out (see the module doc) → SimpleRNN, a forward and a
    backward one concatenated → Bidirectional; claimed at the first node in file order."""
    order = {id(n): i for i, n in enumerate(r.source.model.graph.node)}
    nodes = (n for n in r.source.model.graph.node if n.op_type == "MatMul")
    matches = [m for m in (find_run(r, n) for n in nodes) if m is not None]
    found: dict[int, Recogniser] = {}
    for forward, backward, merge in _pairs(r, matches):
        claimed = [*forward[0].nodes, *backward[0].nodes, merge]
        first = min(claimed, key=lambda n: order[id(n)])
        found[id(first)] = _both_recogniser(forward[0], backward[0], claimed, merge)
    for run, outputs in matches:  # a run of a pair is read with it
        first = min(run.nodes, key=lambda n: order[id(n)])
        if not outputs["turned"]:
            found.setdefault(id(first), _recogniser(run, outputs))
    return found


def _layer(run: Run, sequences: bool) -> dict[str, Any]:
    """The SimpleRNN a run is."""
    biased = run.input_bias is not None or run.state_bias is not None
    layer = {"type": SIMPLE_RNN, "units": run.kernel.shape[1], "use_bias": biased}
    return layer | {"activation": PLAIN_ACTIVATIONS[run.activation], "return_sequences": sequences}


def _weights(run: Run) -> dict[str, Thunk]:
    """The run's weights as the IR's ONNX tensors W, R, B (B: the input bias, then the
    recurrent one; zeros for one absent)."""
    units, dtype = run.kernel.shape[1], run.kernel.dtype
    pair = [run.input_bias, run.state_bias]
    biased = any(b is not None for b in pair)
    bias = np.stack([np.zeros(units, dtype) if b is None else b for b in pair]) if biased else None
    recurrent = np.zeros((units, units), dtype) if run.recurrent is None else run.recurrent
    return onnx_weights(run.kernel, recurrent, bias, ONNX_GATES[SIMPLE_RNN])


def _sequence_view(r: Reading, run: Run) -> View:
    x = r.view(run.sequence)
    r.expects(x, (1, 0, 2), "its steps are not taken of the spec's sequence time first")
    return View(x.ref, (0, 1, 2))


def _recogniser(run: Run, outputs: dict[str, Any]) -> Recogniser:
    def recognise(r: Reading, node: Node) -> None:
        layer = _layer(run, outputs["return_sequences"])
        layer |= {"go_backwards": True} if run.backwards else {}
        r.add(node, layer, [_sequence_view(r, run)], outputs["views"], _weights(run))
        for claimed in run.nodes:
            r.claim(claimed)

    return recognise


def _both_recogniser(forward: Run, backward: Run, nodes: list[Node], merge: Node) -> Recogniser:
    def recognise(r: Reading, node: Node) -> None:
        x = _sequence_view(r, forward)
        inner = written_args(SIMPLE_RNN, _layer(forward, True))
        layer = bidirectional_layer({"type": SIMPLE_RNN, **inner}, "concat")
        both = [_weights(forward), _weights(backward)]
        weights = {k: _joined(both[0][k], both[1][k]) for k in both[0]}
        r.add(node, layer, [x], {merge.output[0]: (1, 0, 2)}, weights)
        for claimed in nodes:
            r.claim(claimed)

    return recognise


def _joined(first: Thunk, second: Thunk) -> Thunk:
    return lambda: np.concatenate([first(), second()])
