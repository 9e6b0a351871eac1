"""A simple recurrence written out step by step, as torch.onnx's dynamo exporter writes
``nn.RNN``, imports as one SimpleRNN computing what onnxruntime computes on the file; a
recurrence whose steps differ, or do not chain, leaves its nodes listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper

from backends.onnx.importing import import_file
from tests.backends.onnx.files import assert_imports_running_as_the_file, write_model

BATCH, STEPS, UNITS = 2, 5, 4
SHAPE = [BATCH, STEPS, UNITS]  # features = units: the sequence out is shaped as the one in
RNG = np.random.default_rng(0)
WEIGHTS = {
    "K": RNG.standard_normal((UNITS, UNITS)).astype(np.float32),
    "R": RNG.standard_normal((UNITS, UNITS)).astype(np.float32) / 2,
    "b_ih": RNG.standard_normal(UNITS).astype(np.float32),
    "b_hh": RNG.standard_normal(UNITS).astype(np.float32),
}
Made = tuple[list[onnx.NodeProto], dict[str, np.ndarray]]


def _taken(t: int, gathered: bool) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """Step t of the projected sequence: Slice [t, t + 1) then Squeeze, or Gather at t."""
    if gathered:
        index = {f"i{t}": np.array(t, np.int64)}
        return [helper.make_node("Gather", ["p", f"i{t}"], [f"g{t}"], axis=0)], index
    bounds = {f"s{t}": np.array([t], np.int64), f"e{t}": np.array([t + 1], np.int64)}
    nodes = [
        helper.make_node("Slice", ["p", f"s{t}", f"e{t}", "zero"], [f"c{t}"]),
        helper.make_node("Squeeze", [f"c{t}", "zero"], [f"g{t}"]),
    ]
    return nodes, bounds


def _zeros_start() -> list[onnx.NodeProto]:
    """The first step from a state of zeros built at run time (the dynamo exporter's, for a
    dynamic batch): Expand(0, (1, batch, units)), a step of it taken, its recurrent product."""
    return [
        helper.make_node("Shape", ["x"], ["batch"], start=0, end=1),
        helper.make_node("Concat", ["one", "batch", "units"], ["state_shape"], axis=0),
        helper.make_node("Expand", ["nought", "state_shape"], ["zeros"]),
        helper.make_node("Slice", ["zeros", "zero", "one", "zero"], ["cut"]),
        helper.make_node("Squeeze", ["cut", "zero"], ["taken"]),
        helper.make_node("Unsqueeze", ["taken", "zero"], ["z"]),
        helper.make_node("MatMul", ["z", "R"], ["m0"]),
        helper.make_node("Add", ["m0", "b_hh"], ["l0"]),
        helper.make_node("Add", ["l0", "g0"], ["a0"]),
    ]


def _unrolled(
    act: str = "Tanh", gathered: bool = False, zeros: bool = False, **changes: Any
) -> Made:
    """The dynamo exporter's nn.RNN (batch first, returning its sequence); ``changes``: a
    step's recurrent kernel or bias (``R3``, ``b_hh3``), the state a step reads (``h2``),
    the first step's constant (``start``), the number its state of ``zeros`` holds
    (``nought``)."""
    constants = {**WEIGHTS, "zero": np.array([0], np.int64), "one": np.array([1], np.int64)}
    start = changes.get("nought", np.array(0, np.float32))  # the state Expand fills
    constants |= {"units": np.array([UNITS], np.int64), "nought": start}
    constants["start"] = changes.get("start", np.tile(WEIGHTS["b_hh"], (1, BATCH, 1)))
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("MatMul", ["xt", "K"], ["xk"]),
        helper.make_node("Add", ["xk", "b_ih"], ["p"]),
    ]
    for t in range(STEPS):
        taken, numbers = _taken(t, gathered)
        nodes, constants = nodes + taken, constants | numbers
    nodes += _zeros_start() if zeros else [helper.make_node("Add", ["start", "g0"], ["a0"])]
    nodes.append(helper.make_node(act, ["a0"], ["h0"]))
    for t in range(1, STEPS):
        kernel, bias = changes.get(f"R{t}", "R"), changes.get(f"b_hh{t}", "b_hh")
        previous = changes.get(f"h{t}", f"h{t - 1}")
        nodes += [
            helper.make_node("MatMul", [previous, kernel], [f"m{t}"]),
            helper.make_node("Add", [f"m{t}", bias], [f"l{t}"]),
            helper.make_node("Add", [f"l{t}", f"g{t}"], [f"a{t}"]),
            helper.make_node(act, [f"a{t}"], [f"h{t}"]),
        ]
    nodes += [
        helper.make_node("Concat", [f"h{t}" for t in range(STEPS)], ["cat"], axis=0),
        helper.make_node("Transpose", ["cat"], ["y"], perm=[1, 0, 2]),
    ]
    other = {"R_other": WEIGHTS["R"] + 1, "b_other": WEIGHTS["b_hh"] + 1}
    return nodes, constants | other


CASES = {
    "tanh": (_unrolled(), ["type: SimpleRNN, units: 4, return_sequences: true}"]),
    "relu": (_unrolled("Relu"), ["SimpleRNN, units: 4, activation: relu, return_sequences"]),
    "gathered": (_unrolled(gathered=True), ["type: SimpleRNN, units: 4, return_sequences"]),
    "from_zeros": (_unrolled(zeros=True), ["type: SimpleRNN, units: 4, return_sequences"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_recurrence_written_out_imports(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made, lines = CASES[case]
    source = write_model(tmp_path / f"{case}.onnx", "unrolled", *made, list(SHAPE))
    assert_imports_running_as_the_file(source, lines, tmp_path, capsys)


NEAR_MISSES = {
    "another_recurrent_kernel": _unrolled(R3="R_other"),
    "another_bias": _unrolled(b_hh2="b_other"),
    "unchained": _unrolled(h2="h0"),  # step 2 reads step 0's state, not step 1's
    "another_start": _unrolled(start=np.tile(WEIGHTS["b_hh"] + 1, (1, BATCH, 1))),
    "from_ones": _unrolled(zeros=True, nought=np.array(1, np.float32)),
}


@pytest.mark.parametrize("case", sorted(NEAR_MISSES))
def test_a_near_miss_is_left_to_the_operators(case: str, tmp_path: Path) -> None:
    path = write_model(tmp_path / "near.onnx", "near", *NEAR_MISSES[case], SHAPE)
    imported = import_file(path)
    assert imported.unclaimed
    assert not any(layer["type"] == "SimpleRNN" for layer in imported.spec["layers"])
