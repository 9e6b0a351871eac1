"""The ONNX backend as a whole: coverage of the schema, model metadata, initializer naming,
seeding, weights passed in, unsupported layers, and run()'s contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from backends.onnx.model import CONST_MARK, IR_VERSION, OPSET, is_weight
from translator.errors import BackendError
from translator.sample import sample_inputs
from translator.schema import SCHEMAS

FAMILIES = {"activation", "attention", "conv", "conv_transpose", "core", "depthwise", "merge",
            "normalization", "pooling", "recurrent", "reshape", "wrappers"}  # fmt: skip
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
    assert modules == FAMILIES | {"__init__", "model", "weights", "export"}
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
