"""Shared harness of the ONNX backend tests: load an inline spec, build it, check the
measured tensors and counts against the IR, run it and check the output shapes."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from translator.ir import Graph
from translator.ir.sample import BATCH, sample_inputs
from translator.spec.loader import load_text


@dataclass
class Case:
    """A spec built, measured and run once."""

    graph: Graph
    built: Any
    measurement: Any
    outputs: list[np.ndarray]


def load(body: str) -> Graph:
    """A spec from the inline YAML ``body`` (everything but the name)."""
    return load_text("name: case\n" + textwrap.dedent(body))


def expected_shapes(graph: Graph) -> list[tuple[int | None, ...]]:
    """(batch, *output_shape) per output tensor; a free dimension stays None."""
    return [(BATCH, *shape) for name in graph.outputs for shape in graph.node(name).output_shapes]


def shape_fits(actual: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    """Equal rank and every known size equal; a free size only needs to be positive."""
    return len(actual) == len(expected) and all(
        a == e if e is not None else a > 0 for a, e in zip(actual, expected, strict=True)
    )


def check_measurement(graph: Graph, measurement: Any) -> None:
    """Every layer's tensors are the IR's ONNX WeightSpecs, in order, with the IR's counts."""
    for node in graph.nodes:
        tensors, counts = measurement.layers[node.name]
        expected = [(w.name, w.shape, w.trainable, w.buffer) for w in node.weights["onnx"]]
        assert [t.key for t in tensors] == expected, node.name
        assert counts == node.counts("onnx"), node.name
    assert measurement.totals == graph.counts("onnx")


@pytest.fixture(scope="session")
def backend() -> Any:
    import backends.onnx

    return backends.onnx


@pytest.fixture(scope="session")
def check(backend: Any) -> Callable[[str], Case]:
    """``check(body)``: build, measure, run a spec and assert what every case must satisfy."""

    def run_case(body: str) -> Case:
        graph = load(body)
        built = backend.build(graph)
        assert built.unsupported == {}
        measurement = backend.measure(built)
        check_measurement(graph, measurement)
        outputs = backend.run(built, sample_inputs(graph))
        expected = expected_shapes(graph)
        assert len(outputs) == len(expected)
        assert all(map(shape_fits, [o.shape for o in outputs], expected)), (
            [o.shape for o in outputs],
            expected,
        )
        assert all(o.dtype == np.float32 and np.isfinite(o).all() for o in outputs)
        return Case(graph, built, measurement, outputs)

    return run_case


@pytest.fixture(scope="session")
def forward(backend: Any) -> Callable[..., list[np.ndarray]]:
    """``forward(body, inputs, weights=None)``: the outputs of a spec on given inputs."""

    def run_forward(body: str, inputs: dict[str, Any], weights: Any = None) -> list[np.ndarray]:
        graph = load(body)
        return backend.run(backend.build(graph, weights=weights), inputs)

    return run_forward


@pytest.fixture(scope="session")
def load_spec() -> Callable[[str], Graph]:
    """``load_spec(body)``: the IR graph of an inline spec."""
    return load
