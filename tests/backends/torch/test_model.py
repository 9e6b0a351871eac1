"""The assembled PyTorch model: multi-input and multi-output graphs, residual wiring, layer
names that clash with nn.Module attributes, seeding, totals, and run()'s refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backends.base import Built
from tests.backends.torch.harness import Case, check_spec, one_layer, torch_backend
from translator.errors import BackendError
from translator.loader import load_text

GRAPH = """
name: graph
inputs:
  - {name: seq, shape: [null, 3]}
  - {name: ids, shape: [4], dtype: int64}
layers:
  - {type: Bidirectional, name: encoder, merge_mode: null, inputs: seq, layer: {type: GRU, units: 4}}
  - {type: Concatenate, name: joined, inputs: encoder}
  - {type: Embedding, name: embed, input_dim: 9, output_dim: 8, inputs: ids}
  - {type: GlobalAveragePooling1D, name: pooled}
  - {type: Add, name: update, inputs: [joined, pooled]}
  - {type: Dense, name: compile, units: 2, activation: softmax}
  - {type: BatchNormalization, name: norm, inputs: joined}
outputs: [compile, encoder, norm]
"""


@pytest.fixture(scope="module")
def graph_case() -> Case:
    return check_spec(GRAPH)


def test_multi_input_multi_output_graph(graph_case: Case) -> None:
    shapes = [o.shape for o in graph_case.outputs]
    assert shapes == [(2, 2), (2, 4), (2, 4), (2, 8)]  # encoder's merge_mode null: two outputs
    np.testing.assert_allclose(graph_case.outputs[0].sum(axis=-1), 1.0, rtol=1e-6)


def test_layer_names_may_be_module_attribute_names(graph_case: Case) -> None:
    layers = graph_case.built.model.layers
    assert isinstance(layers["update"], torch.nn.Module)
    assert isinstance(layers["compile"], torch.nn.Linear)
    names = dict(graph_case.built.model.named_parameters())
    assert "layers.compile.weight" in names


def test_totals_are_the_whole_module(graph_case: Case) -> None:
    model = graph_case.built.model
    totals = graph_case.measurement.totals
    assert totals["total"] == sum(p.numel() for p in model.parameters())
    assert totals["buffers"] == 8 + 8 + 1  # running mean, running var, num_batches_tracked


def test_seed_fixes_the_weights() -> None:
    spec = one_layer("{type: LSTM, units: 3}", "[4, 2]")
    first, again = (torch_backend.build(load_text(spec), seed=7) for _ in range(2))
    other = torch_backend.build(load_text(spec), seed=8)
    w = [b.model.layers["lstm"].weight_ih_l0 for b in (first, again, other)]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])


def test_run_refuses_a_model_with_unbuilt_layers(graph_case: Case) -> None:
    gap = Built("torch", graph_case.graph, graph_case.built.model, {"encoder": "no reason"})
    with pytest.raises(BackendError, match="encoder: no reason"):
        torch_backend.run(gap, graph_case.inputs)


def test_run_names_a_missing_input(graph_case: Case) -> None:
    with pytest.raises(BackendError, match="ids"):
        torch_backend.run(graph_case.built, {"seq": graph_case.inputs["seq"]})


def test_run_accepts_read_only_and_float64_arrays() -> None:
    case = check_spec(one_layer("{type: Dense, units: 2}", "[3]"))
    x = np.broadcast_to(np.ones(3), (2, 3))  # float64, read-only view
    assert case.run(x=x)[0].dtype == np.float32
