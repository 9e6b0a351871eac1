"""The Keras backend test harness: build a small inline spec for real, measure it, run it and
check everything against the IR (a ``run_layer_case`` in the style of Keras's
``testing/test_case.py::run_layer_test``).

``check_spec(yaml)`` returns a ``Case`` after asserting that the tensors Keras holds per layer
equal the IR's Keras ``WeightSpec``s (name, shape, trainable, buffer), that the per-layer and
total counts equal ``translator.ir.counts``, and that a forward pass on the seeded sample
inputs returns one array per graph output with shape ``(batch, *output_shape)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import backends
from translator.ir import Graph
from translator.ir.sample import BATCH, STEPS, sample_inputs
from translator.spec.loader import load_text


@dataclass
class Case:
    """One spec built, measured and run in Keras."""

    graph: Graph
    built: Any  # backends.base.Built
    measurement: Any  # backends.base.Measurement
    inputs: dict[str, np.ndarray]
    outputs: list[np.ndarray]

    def layer(self, name: str) -> Any:
        """The real Keras layer built for the IR node ``name``."""
        return self.built.extra["layers"][name]

    def run(self, **inputs: np.ndarray) -> list[np.ndarray]:
        """A forward pass through the backend's ``run`` on the given arrays."""
        return backends.load("keras").run(self.built, inputs)


def expected_shapes(graph: Graph) -> list[tuple[int, ...]]:
    """``(batch, *shape)`` per graph output tensor, free dimensions at the sample length."""
    return [
        (BATCH, *(STEPS if d is None else d for d in shape))
        for name in graph.outputs
        for shape in graph.node(name).output_shapes
    ]


def assert_measurement_matches_ir(graph: Graph, measurement: Any) -> None:
    """Tensor by tensor and count by count, per layer and for the whole model."""
    assert set(measurement.layers) == {n.name for n in graph.nodes}
    for node in graph.nodes:
        tensors, counts = measurement.layers[node.name]
        real = sorted(t.key for t in tensors)
        predicted = sorted((w.name, w.shape, w.trainable, w.buffer) for w in node.weights["keras"])
        assert real == predicted, node.name
        assert counts == node.counts("keras"), node.name
    assert measurement.totals == graph.counts("keras")


def check_spec(text: str, seed: int = 0) -> Case:
    """Load ``text``, build, measure and run it in Keras, checking each step against the IR."""
    keras_backend = backends.load("keras")
    graph = load_text(text)
    built = keras_backend.build(graph, seed=seed)
    assert built.unsupported == {}
    measurement = keras_backend.measure(built)
    assert_measurement_matches_ir(graph, measurement)
    inputs = sample_inputs(graph)
    outputs = keras_backend.run(built, inputs)
    assert [o.shape for o in outputs] == expected_shapes(graph)
    assert all(isinstance(o, np.ndarray) and np.isfinite(o).all() for o in outputs)
    return Case(graph, built, measurement, inputs, outputs)


def one_layer(layer: str, shape: str, data_format: str = "") -> str:
    """A spec with one input ``x`` of ``shape`` and one layer given as a YAML flow mapping."""
    top = f"data_format: {data_format}\n" if data_format else ""
    return f"name: t\n{top}inputs:\n  - {{name: x, shape: {shape}}}\nlayers:\n  - {layer}\n"
