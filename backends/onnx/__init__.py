"""The ONNX backend: builds an ``onnx.ModelProto`` from standard operators, runs it in
onnxruntime, and measures the weights its initializers hold.

The family modules (one per ``translator.ops.FAMILIES`` entry) are imported so that their
``@BUILDERS.register`` decorators run (and ``attention_layers`` and ``composite_reading``,
so that their subgraph patterns register).
"""

from __future__ import annotations

import importlib

from backends.base import load_families
from backends.onnx.model import BUILDERS, NAME, build, measure, run
from backends.onnx.weights import get_weights, layer_outputs, load_weights_file, set_weights

load_families("backends.onnx")  # one module per family of translator.ops, for registrations
# Subgraph patterns of Hugging Face models (attention, position embeddings), beside the
# attention family (budget: one module of about 300 lines).
importlib.import_module("backends.onnx.attention_layers")
importlib.import_module("backends.onnx.composite_reading")  # gelu_tanh, RMS norm written out
importlib.import_module("backends.onnx.normalization_reading")  # tf2onnx's batch, layer norms
importlib.import_module("backends.onnx.tensorflow_reading")  # Keras layers as tf2onnx writes them
importlib.import_module("backends.onnx.relu_reading")  # Keras's ReLU written out
importlib.import_module("backends.onnx.resampling_reading")  # croppings, 1-D upsampling
importlib.import_module("backends.onnx.step_reading")  # last steps, ReverseSequence
importlib.import_module("backends.onnx.recurrent_reading")  # LSTM, GRU, RNN operators read back
importlib.import_module("backends.onnx.loop_reading")  # Keras cells as tf2onnx's while loops
importlib.import_module("backends.onnx.bidirectional_reading")  # two runs merged: Bidirectional
importlib.import_module("backends.onnx.unrolled_reading")  # nn.RNN written out step by step

__all__ = [
    "BUILDERS",
    "NAME",
    "build",
    "get_weights",
    "layer_outputs",
    "load_weights_file",
    "measure",
    "run",
    "set_weights",
]
