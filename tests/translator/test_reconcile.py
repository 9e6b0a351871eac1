"""The reconciliation catalogue without frameworks: when each note fires, and with which numbers."""

from __future__ import annotations

import pytest

from translator.reconcile import explain
from translator.spec.loader import load_text

CONV = "{type: Conv2D, name: conv, filters: 8, kernel_size: 3%s}"
BN = "{type: BatchNormalization%s}"


def _conv_notes(layers: list[str], shape: str = "[10, 10, 4]", data_format: str = "") -> list:
    text = f"name: m\n{data_format}inputs: [{{name: x, shape: {shape}}}]\nlayers:\n" + "".join(
        f"  - {layer}\n" for layer in layers
    )
    conv = load_text(text).node("conv")
    return [e for e in explain(conv) if e.rule == "conv-bias-before-batchnorm"]


@pytest.mark.parametrize(
    ("layers", "data_format", "fires"),
    [
        ([CONV % "", BN % ""], "", True),
        ([CONV % ", activation: linear", BN % ""], "", True),
        ([CONV % ", activation: relu", BN % ""], "", False),
        ([CONV % "", "{type: Activation, activation: relu}", BN % ""], "", False),
        ([CONV % "", "{type: ReLU}", BN % ""], "", False),
        ([CONV % "", "{type: Dropout, rate: 0.1}", BN % ""], "", False),
        ([CONV % ", use_bias: false", BN % ""], "", False),
        # Normalizing over a spatial axis keeps the per-filter bias.
        ([CONV % "", BN % ", axis: 1"], "", False),
        ([CONV % "", BN % ", axis: 1"], "data_format: channels_first\n", True),
        ([CONV % "", BN % ""], "data_format: channels_first\n", False),
        # The conv's output also reaches a layer that is not a BatchNorm: the bias counts there.
        (
            [CONV % "", BN % ", name: bn", "{type: Add, inputs: [bn, conv]}"],
            "",
            False,
        ),
        ([CONV % "", "{type: Flatten}"], "", False),
    ],
    ids=[
        "conv-bn",
        "linear-conv-bn",
        "relu-conv-bn",
        "conv-activation-bn",
        "conv-relu-layer-bn",
        "conv-dropout-bn",
        "no-bias",
        "bn-over-spatial-axis",
        "channels-first-bn-axis-1",
        "channels-first-bn-last-axis",
        "conv-bn-and-residual",
        "no-bn",
    ],
)
def test_conv_bias_note_fires_only_when_batchnorm_cancels_the_bias(
    layers: list[str], data_format: str, fires: bool
) -> None:
    assert bool(_conv_notes(layers, data_format=data_format)) is fires


def test_conv_bias_note_text_has_its_numbers() -> None:
    (note,) = _conv_notes([CONV % "", BN % ""])
    assert note.note and note.delta == {}
    assert note.text.startswith("This convolution's 8 biases feed, with no activation in between")
    assert "26,560 biases apart" in note.text


@pytest.mark.parametrize(
    ("shape", "args", "delta", "kept"),
    [
        ("[6, 6, 3]", "", {"torch": -7, "onnx": -1}, "2 × 3 = 6"),
        ("[4, 5, 3]", ", axis: [1, 2]", {"torch": -41, "onnx": -1}, "2 × 20 = 40"),
        ("[4, 5, 3]", ", axis: 1, trainable: false", {"torch": -9, "onnx": -1}, "2 × 4 = 8"),
    ],
)
def test_normalization_rule_accounts_for_the_count_and_the_buffers(
    shape: str, args: str, delta: dict[str, int], kept: str
) -> None:
    """Keras: mean, variance and count (non-trainable); PyTorch: buffers only; ONNX: no count."""
    text = f"name: m\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n  - {{type: Normalization{args}}}\n"
    node = load_text(text).layers[0]
    (rule,) = explain(node)
    assert rule.rule == "normalization-stats-and-count"
    assert rule.delta == delta
    assert kept in rule.text
    keras, torch, onnx = (node.counts(fw) for fw in ("keras", "torch", "onnx"))
    assert torch["total"] - keras["total"] == delta["torch"]
    assert onnx["total"] - keras["total"] == delta["onnx"]
    assert keras["trainable"] == 0 and torch["buffers"] == keras["total"] - 1
