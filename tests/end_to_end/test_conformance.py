"""Conformance: every registered layer type, built in Keras, PyTorch and ONNX with several
argument sets, measures exactly as the IR predicts and reconciles with nothing unexplained.

A layer type without a row here fails ``test_every_layer_type_has_cases``, so nothing enters the
registry without being proven in all three frameworks.
"""

from __future__ import annotations

import pytest

from translator.commands.compare import compare_report
from translator.spec.loader import load_text
from translator.spec.schema import SCHEMAS

pytestmark = pytest.mark.frameworks

# layer type → [(input shape, layer arguments)]; "int" in the shape makes integer inputs.
CASES: dict[str, list[tuple[str, str]]] = {
    "Dense": [
        ("[5]", "units: 3"),
        ("[4, 5]", "units: 2, activation: relu, use_bias: false"),
        ("[4, 5]", "units: 3, activation: gelu_tanh"),
    ],
    "Dropout": [
        ("[5]", "rate: 0.5"),
        ("[4, 4, 3]", "rate: 0.2, noise_shape: [null, 1, 1, 1]"),
        ("[6, 3]", "rate: 0.1, noise_shape: [null, 1, 3]"),
    ],
    "Embedding": [("int [6]", "input_dim: 11, output_dim: 4")],
    "ClassToken": [("[5, 8]", "{}"), ("[null, 3]", "{}")],
    "Activation": [
        ("[5]", "activation: gelu"),
        ("[3, 5]", "activation: log_softmax"),
        ("[3, 5]", "activation: gelu_tanh"),
        ("[5]", "activation: hard_swish"),
        ("[5]", "activation: mish"),
    ],
    "ReLU": [("[5]", "{}"), ("[5]", "max_value: 6, negative_slope: 0.1, threshold: 0.5")],
    "LeakyReLU": [("[5]", "{}"), ("[5]", "negative_slope: 0.01")],
    "Softmax": [("[3, 5]", "{}"), ("[3, 5]", "axis: 1")],
    "ELU": [("[5]", "{}"), ("[5]", "alpha: 0.5")],
    "PReLU": [("[4, 4, 3]", "{}"), ("[4, 4, 3]", "shared_axes: [1, 2]")],
    "Conv1D": [
        ("[9, 3]", "filters: 4, kernel_size: 3"),
        ("[9, 4]", "filters: 4, kernel_size: 2, padding: causal, dilation_rate: 2, groups: 2"),
    ],
    "Conv2D": [
        ("[9, 9, 3]", "filters: 4, kernel_size: 4, strides: 2, padding: same"),
        ("[3, 9, 9]", "filters: 2, kernel_size: 3, data_format: channels_first"),
    ],
    "Conv3D": [
        ("[6, 6, 6, 2]", "filters: 3, kernel_size: 3"),
        ("[6, 6, 6, 2]", "filters: 2, kernel_size: 2, strides: 2, padding: same, use_bias: false"),
    ],
    "Conv1DTranspose": [
        ("[5, 3]", "filters: 2, kernel_size: 3, strides: 2"),
        ("[5, 3]", "filters: 2, kernel_size: 4, strides: 2, padding: same"),
    ],
    "Conv2DTranspose": [
        ("[4, 4, 3]", "filters: 2, kernel_size: 3, strides: 2"),
        ("[4, 4, 3]", "filters: 2, kernel_size: 3, strides: 2, padding: same, output_padding: 1"),
    ],
    "Conv3DTranspose": [("[3, 3, 3, 2]", "filters: 2, kernel_size: 2, strides: 2")],
    "DepthwiseConv1D": [
        ("[9, 3]", "kernel_size: 3"),
        ("[9, 3]", "kernel_size: 3, depth_multiplier: 2, padding: same"),
    ],
    "DepthwiseConv2D": [
        ("[8, 8, 3]", "kernel_size: 3"),
        ("[8, 8, 3]", "kernel_size: 3, strides: 2, depth_multiplier: 2"),
    ],
    "SeparableConv1D": [("[9, 3]", "filters: 4, kernel_size: 3")],
    "SeparableConv2D": [
        ("[8, 8, 3]", "filters: 4, kernel_size: 3, padding: same"),
        ("[8, 8, 3]", "filters: 4, kernel_size: 3, depth_multiplier: 2, use_bias: false"),
    ],
    # ceil_mode: sizes where PyTorch's ceil mode adds a last window past the input (each case
    # costs about a minute of exports in test_export_end_to_end: one per path, not per rank).
    "MaxPooling1D": [
        ("[8, 3]", "{}"),
        ("[9, 3]", "pool_size: 3, strides: 2, padding: same"),
        ("[9, 3]", "ceil_mode: true"),
    ],
    "MaxPooling2D": [
        ("[8, 8, 3]", "{}"),
        ("[9, 9, 3]", "pool_size: 3, strides: 2, padding: same"),
        ("[3, 11, 10]", "pool_size: 3, strides: 2, ceil_mode: true, data_format: channels_first"),
    ],
    "MaxPooling3D": [("[4, 4, 4, 2]", "{}")],
    "AveragePooling1D": [
        ("[8, 3]", "{}"),
        ("[9, 3]", "pool_size: 3, strides: 2, padding: same"),
        ("[10, 3]", "pool_size: 3, ceil_mode: true"),
    ],
    "AveragePooling2D": [
        ("[8, 8, 3]", "{}"),
        ("[9, 9, 3]", "pool_size: 3, strides: 2, padding: same"),
        ("[11, 10, 3]", "pool_size: 3, strides: [2, 3], ceil_mode: true"),
    ],
    "AveragePooling3D": [("[4, 4, 4, 2]", "{}"), ("[5, 4, 5, 2]", "ceil_mode: true")],
    "GlobalAveragePooling1D": [("[8, 3]", "{}")],
    "GlobalAveragePooling2D": [("[4, 4, 3]", "{}"), ("[4, 4, 3]", "keepdims: true")],
    "GlobalAveragePooling3D": [("[3, 3, 3, 2]", "{}")],
    "GlobalMaxPooling1D": [("[8, 3]", "{}")],
    "GlobalMaxPooling2D": [("[4, 4, 3]", "{}")],
    "GlobalMaxPooling3D": [("[3, 3, 3, 2]", "{}")],
    "Flatten": [("[3, 4]", "{}")],
    "Reshape": [("[3, 4]", "target_shape: [2, -1]")],
    "Permute": [("[3, 4, 5]", "dims: [3, 1, 2]")],
    "RepeatVector": [("[4]", "n: 3")],
    "ZeroPadding1D": [("[5, 3]", "padding: [1, 2]")],
    "ZeroPadding2D": [("[5, 5, 3]", "padding: [[1, 0], [2, 1]]")],
    "ZeroPadding3D": [("[3, 3, 3, 2]", "{}")],
    "Cropping1D": [("[6, 3]", "cropping: [1, 2]")],
    "Cropping2D": [("[6, 6, 3]", "cropping: [[1, 0], [0, 2]]")],
    "UpSampling1D": [("[4, 3]", "size: 3")],
    "UpSampling2D": [("[4, 4, 3]", "{}"), ("[4, 4, 3]", "interpolation: bilinear")],
    "SimpleRNN": [
        ("[6, 3]", "units: 4"),
        ("[6, 3]", "units: 4, return_sequences: true, go_backwards: true"),
    ],
    "LSTM": [
        ("[6, 3]", "units: 4"),
        ("[6, 3]", "units: 4, return_sequences: true, use_bias: false"),
    ],
    "GRU": [
        ("[6, 3]", "units: 4"),
        ("[6, 3]", "units: 4, reset_after: false, return_sequences: true"),
    ],
    "Bidirectional": [
        ("[6, 3]", "layer: {type: LSTM, units: 3}"),
        ("[6, 3]", "merge_mode: ave, layer: {type: GRU, units: 3, return_sequences: true}"),
    ],
    "TimeDistributed": [
        ("[4, 5]", "layer: {type: Dense, units: 2}"),
        ("[3, 6, 6, 2]", "layer: {type: Conv2D, filters: 2, kernel_size: 3}"),
        ("[4, 5]", "layer: {type: Dense, units: 2, activation: gelu_tanh}"),
    ],
    "BatchNormalization": [("[6, 6, 3]", "{}"), ("[3, 6]", "axis: 1, center: false")],
    "LayerNormalization": [("[4, 6]", "{}"), ("[4, 6]", "axis: [1, 2], scale: false")],
    "GroupNormalization": [("[6, 6, 4]", "groups: 2"), ("[5, 4]", "groups: 4, center: false")],
    "RMSNormalization": [("[4, 6]", "{}")],
    "LayerScale": [
        ("[4, 6]", "init_values: 0.1, projection_dim: 6"),
        ("[5, 5, 3]", "init_values: 1e-6, projection_dim: 3"),
    ],
    "UnitNormalization": [("[4, 6]", "{}"), ("[4, 6]", "axis: [1, 2]")],
    "MultiHeadAttention": [
        ("[5, 8]", "num_heads: 2, key_dim: 4"),
        ("[5, 8]", "num_heads: 2, key_dim: 3, value_dim: 5, output_shape: 6, causal: true"),
    ],
    "GroupQueryAttention": [("[5, 8]", "head_dim: 4, num_query_heads: 4, num_key_value_heads: 2")],
    "PositionEmbedding": [("[5, 8]", "sequence_length: 10")],
    "RelativePositionBias": [
        ("[6, 4]", "num_heads: 2, num_buckets: 8, max_distance: 3"),
        ("[7, 4]", "num_heads: 3, num_buckets: 32, max_distance: 128, bidirectional: false"),
    ],
    "Rescaling": [("[4, 4, 3]", "scale: 0.00392156862745098"), ("[5]", "scale: 2, offset: -1")],
    "Normalization": [
        ("[4, 4, 3]", "{}"),
        ("[4, 5, 3]", "axis: [1, 2], invert: true"),
        ("[3, 4]", "axis: 1, trainable: false"),
        ("[4, 4, 3]", "mean: [0.5, -1, 2], variance: [4, 0.25, 1]"),
        ("[4, 4, 3]", "axis: null"),
        ("[3, 4]", "axis: null, mean: 2, variance: 9"),
    ],
}
MERGES = ("Add", "Multiply", "Subtract", "Average", "Maximum", "Minimum", "Concatenate")


def _spec(layer_type: str, shape: str, args: str) -> str:
    dtype = "int32" if shape.startswith("int") else "float32"
    shape = shape.removeprefix("int ")
    body = "" if args == "{}" else ", " + args
    return f"name: case\ninputs: [{{name: x, shape: {shape}, dtype: {dtype}}}]\nlayers:\n  - {{type: {layer_type}{body}}}\n"


def _merge_spec(layer_type: str) -> str:
    return (
        "name: case\ninputs: [{name: a, shape: [3, 4]}, {name: b, shape: [3, 4]}]\nlayers:\n"
        f"  - {{type: {layer_type}, inputs: [a, b]}}\n"
    )


# Layers whose weights live elsewhere (shared, tied), PyTorch-style recurrent stacks, and
# rotary attention, and attention with a bias on some projections only or another scale
# (here, not in CASES, which test_export_end_to_end exports natively too: no built-in Keras
# layer rotates, drops one projection's bias or rescales, so a model.keras cannot hold them).
COMPOSED = {
    "mha-own-biases": "name: case\ninputs: [{name: x, shape: [5, 8]}]\nlayers:\n  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4, key_bias: false, scale: 1.0}\n",
    "t5-attention": "name: case\ninputs: [{name: x, shape: [6, 8]}]\nlayers:\n  - {name: bias, type: RelativePositionBias, num_heads: 2, num_buckets: 8, max_distance: 3, bidirectional: false}\n  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4, use_bias: false, scale: 1.0, attention_bias: true, causal: true, inputs: [x, bias]}\n",
    "mha-own-biases-custom": "name: case\ninputs: [{name: x, shape: [5, 8]}]\nlayers:\n  - {type: MultiHeadAttention, num_heads: 2, key_dim: 3, use_bias: false, value_bias: true, output_bias: true, causal: true}\n",
    "gqa-rotary": "name: case\ninputs: [{name: x, shape: [5, 8]}]\nlayers:\n  - {type: GroupQueryAttention, head_dim: 4, num_query_heads: 4, num_key_value_heads: 2, causal: true, rope_max_wavelength: 100}\n",
    "share-dense": "name: case\ninputs: [{name: a, shape: [5]}, {name: b, shape: [5]}]\nlayers:\n  - {name: enc, type: Dense, units: 3, inputs: a}\n  - {share: enc, inputs: b}\n",
    "share-lstm-stack": "name: case\ninputs: [{name: a, shape: [6, 3]}, {name: b, shape: [6, 3]}]\nlayers:\n  - {name: rnn, type: LSTM, units: 4, num_layers: 2, inputs: a}\n  - {share: rnn, inputs: b}\n",
    "tied-dense": "name: case\ninputs: [{name: ids, shape: [6], dtype: int32}]\nlayers:\n  - {name: wte, type: Embedding, input_dim: 11, output_dim: 4}\n  - {type: Dense, units: 11, tie: wte}\n",
    "tied-in-wrapper": "name: case\ninputs: [{name: ids, shape: [6], dtype: int32}]\nlayers:\n  - {name: wte, type: Embedding, input_dim: 11, output_dim: 4}\n  - {type: TimeDistributed, layer: {type: Dense, units: 11, use_bias: false, tie: wte}}\n",
    "gru-stack-backwards": "name: case\ninputs: [{name: x, shape: [6, 3]}]\nlayers:\n  - {type: GRU, units: 4, num_layers: 3, go_backwards: true, return_sequences: true}\n",
    "se-gate-broadcast": "name: case\ninputs: [{name: x, shape: [6, 6, 4]}]\nlayers:\n  - {name: conv, type: Conv2D, filters: 4, kernel_size: 3}\n  - {type: GlobalAveragePooling2D, keepdims: true}\n  - {name: gate, type: Dense, units: 4, activation: sigmoid}\n  - {type: Multiply, inputs: [conv, gate]}\n",
    "rnn-stack": "name: case\ninputs: [{name: x, shape: [6, 3]}]\nlayers:\n  - {type: SimpleRNN, units: 4, num_layers: 2}\n",
}

PARAMS = [
    pytest.param(_spec(t, s, a), id=f"{t}-{i}")
    for t, rows in CASES.items()
    for i, (s, a) in enumerate(rows)
]
PARAMS += [pytest.param(_merge_spec(t), id=t) for t in MERGES]
PARAMS += [pytest.param(text, id=key) for key, text in COMPOSED.items()]


@pytest.mark.parametrize("text", PARAMS)
def test_layer_measures_as_predicted_everywhere(text: str) -> None:
    report = compare_report(load_text(text))
    assert report.failures == []
    assert all(p is not None for row in report.rows for p in row.params.values())
    assert report.unexplained_total == 0


def test_every_layer_type_has_cases() -> None:
    covered = set(CASES) | set(MERGES) | {"Input"}
    assert sorted(set(SCHEMAS) - covered) == []
