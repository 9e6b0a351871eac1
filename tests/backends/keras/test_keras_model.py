"""The whole-model entry points: registry coverage, naming, seeding, several outputs, errors,
shared layers (one Keras layer called again) and the zoo GPT-2 (shares nothing, ties its head)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import backends
from tests.harness import check_spec
from tests.port_cases import ZOO
from translator.errors import BackendError
from translator.spec.loader import load_text
from translator.spec.schema import SCHEMAS

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
    return check_spec(SPEC, "keras")


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


def _shared(layer: str, shape: str) -> str:
    """``enc`` applied to input a, then again (``{share: enc}``) to b, and once more through
    a share of the share; outputs [enc, enc2, enc3]."""
    return f"""
name: shared
inputs:
  - {{name: a, shape: {shape}}}
  - {{name: b, shape: {shape}}}
layers:
  - {{name: enc, inputs: a, {layer[1:-1]}}}
  - {{name: enc2, share: enc, inputs: b}}
  - {{name: enc3, share: enc2, inputs: a}}
outputs: [enc, enc2, enc3]
"""


SHARED = [
    ("{type: Dense, units: 3, activation: tanh}", "[4]"),
    ("{type: Conv2D, filters: 2, kernel_size: 3, padding: same}", "[5, 5, 2]"),
    ("{type: LSTM, units: 3, num_layers: 2, return_sequences: true}", "[4, 2]"),
    ("{type: Bidirectional, layer: {type: GRU, units: 2}}", "[4, 2]"),
    ("{type: BatchNormalization}", "[3]"),
]


@pytest.mark.parametrize(("layer", "shape"), SHARED, ids=[s[0] for s in SHARED])
def test_a_shared_layer_is_one_keras_layer_called_again(layer: str, shape: str) -> None:
    """The share nodes have no tensors (the harness checks that against the IR), the model
    counts the variables once, and each output is the one layer applied to its input."""
    case = check_spec(_shared(layer, shape), "keras")
    enc = case.layer("enc")
    assert [x.name for x in case.built.model.layers].count("enc") == 1
    assert case.built.model.count_params() == enc.count_params()
    for name in ("enc2", "enc3"):
        assert case.measurement.layers[name] == (
            (),
            {"total": 0, "trainable": 0, "non_trainable": 0},
        )
    a, b = case.inputs["a"], case.inputs["b"]
    for out, x in zip(case.outputs, (a, b, a), strict=True):
        np.testing.assert_allclose(out, enc(x, training=False).numpy(), atol=1e-6)
    assert not np.allclose(case.outputs[0], case.outputs[1])


def test_layer_outputs_include_the_share_nodes() -> None:
    case = check_spec(_shared("{type: Dense, units: 3}", "[4]"), "keras")
    found = backends.load("keras").layer_outputs(case.built, case.inputs)
    assert list(found) == ["enc", "enc2", "enc3"]
    for got, want in zip(found.values(), case.outputs, strict=True):
        np.testing.assert_allclose(got[0], want, atol=1e-6)


def test_a_share_of_a_wrapped_tied_layer() -> None:
    """TimeDistributed(tied Dense) applied again: one Embedding matrix, no other weights."""
    spec = """
name: t
inputs:
  - {name: ids, shape: [5], dtype: int32}
layers:
  - {name: wte, type: Embedding, input_dim: 11, output_dim: 4}
  - {name: td, type: TimeDistributed, layer: {type: Dense, units: 11, tie: wte}}
  - {name: again, share: td, inputs: wte}
outputs: [td, again]
"""
    keras_backend = backends.load("keras")
    built = keras_backend.build(load_text(spec))
    assert built.unsupported == {}
    measurement = keras_backend.measure(built)
    assert measurement.totals["total"] == 44 + 11  # the embeddings and td's bias, once
    assert measurement.layers["again"][1]["total"] == 0


def test_gpt2_small_builds_measures_and_runs() -> None:
    """The zoo's GPT-2: 12 blocks, the output projection tied to the token embedding."""
    case = check_spec(
        (Path(__file__).parents[3] / "specs/zoo/gpt2_small.yaml").read_text(), "keras"
    )
    assert case.measurement.totals["total"] == 124_439_808
    assert case.measurement.layers["lm_head"][1]["total"] == 0  # use_bias false, kernel tied
    assert case.outputs[0].shape == (2, 32, 50257)


def _chain(layers: int) -> str:
    """A chain of ``layers`` Dense layers of 4 units, as two repeated blocks."""
    half = layers // 2
    return f"""
name: deep
blocks:
  step: {{layers: [{{type: Dense, units: 4}}]}}
inputs: [{{name: x, shape: [4]}}]
layers:
  - {{block: step, repeat: {half}}}
  - {{block: step, repeat: {layers - half}}}
"""


def test_a_2000_layer_chain_builds_counts_and_runs() -> None:
    """Keras maps a functional graph recursively, one frame per layer: deeper than Python's
    default limit of 1,000 frames, which the build raises for the model only."""
    import sys

    before = sys.getrecursionlimit()
    case = check_spec(_chain(2000), "keras")
    assert sys.getrecursionlimit() == before
    assert len(case.built.model.layers) == 2001
    assert case.measurement.totals["total"] == 2000 * (4 * 4 + 4)


def test_frozen_layers_are_not_trainable_and_batchnorm_uses_its_statistics() -> None:
    """``trainable: false`` → ``layer.trainable = False`` (every tensor checked against the IR
    by the harness); Keras then runs a frozen BatchNormalization on its moving statistics
    even in training, and at inference it computes what the trainable one does."""
    case = check_spec(ZOO["zoo_frozen"], "keras")
    assert not case.layer("stem_conv").trainable and not case.layer("stem_bn").trainable
    assert case.layer("head").trainable
    assert (
        case.model.count_params() - sum(int(np.prod(v.shape)) for v in case.model.trainable_weights)
        == case.graph.counts("keras")["non_trainable"]
    )
    bn = case.layer("stem_bn")
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(bn(x, training=True), bn(x, training=False), atol=1e-6, rtol=1e-6)


def test_model_keras_keeps_frozen_layers_frozen(tmp_path: Path) -> None:
    """``export``'s ``model.keras``, reloaded by Keras, still has the frozen layers frozen and
    the same trainable / non-trainable split as the IR."""
    import keras

    from backends.keras import export as keras_export
    from translator.commands.port import random_canonical
    from translator.weights.canonical import from_canonical

    graph = load_text(ZOO["zoo_frozen"])
    weights = from_canonical(graph, "keras", random_canonical(graph))
    keras_export.export(graph, weights, tmp_path)
    model = keras.saving.load_model(tmp_path / keras_export.FILE, compile=False)
    frozen = {layer.name for layer in model.layers if not layer.trainable}
    assert frozen == {"stem_conv", "stem_bn", "bidirectional", "time_distributed"}
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == graph.counts("keras")["trainable"]
    assert model.count_params() == graph.counts("keras")["total"]
