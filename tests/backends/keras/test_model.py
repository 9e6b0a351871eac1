"""The whole-model entry points: registry coverage, naming, seeding, several outputs, errors."""

from __future__ import annotations

import numpy as np
import pytest

import backends
from tests.backends.keras.harness import check_spec
from translator.errors import BackendError
from translator.loader import load_text
from translator.schema import SCHEMAS

pytestmark = pytest.mark.keras

SPEC = """
name: two_heads
inputs:
  - {name: x, shape: [null, 3]}
  - {name: ids, shape: [4], dtype: int32}
layers:
  - {name: bi, type: Bidirectional, merge_mode: null, layer: {type: GRU, units: 2}, inputs: x}
  - {name: emb, type: Embedding, input_dim: 7, output_dim: 2, inputs: ids}
  - {name: pooled, type: GlobalAveragePooling1D, inputs: emb}
  - {name: joined, type: Concatenate, inputs: [bi, pooled]}
  - {name: head, type: Dense, units: 3, activation: softmax}
outputs: [head, bi, pooled]
"""


@pytest.fixture(scope="module")
def case():
    return check_spec(SPEC)


def test_every_layer_type_is_built() -> None:
    registry = backends.load("keras").BUILDERS
    assert sorted(registry.builders) == sorted(SCHEMAS)
    assert len(registry.gaps) == 0


def test_layers_and_model_are_named_from_the_spec(case) -> None:
    model = case.built.model
    assert model.name == "two_heads"
    assert sorted(layer.name for layer in model.layers) == sorted(n.name for n in case.graph.nodes)


def test_outputs_follow_graph_outputs_with_both_directions(case) -> None:
    # head; bi's forward and backward outputs (merge_mode null); pooled
    assert [o.shape for o in case.outputs] == [(2, 3), (2, 2), (2, 2), (2, 2)]
    np.testing.assert_allclose(case.outputs[0].sum(axis=-1), 1, atol=1e-6)


def _weights(text: str, seed: int) -> list[np.ndarray]:
    built = backends.load("keras").build(load_text(text), seed=seed)
    return [v.numpy() for v in built.model.weights]


def test_the_seed_fixes_the_initial_weights() -> None:
    first = _weights(SPEC, seed=3)
    _weights(SPEC.replace("units: 2", "units: 5"), seed=3)  # anything built in between
    again = _weights(SPEC, seed=3)
    other = _weights(SPEC, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_run_names_a_missing_input(case) -> None:
    with pytest.raises(BackendError, match="ids"):
        backends.load("keras").run(case.built, {"x": case.inputs["x"]})
