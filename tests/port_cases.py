"""Inline specs for the port tests: every weighted layer variant the specs under ``specs/``
leave out (multi-axis LayerNormalization, BatchNormalization without scale or offset, the
reset-before GRU, recurrent layers PyTorch runs in its custom module, layers without bias,
grouped causal Conv1D, a squeeze-and-excitation gate broadcast over an image), so that every
weight map entry is exercised."""

from __future__ import annotations

ZOO: dict[str, str] = {
    # Frozen layers (trainable: false): a block instance, a wrapped layer, a frozen wrapper;
    # Normalization per channel of an image (run channels first) and over two axes, inverted.
    "zoo_frozen": """
name: zoo_frozen
inputs: [{name: x, shape: [6, 6, 3]}]
blocks:
  unit:
    layers:
      - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, name: conv}
      - {type: BatchNormalization, name: bn}
layers:
  - {type: Normalization, name: norm}
  - {block: unit, name: stem, trainable: false}
  - {type: Reshape, target_shape: [36, 4]}
  - {type: Normalization, axis: [1, 2], invert: true, name: denorm}
  - {type: Bidirectional, layer: {type: GRU, units: 2, return_sequences: true, trainable: false}}
  - {type: TimeDistributed, layer: {type: Dense, units: 2}, trainable: false}
  - {type: Flatten}
  - {type: Dense, units: 3, name: head}
""",
    "zoo_norms": """
name: zoo_norms
inputs: [{name: x, shape: [3, 4, 2]}]
layers:
  - {type: LayerNormalization, axis: [1, -1], name: ln_split}
  - {type: LayerNormalization, axis: [1, 2], center: false, name: ln_scale_only}
  - {type: BatchNormalization, axis: 2, center: false, momentum: 0.9, name: bn_middle}
  - {type: BatchNormalization, scale: false, epsilon: 0.01, name: bn_last}
  - {type: Dense, units: 3, use_bias: false}
""",
    "zoo_recurrent": """
name: zoo_recurrent
inputs: [{name: x, shape: [null, 3]}]
layers:
  - type: Bidirectional
    merge_mode: sum
    layer: {type: GRU, units: 4, reset_after: false, return_sequences: true}
  - {type: LSTM, units: 3, activation: relu, return_sequences: true}
  - {type: SimpleRNN, units: 2, activation: relu, return_sequences: true, go_backwards: true}
  - {type: GRU, units: 2, use_bias: false, return_sequences: true}
  - {type: GRU, units: 2, recurrent_activation: hard_sigmoid, return_sequences: true}
  - {type: Bidirectional, layer: {type: SimpleRNN, units: 2}}
""",
    "zoo_conv": """
name: zoo_conv
inputs: [{name: t, shape: [6], dtype: int32}]
layers:
  - {type: Embedding, input_dim: 7, output_dim: 4}
  - type: Conv1D
    filters: 4
    kernel_size: 3
    padding: causal
    dilation_rate: 2
    groups: 2
    use_bias: false
  - {type: TimeDistributed, layer: {type: Dense, units: 2}}
""",
    # 1-D convolution data channels first in PyTorch and ONNX: every 1-D layer type on it, a
    # Flatten whose Dense holds its rows in channels-first order, and an LSTM reading it back
    # as (batch, time, features).
    "zoo_signal": """
name: zoo_signal
inputs: [{name: s, shape: [12, 3]}]
layers:
  - {type: Conv1D, filters: 4, kernel_size: 3, padding: same, name: conv}
  - {type: BatchNormalization}
  - {type: MaxPooling1D, pool_size: 3, strides: 2, padding: same}
  - {type: SeparableConv1D, filters: 4, kernel_size: 2}
  - {type: Conv1DTranspose, filters: 3, kernel_size: 3, strides: 2}
  - {type: UpSampling1D}
  - {type: Cropping1D, cropping: [2, 1]}
  - {type: ZeroPadding1D, padding: 1, name: padded}
  - {type: LSTM, units: 2, name: rnn, inputs: padded}
  - {type: Flatten, inputs: padded}
  - {type: Dense, units: 2, name: head}
  - {type: Concatenate, inputs: [rnn, head]}
""",
    "zoo_mobile": """
name: zoo_mobile
inputs: [{name: img, shape: [6, 6, 3]}]
layers:
  - {type: Rescaling, scale: 0.00784313725490196, offset: -1}
  - {type: Conv2D, filters: 4, kernel_size: 3, activation: hard_swish}
  - {name: dw, type: DepthwiseConv2D, kernel_size: 3, activation: gelu_tanh}
  - {type: GlobalAveragePooling2D, keepdims: true}
  - {type: Dense, units: 2, activation: relu}
  - {name: gate, type: Dense, units: 4, activation: hard_sigmoid}
  - {type: Multiply, inputs: [dw, gate]}
  - {type: GlobalAveragePooling2D}
  - {type: Dense, units: 2, activation: mish}
""",
}

# The breadth layers' variants the conformance cases leave out: channels_first where Keras
# needs workarounds (a bias along the wrong axis when the last spatial size equals the
# channel count; transposed convolutions TF's CPU kernels refuse), dilated transposed and
# unequal-stride depthwise convolutions, the attention layouts (PyTorch's native module with
# packed and separate projections, its custom one, grouped-query), stacked recurrent layers
# (num_layers), shared layers and tied Dense layers. Kept apart from ZOO, which the export
# tests also run.
BREADTH: dict[str, str] = {
    # Normalization along a spatial axis of channels-first images: the axis renumbered.
    "breadth_normalization_axes": """
name: breadth_normalization_axes
inputs: [{name: img, shape: [5, 6, 3]}]
layers:
  - {type: Conv2D, filters: 4, kernel_size: 1}
  - {type: Normalization, axis: 1, name: per_row}
  - {type: Normalization, axis: -2, invert: true, trainable: false, name: per_column}
  - {type: Normalization, mean: [0.5, -1, 2, 0], variance: [4, 0.25, 1, 2], name: given}
  - {type: Conv2D, filters: 2, kernel_size: 1}
""",
    "breadth_channels_first": """
name: breadth_channels_first
data_format: channels_first
inputs: [{name: x, shape: [3, 5, 4]}]
layers:
  - {type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, padding: same}
  - {type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2}
  - {type: SeparableConv2D, filters: 6, kernel_size: 3, padding: same, depth_multiplier: 2}
  - {type: GroupNormalization, groups: 3, axis: 1, epsilon: 0.01}
  - {type: PReLU, shared_axes: [2, 3]}
  - {type: Conv2DTranspose, filters: 2, kernel_size: 2, dilation_rate: 2, activation: tanh}
""",
    "breadth_volumes": """
name: breadth_volumes
inputs: [{name: v, shape: [2, 4, 4, 4]}, {name: s, shape: [3, 7]}, {name: img, shape: [7, 6, 2]}]
layers:
  - {name: conv3d_cf, type: Conv3D, filters: 3, kernel_size: [2, 3, 2], data_format: channels_first, inputs: v}
  - {name: up3d_cf, type: Conv3DTranspose, filters: 2, kernel_size: 2, strides: [1, 2, 2], padding: same, data_format: channels_first}
  - {name: up1d_cf, type: Conv1DTranspose, filters: 3, kernel_size: 3, strides: 2, data_format: channels_first, inputs: s}
  - {name: dw1d_cf, type: DepthwiseConv1D, kernel_size: 2, depth_multiplier: 3, strides: 2, padding: same, data_format: channels_first}
  - {name: sep1d_cf, type: SeparableConv1D, filters: 2, kernel_size: 3, dilation_rate: 2, use_bias: false, data_format: channels_first}
  - {name: up1d_dilated, type: Conv1DTranspose, filters: 2, kernel_size: 3, dilation_rate: 2, inputs: s}
  - {name: dw2d_strides, type: DepthwiseConv2D, kernel_size: 3, strides: [1, 2], padding: same, inputs: img}
  - {name: sep2d, type: SeparableConv2D, filters: 3, kernel_size: [3, 2], strides: 2, activation: relu}
  - {name: prelu, type: PReLU}
  - {name: rms, type: RMSNormalization, axis: [-2, -1], epsilon: 0.001}
outputs: [up3d_cf, sep1d_cf, up1d_dilated, rms]
""",
    "breadth_attention": """
name: breadth_attention
inputs: [{name: q, shape: [5, 8]}, {name: kv, shape: [7, 6]}, {name: k, shape: [7, 4]}]
layers:
  - {name: cross, type: MultiHeadAttention, num_heads: 2, key_dim: 4, inputs: [q, kv]}
  - {name: cross_nobias, type: MultiHeadAttention, num_heads: 4, key_dim: 2, use_bias: false, inputs: [cross, kv, k]}
  - {name: self_nobias, type: MultiHeadAttention, num_heads: 2, key_dim: 4, use_bias: false, causal: true}
  - {name: custom, type: MultiHeadAttention, num_heads: 3, key_dim: 2, value_dim: 3, inputs: [self_nobias, kv, k]}
  - {name: gqa, type: GroupQueryAttention, head_dim: 3, num_query_heads: 4, num_key_value_heads: 2, inputs: [custom, kv, k]}
  - {name: gqa_causal, type: GroupQueryAttention, head_dim: 2, num_query_heads: 2, num_key_value_heads: 1, use_bias: false, causal: true}
  - {name: gqa_rotary, type: GroupQueryAttention, head_dim: 4, num_query_heads: 4, num_key_value_heads: 2, use_bias: false, causal: true, rope_max_wavelength: 10000}
  - {name: nokeybias, type: MultiHeadAttention, num_heads: 2, key_dim: 4, key_bias: false, scale: 1.0, inputs: [gqa_rotary, kv]}
  - {name: outbias, type: MultiHeadAttention, num_heads: 2, key_dim: 3, use_bias: false, output_bias: true, causal: true}
  - {name: relbias, type: RelativePositionBias, num_heads: 2, num_buckets: 8, max_distance: 3, inputs: q}
  - {name: t5_self, type: MultiHeadAttention, num_heads: 2, key_dim: 4, use_bias: false, scale: 1.0, attention_bias: true, inputs: [q, relbias]}
  - {name: relbias_causal, type: RelativePositionBias, num_heads: 2, num_buckets: 6, max_distance: 4, bidirectional: false, inputs: q}
  - {name: t5_causal, type: MultiHeadAttention, num_heads: 2, key_dim: 4, use_bias: false, scale: 1.0, attention_bias: true, causal: true, inputs: [t5_self, relbias_causal]}
  - {name: pos, type: PositionEmbedding, sequence_length: 9, inputs: outbias}
  - {name: add, type: Add, inputs: [outbias, pos, t5_causal]}
  - {name: rms, type: RMSNormalization}
""",
    "breadth_stacked_rnn": """
name: breadth_stacked_rnn
inputs: [{name: x, shape: [null, 3]}]
layers:
  - {type: LSTM, units: 4, num_layers: 2, return_sequences: true}
  - {type: GRU, units: 3, num_layers: 3, return_sequences: true, go_backwards: true}
  - {type: GRU, units: 3, num_layers: 2, reset_after: false, return_sequences: true}
  - {type: SimpleRNN, units: 2, num_layers: 2, activation: relu, use_bias: false, return_sequences: true}
  - {type: LSTM, units: 2, num_layers: 2, go_backwards: true}
""",
    "breadth_shared_tied": """
name: breadth_shared_tied
inputs:
  - {name: a, shape: [6, 3]}
  - {name: b, shape: [6, 3]}
  - {name: tokens, shape: [7], dtype: int32}
  - {name: tokens_b, shape: [4], dtype: int32}
layers:
  - {name: conv, type: Conv1D, filters: 4, kernel_size: 3, padding: same, inputs: a}
  - {name: conv_b, share: conv, inputs: b}
  - {name: rnn, type: GRU, units: 3, num_layers: 2, inputs: conv}
  - {name: rnn_b, share: rnn, inputs: conv_b}
  - {name: rnn_again, share: rnn_b, inputs: conv}
  - {name: diff, type: Subtract, inputs: [rnn_b, rnn_again]}
  - {name: wte, type: Embedding, input_dim: 11, output_dim: 5, inputs: tokens}
  - {name: head, type: Dense, units: 11, tie: wte}
  - {name: wte_b, share: wte, inputs: tokens_b}
  - {name: head_b, share: head}
outputs: [rnn, diff, head, head_b]
""",
    "breadth_mini_gpt": """
name: breadth_mini_gpt
blocks:
  decoder:
    layers:
      - {name: ln_1, type: LayerNormalization, epsilon: 1e-5, inputs: x}
      - {name: attn, type: MultiHeadAttention, num_heads: 2, key_dim: 4, causal: true}
      - {name: attn_add, type: Add, inputs: [x, attn]}
      - {name: ln_2, type: LayerNormalization, epsilon: 1e-5}
      - {name: mlp_fc, type: Dense, units: 16, activation: gelu}
      - {name: mlp_proj, type: Dense, units: 8}
      - {name: mlp_add, type: Add, inputs: [attn_add, mlp_proj]}
inputs:
  - {name: tokens, shape: [6], dtype: int32}
layers:
  - {name: wte, type: Embedding, input_dim: 20, output_dim: 8}
  - {name: wpe, type: PositionEmbedding, sequence_length: 10}
  - {name: embed, type: Add, inputs: [wte, wpe]}
  - {block: decoder, name: h, repeat: 2}
  - {name: ln_f, type: LayerNormalization, epsilon: 1e-5}
  - {name: attn_again, share: h_1_attn}
  - {name: ln_f_again, share: ln_f}
  - {name: lm_head, type: Dense, units: 20, use_bias: false, tie: wte}
""",
}

# Zoo models small enough to port in every direction within the test budget. gpt2_small and
# bert_base take 20 s and 50 s just to build and run once in the three frameworks (minutes
# ported in every direction); breadth_mini_gpt stands in for them.
ZOO_MODELS = ("lenet5", "unet_small", "seq2seq_lstm", "mobilenet_v2")


def conformance_specs() -> dict[str, str]:
    """Every conformance case (``tests/end_to_end/test_conformance.py``), as the spec text it
    builds, keyed by its test id (``Conv2D-1``, ``Add``)."""
    from tests.end_to_end.test_conformance import CASES, MERGES, _merge_spec, _spec

    out = {
        f"{t}-{i}": _spec(t, shape, args)
        for t, rows in CASES.items()
        for i, (shape, args) in enumerate(rows)
    }
    return out | {t: _merge_spec(t) for t in MERGES}
