"""The ONNX backend as a whole: coverage of the schema, model metadata, initializer naming,
seeding, weights passed in, unsupported layers, and run()'s contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import translator.ops
from backends.onnx.model import CONST_MARK, IR_VERSION, OPSET, is_weight
from tests.backends.test_backend_contract import IMPORTING
from translator.errors import BackendError
from translator.ir.sample import sample_inputs
from translator.spec.schema import SCHEMAS

FAMILIES = set(translator.ops.FAMILIES)  # the one list of families
MIXED = """
    inputs: [{name: x, shape: [null, 3]}, {name: ids, shape: [4], dtype: int64}]
    layers:
      - {type: LSTM, units: 4, name: lstm, inputs: x}
      - {type: Embedding, input_dim: 9, output_dim: 4, inputs: ids, name: emb}
      - {type: GlobalAveragePooling1D, inputs: emb}
      - {type: Concatenate, inputs: [lstm, global_average_pooling1d]}
      - {type: BatchNormalization, scale: false}
      - {type: Dense, units: 2, name: head}
    outputs: [head, x]
"""


def test_every_layer_type_is_built_or_declared(backend) -> None:
    assert [t for t in SCHEMAS if not backend.BUILDERS.covers(t)] == []
    assert len(backend.BUILDERS.gaps) == 0  # ONNX builds every layer type


def test_modules_are_the_layer_families(backend) -> None:
    modules = {p.stem for p in Path(backend.__file__).parent.glob("*.py")}
    # Beside the families: assembly, weights, export, and the importer with its file reader
    # and its readers of subgraphs (tests/backends/test_backend_contract.py lists them).
    infrastructure = {"__init__", "model", "weights", "export", *IMPORTING["onnx"]}
    assert modules == FAMILIES | infrastructure
    assert backend.NAME == "onnx"


@pytest.fixture(scope="module")
def mixed(check):
    return check(MIXED)


def test_model_metadata_and_io(mixed) -> None:
    model = mixed.built.model
    assert model.ir_version == IR_VERSION
    assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]
    onnx.checker.check_model(model, full_check=True)
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(inputs) == ["x", "ids"]
    assert inputs["ids"].elem_type == onnx.TensorProto.INT64
    assert [d.dim_param or d.dim_value for d in inputs["x"].shape.dim] == ["batch", "x_dim1", 3]
    assert [o.name for o in model.graph.output] == ["head", "x/output_0"]


def test_output_that_is_a_model_input_is_returned_as_given(mixed) -> None:
    np.testing.assert_array_equal(mixed.outputs[1], sample_inputs(mixed.graph)["x"])


def test_initializers_are_weights_or_named_constants(mixed) -> None:
    layers = {n.name for n in mixed.graph.nodes}
    for init in mixed.built.model.graph.initializer:
        if is_weight(init):
            assert init.name.partition(".")[0] in layers, init.name
        else:
            assert init.name.partition(CONST_MARK)[0] in layers, init.name
    consts = [i.name for i in mixed.built.model.graph.initializer if not is_weight(i)]
    assert "batch_normalization/const/scale" in consts  # ones for scale: false


def test_same_seed_same_weights_other_seed_other_weights(load_spec, backend) -> None:
    graph = load_spec(MIXED)

    def values(seed: int) -> dict[str, np.ndarray]:
        model = backend.build(graph, seed=seed).model
        return {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}

    first, again, other = values(0), values(0), values(1)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["lstm.W"], other["lstm.W"])
    assert (first["batch_normalization.input_var"] > 0).all()


def test_weights_passed_in_replace_the_starting_values(load_spec, backend) -> None:
    graph = load_spec(MIXED)
    table = np.arange(36, dtype=np.float64).reshape(9, 4)
    model = backend.build(graph, weights={"emb": {"embeddings": table}}).model
    (init,) = [i for i in model.graph.initializer if i.name == "emb.embeddings"]
    stored = onnx.numpy_helper.to_array(init)
    assert stored.dtype == np.float32
    np.testing.assert_array_equal(stored, table)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (
            {"nope": {}},
            "the spec has no layer 'nope'; layers with weights: ['batch_normalization',",
        ),
        ({"emb": {}}, "onnx weights for layer 'emb': expected tensors ['embeddings'], received []"),
        (
            {"head": {"W": np.zeros((8, 2)), "B": np.zeros(2), "K": np.zeros(1)}},
            "expected tensors ['B', 'W'], received ['B', 'K', 'W']",
        ),
        (
            {"head": {"W": np.zeros((2, 8)), "B": np.zeros(2)}},
            "onnx weights for 'head.W': expected shape (8, 2), received (2, 8)",
        ),
    ],
)
def test_weights_passed_in_are_checked(weights, message: str, load_spec, backend) -> None:
    with pytest.raises(BackendError) as info:
        backend.build(load_spec(MIXED), weights=weights)
    assert message in str(info.value)


def test_unsupported_layer_leaves_the_rest_measurable(load_spec, backend) -> None:
    graph = load_spec(
        """
        inputs: [{name: x, shape: [null, 3]}]
        layers:
          - {type: Dense, units: 4, name: before}
          - {type: GRU, units: 2, activation: gelu, name: rnn}
          - {type: Dense, units: 1, name: after}
        """
    )
    built = backend.build(graph)
    assert list(built.unsupported) == ["rnn"]
    assert "ONNX's GRU operator cannot apply gelu" in built.unsupported["rnn"]
    onnx.checker.check_model(built.model, full_check=True)
    measured = backend.measure(built)
    assert set(measured.layers) == {"x", "before", "after"}
    assert measured.totals == {"total": 16 + 3}
    with pytest.raises(BackendError, match="cannot run: rnn: ONNX's GRU operator"):
        backend.run(built, sample_inputs(graph))


def test_run_names_missing_inputs(mixed, backend) -> None:
    with pytest.raises(BackendError, match=r"missing inputs \['ids'\]"):
        backend.run(mixed.built, {"x": np.zeros((1, 2, 3), np.float32)})


# Shared layers: ``{share: NAME, inputs: ...}`` reuses NAME's initializers; two inputs a, b
# of the same shape, the original on a, the share on b; outputs [original, share].
SHARED = {
    "dense": ("[6]", "{name: enc, type: Dense, units: 4, activation: relu}"),
    "conv2d": ("[5, 5, 2]", "{name: enc, type: Conv2D, filters: 3, kernel_size: 3}"),
    "batch_norm": ("[4]", "{name: enc, type: BatchNormalization}"),
    "lstm": ("[null, 3]", "{name: enc, type: LSTM, units: 4, num_layers: 2}"),
    "bidirectional": (
        "[null, 3]",
        "{name: enc, type: Bidirectional, layer: {type: GRU, units: 2}, merge_mode: null}",
    ),
    "time_distributed": (
        "[4, 3]",
        "{name: enc, type: TimeDistributed, layer: {type: Dense, units: 2}}",
    ),
    "attention": ("[4, 6]", "{name: enc, type: MultiHeadAttention, num_heads: 2, key_dim: 3}"),
}


def shared_spec(case: str, chain: bool = False) -> str:
    """The SHARED ``case``; with ``chain`` the share applies a share of the original."""
    shape, layer = SHARED[case]
    first = "enc_c" if chain else "enc"
    middle = "  - {name: enc_c, share: enc, inputs: b}\n" if chain else ""
    return (
        f"inputs: [{{name: a, shape: {shape}}}, {{name: b, shape: {shape}}}]\n"
        f"layers:\n  - {layer[:-1]}, inputs: a}}\n{middle}"
        f"  - {{name: enc_b, share: {first}, inputs: b}}\n"
        "outputs: [enc, enc_b]\n"
    )


def _weight_names(built) -> list[str]:
    return [i.name for i in built.model.graph.initializer if is_weight(i)]


@pytest.mark.parametrize("case", sorted(SHARED))
def test_shared_layer_reuses_the_original_initializers(case: str, check, backend) -> None:
    result = check(shared_spec(case))  # the share measures (), the total counts enc once
    assert _weight_names(result.built)
    assert all(name.startswith("enc.") for name in _weight_names(result.built))
    a, b = (sample_inputs(result.graph)[k] for k in "ab")
    swapped = backend.run(result.built, {"a": b, "b": a})
    n = len(result.outputs) // 2  # a Bidirectional with merge_mode null gives two per layer
    for shared, original in zip(result.outputs[n:], swapped[:n], strict=True):
        np.testing.assert_allclose(shared, original, rtol=1e-6, atol=1e-6)


def test_share_of_a_share_applies_the_original(check, backend) -> None:
    result = check(shared_spec("dense", chain=True))
    assert result.graph.node("enc_b").shares == "enc"
    weights = backend.get_weights(result.built)
    assert list(weights) == ["enc"]
    kernel, bias = weights["enc"]["W"], weights["enc"]["B"]
    b = sample_inputs(result.graph)["b"]
    np.testing.assert_allclose(result.outputs[1], np.maximum(b @ kernel + bias, 0), rtol=1e-5)


def test_shared_and_tied_weights_round_trip(load_spec, backend) -> None:
    graph = load_spec(
        """
        inputs: [{name: ids, shape: [3], dtype: int32}, {name: x, shape: [3, 4]}]
        layers:
          - {name: wte, type: Embedding, input_dim: 7, output_dim: 4, inputs: ids}
          - {name: head, type: Dense, units: 7, tie: wte, inputs: wte}
          - {name: head_x, share: head, inputs: x}
        outputs: [head, head_x]
        """
    )
    built = backend.build(graph, seed=3)
    weights = backend.get_weights(built)
    assert {k: sorted(v) for k, v in weights.items()} == {"wte": ["embeddings"], "head": ["B"]}
    again = backend.set_weights(built, weights)
    inputs = sample_inputs(graph)
    for old, new in zip(backend.run(built, inputs), backend.run(again, inputs), strict=True):
        np.testing.assert_array_equal(old, new)
    table, bias = weights["wte"]["embeddings"], weights["head"]["B"]
    expected = inputs["x"] @ table.T + bias
    np.testing.assert_allclose(backend.run(built, inputs)[1], expected, rtol=1e-5, atol=1e-6)
    (probed,) = backend.layer_outputs(built, inputs)["head_x"]
    np.testing.assert_allclose(probed, expected, rtol=1e-5, atol=1e-6)


def test_share_of_an_unsupported_layer_is_unsupported_too(load_spec, backend) -> None:
    graph = load_spec(shared_spec("lstm").replace("num_layers: 2", "activation: gelu"))
    built = backend.build(graph)
    assert set(built.unsupported) == {"enc", "enc_b"}
    assert _weight_names(built) == []


def test_frozen_layers_are_plain_initializers() -> None:
    """ONNX has no notion of trainable: a frozen layer's initializers are the same as a
    trainable one's, and the total counts them all."""
    from tests.harness import check_spec
    from tests.port_cases import ZOO

    frozen = check_spec(ZOO["zoo_frozen"], "onnx")
    thawed = check_spec(ZOO["zoo_frozen"].replace("trainable: false", "trainable: true"), "onnx")
    names = [(i.name, tuple(i.dims)) for i in frozen.model.graph.initializer]
    assert names == [(i.name, tuple(i.dims)) for i in thawed.model.graph.initializer]
    assert frozen.measurement.totals == thawed.measurement.totals == frozen.graph.counts("onnx")
