"""The PyTorch backend test harness: build a small inline spec for real, measure it, run it and
check everything against the IR (a ``run_layer_case`` in the style of Keras's
``testing/test_case.py::run_layer_test``).

``check_spec(yaml)`` asserts that the tensors each layer module holds equal the IR's torch
``WeightSpec``s in order (name, shape, trainable, buffer), that the per-layer and total counts
equal ``translator.ir.counts``, and that a forward pass on the seeded sample inputs returns one
finite float array per graph output of shape ``(batch, *output_shape)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import backends
from translator.ir import Graph
from translator.ir.sample import BATCH, sample_inputs
from translator.spec.loader import load_text

torch_backend = backends.load("torch")


@dataclass
class Case:
    """One spec built, measured and run in PyTorch."""

    graph: Graph
    built: Any  # backends.base.Built
    measurement: Any  # backends.base.Measurement
    inputs: dict[str, np.ndarray]
    outputs: list[np.ndarray]

    def module(self, name: str) -> torch.nn.Module:
        """The real module built for the IR node ``name``."""
        return self.built.model.layers[name]

    def run(self, **inputs: np.ndarray) -> list[np.ndarray]:
        """A forward pass through the backend's ``run`` on the given arrays."""
        return torch_backend.run(self.built, inputs)


def assert_measurement_matches_ir(graph: Graph, measurement: Any) -> None:
    """Tensor by tensor (in order) and count by count, per layer and for the whole model."""
    assert set(measurement.layers) == {n.name for n in graph.nodes}
    for node in graph.nodes:
        tensors, counts = measurement.layers[node.name]
        predicted = [(w.name, w.shape, w.trainable, w.buffer) for w in node.weights["torch"]]
        assert [t.key for t in tensors] == predicted, node.name
        assert counts == node.counts("torch"), node.name
    assert measurement.totals == graph.counts("torch")


def assert_output_shapes(graph: Graph, outputs: list[np.ndarray]) -> None:
    """``(batch, *output_shape)`` per output tensor; a free (None) size may be anything."""
    shapes = [s for name in graph.outputs for s in graph.node(name).output_shapes]
    assert len(outputs) == len(shapes)
    for out, shape in zip(outputs, shapes, strict=True):
        assert out.shape[0] == BATCH and len(out.shape) == len(shape) + 1, (out.shape, shape)
        assert all(d is None or d == real for d, real in zip(shape, out.shape[1:], strict=True))
        assert out.dtype == np.float32 and np.isfinite(out).all()


def check_spec(text: str, seed: int = 0) -> Case:
    """Load ``text``, build, measure and run it in PyTorch, checking each step against the IR."""
    graph = load_text(text)
    built = torch_backend.build(graph, seed=seed)
    assert built.unsupported == {}
    measurement = torch_backend.measure(built)
    assert_measurement_matches_ir(graph, measurement)
    inputs = sample_inputs(graph)
    outputs = torch_backend.run(built, inputs)
    assert_output_shapes(graph, outputs)
    return Case(graph, built, measurement, inputs, outputs)


def one_layer(layer: str, shape: str, data_format: str = "", dtype: str = "float32") -> str:
    """A spec with one input ``x`` of ``shape`` and one layer given as a YAML flow mapping."""
    head = f"data_format: {data_format}\n" if data_format else ""
    return (
        f"name: case\n{head}"
        f"inputs: [{{name: x, shape: {shape}, dtype: {dtype}}}]\n"
        f"layers:\n  - {layer}\n"
    )


def set_parameters(module: torch.nn.Module, **values: Any) -> None:
    """Overwrite named parameters/buffers of ``module`` with the given arrays or constants."""
    state = dict(module.named_parameters()) | dict(module.named_buffers())
    with torch.no_grad():
        for name, value in values.items():
            state[name].copy_(torch.tensor(np.broadcast_to(value, state[name].shape)))
