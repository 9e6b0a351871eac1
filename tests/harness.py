"""The one backend test harness: build an inline spec in one framework for real, measure it,
run it and check everything against the IR (a ``run_layer_case`` in the style of Keras's
``testing/test_case.py::run_layer_test``).

``check_spec(body, framework)`` returns a ``Case`` after asserting that

- the measurement agrees with the IR as ``compare`` checks it
  (``translator.commands.compare.check_measurement`` reports no problem),
- every IR node was measured, and each layer's tensors are the IR's ``WeightSpec``s for that
  framework *in order* (name, shape, trainable, buffer), with the IR's per-layer and total
  counts,
- a forward pass on the seeded sample inputs returns one finite float32 array per graph
  output, of shape ``(batch, *output_shape)``, where a free (``null``) size is what the IR
  predicts for the sample inputs' length (``STEPS``): the spec reloaded with its free input
  sizes set to ``STEPS`` gives the expected shapes.

Framework-specific access is thin: ``Case.layer`` (the real Keras layer), ``Case.module``
(the real PyTorch module), ``Case.model`` (the ONNX ``ModelProto``), ``set_parameters``
(PyTorch). Frameworks are imported only when a case is built.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

import backends
from translator.commands.compare import check_measurement
from translator.ir import Graph
from translator.ir.sample import BATCH, STEPS, sample_inputs
from translator.spec.loader import load_text


def spec_text(body: str) -> str:
    """The spec ``body`` (dedented), given the name ``case`` when it has none."""
    text = textwrap.dedent(body)
    return text if re.search(r"^name:", text, re.MULTILINE) else "name: case\n" + text


def load(body: str) -> Graph:
    """The IR graph of the inline spec ``body``."""
    return load_text(spec_text(body))


def one_layer(layer: str, shape: str, data_format: str = "", dtype: str = "float32") -> str:
    """A spec with one input ``x`` of ``shape`` and one layer given as a YAML flow mapping."""
    head = f"data_format: {data_format}\n" if data_format else ""
    return (
        f"name: case\n{head}"
        f"inputs: [{{name: x, shape: {shape}, dtype: {dtype}}}]\n"
        f"layers:\n  - {layer}\n"
    )


@dataclass
class Case:
    """One spec built, measured and run in one framework."""

    framework: str
    graph: Graph
    built: Any  # backends.base.Built
    measurement: Any  # backends.base.Measurement
    inputs: dict[str, np.ndarray]
    outputs: list[np.ndarray]

    @property
    def backend(self) -> Any:
        return backends.load(self.framework)

    @property
    def model(self) -> Any:
        """The real model object (``keras.Model``, ``torch.nn.Module``, ``onnx.ModelProto``)."""
        return self.built.model

    def layer(self, name: str) -> Any:
        """The real Keras layer built for the IR node ``name``."""
        assert self.framework == "keras", self.framework
        return self.built.extra["layers"][name]

    def module(self, name: str) -> Any:
        """The real PyTorch module built for the IR node ``name``."""
        assert self.framework == "torch", self.framework
        return self.built.model.layers[name]

    def run(self, **inputs: np.ndarray) -> list[np.ndarray]:
        """A forward pass through the backend's ``run`` on the given arrays."""
        return self.backend.run(self.built, inputs)


def assert_measurement_matches_ir(graph: Graph, measurement: Any) -> None:
    """Tensor by tensor (in order) and count by count, per layer and for the whole model."""
    problems = check_measurement(graph, measurement)
    assert problems == [], "\n".join(problems)
    fw = measurement.framework
    assert set(measurement.layers) == {n.name for n in graph.nodes}
    for node in graph.nodes:
        tensors, counts = measurement.layers[node.name]
        predicted = [(w.name, w.shape, w.trainable, w.buffer) for w in node.weights[fw]]
        assert [t.key for t in tensors] == predicted, node.name
        assert counts == node.counts(fw), node.name
    assert measurement.totals == graph.counts(fw)


def _at_sample_length(text: str) -> Graph | None:
    """The spec with every free input size set to ``STEPS`` (``None`` when it has none)."""
    data = yaml.safe_load(text)
    free = False
    for spec in data.get("inputs", []):
        if None in spec.get("shape", []):
            spec["shape"] = [STEPS if d is None else d for d in spec["shape"]]
            free = True
    return load_text(yaml.safe_dump(data, sort_keys=False)) if free else None


def expected_shapes(graph: Graph, text: str | None = None) -> list[tuple[int, ...]]:
    """``(batch, *shape)`` per graph output tensor, as the IR predicts it for the sample
    inputs: free sizes from the spec ``text`` reloaded at length ``STEPS`` when given,
    otherwise ``STEPS`` itself."""
    fixed = _at_sample_length(text) if text is not None else None
    shapes = [s for name in graph.outputs for s in graph.node(name).output_shapes]
    if fixed is not None:
        known = [s for name in fixed.outputs for s in fixed.node(name).output_shapes]
        shapes = [
            tuple(k if d is None else d for d, k in zip(s, f, strict=True))
            for s, f in zip(shapes, known, strict=True)
        ]
    return [(BATCH, *(STEPS if d is None else d for d in shape)) for shape in shapes]


def assert_outputs(graph: Graph, outputs: list[Any], text: str | None = None) -> None:
    """One finite float32 array per output tensor, of the IR's predicted shape."""
    expected = expected_shapes(graph, text)
    assert [o.shape for o in outputs] == expected
    assert all(isinstance(o, np.ndarray) for o in outputs)
    assert all(o.dtype == np.float32 and np.isfinite(o).all() for o in outputs)


def build_case(body: str, framework: str, seed: int = 0) -> Case:
    """Load ``body``, build, measure and run it in ``framework``, without checking."""
    text = spec_text(body)
    graph = load_text(text)
    backend = backends.load(framework)
    built = backend.build(graph, seed=seed)
    measurement = backend.measure(built)
    inputs = sample_inputs(graph)
    outputs = backend.run(built, inputs) if not built.unsupported else []
    return Case(framework, graph, built, measurement, inputs, outputs)


def check_spec(body: str, framework: str, seed: int = 0) -> Case:
    """Load ``body``, build, measure and run it in ``framework``, checking each step against
    the IR."""
    case = build_case(body, framework, seed)
    assert case.built.unsupported == {}
    assert_measurement_matches_ir(case.graph, case.measurement)
    assert_outputs(case.graph, case.outputs, spec_text(body))
    return case


def forward(
    body: str, framework: str, inputs: dict[str, Any], weights: Any = None
) -> list[np.ndarray]:
    """The outputs of the spec ``body`` on ``inputs``, optionally with given ``weights``
    (``{layer: {tensor: array}}``, as the backend's ``build`` takes them)."""
    backend = backends.load(framework)
    built = backend.build(load(body))
    if weights is not None:
        built = backend.set_weights(built, weights)
    return backend.run(built, inputs)


def set_parameters(module: Any, **values: Any) -> None:
    """Overwrite named parameters/buffers of a PyTorch ``module`` with arrays or constants."""
    import torch

    state = dict(module.named_parameters()) | dict(module.named_buffers())
    with torch.no_grad():
        for name, value in values.items():
            state[name].copy_(torch.tensor(np.broadcast_to(value, state[name].shape)))
