"""Inline specs for the port tests: every weighted layer variant the specs under ``specs/``
leave out (multi-axis LayerNormalization, BatchNormalization without scale or offset, the
reset-before GRU, recurrent layers PyTorch runs in its custom module, layers without bias,
grouped causal Conv1D), so that every weight map entry is exercised."""

from __future__ import annotations

ZOO: dict[str, str] = {
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
}
