"""``import`` from ONNX, through the command line: real PyTorch models written by
``torch.onnx.export`` (both exporters) and specs exported by the translator import to specs
that count as the source counts and, holding the imported weights, compute the source's
outputs (onnxruntime on the file against our own ONNX and PyTorch builds of the spec);
``port --weights`` takes the source file itself; an operator no recogniser claims is listed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
from tests.conftest import ROOT, SPECS
from tests.imports import (
    NATIVE,
    ZOO_ROUND_TRIP,
    ZOO_TOO_LARGE,
    assert_same_weights,
    count_totals,
    evaluated,
    run_import,
    run_partial_import,
    spec_file,
    tf2onnx_file,
    weighted_layers,
)
from translator.cli import main
from translator.commands.port import random_canonical
from translator.ir.layout import natural_axes
from translator.ir.sample import sample_inputs
from translator.spec.loader import load
from translator.weights.canonical import from_canonical
from translator.weights.files import load_canonical

ONNX = backends.load("onnx")
TORCH = backends.load("torch")
import onnx  # noqa: E402  (after the backends, which quiet the frameworks)
import torch  # noqa: E402
from torch import nn  # noqa: E402

from backends.onnx import export as onnx_export  # noqa: E402
from backends.onnx.export import session  # noqa: E402

ATOL = RTOL = 1e-5
BATCH = 2  # the exports' batch: the torch models are traced with two examples


def _cnn() -> nn.Module:
    """Conv, ReLU, BatchNorm after the ReLU (so no exporter folds it), pools, Linear."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.BatchNorm2d(8),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),  # pads (1, 1): not "same", a ZeroPadding
        nn.Sigmoid(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    )


def _ceil_pools() -> nn.Module:
    """SqueezeNet's pools: a max and an average in ceil mode, each adding a last window
    clipped to the input (ONNX's ceil_mode=1, no pads)."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.AvgPool2d(3, 2, ceil_mode=True),
    )


class _Recurrent(nn.Module):
    """A batch-first recurrent layer returning its sequence, and a per-step Linear."""

    def __init__(self, cell: Callable[..., nn.Module], width: int = 6) -> None:
        super().__init__()
        self.rnn = cell(4, 6, batch_first=True)
        self.out = nn.Linear(width, 2)  # 12 after both directions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return self.out(y)


class _LastState(nn.Module):
    """A batch-first nn.RNN's final state, and a Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn, self.out = nn.RNN(4, 6, batch_first=True), nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(x)
        return self.out(h[0])


def _bidirectional_lstm(*args: int, **kwargs: bool) -> nn.Module:
    return nn.LSTM(*args, bidirectional=True, **kwargs)


def _bidirectional_rnn(*args: int, **kwargs: bool) -> nn.Module:
    return nn.RNN(*args, bidirectional=True, **kwargs)


def _relu_rnn(*args: int, **kwargs: bool) -> nn.Module:
    return nn.RNN(*args, nonlinearity="relu", bias=False, **kwargs)


class _Residual(nn.Module):
    """Two Linear branches added, a Tanh, LayerNorm: merges and normalization."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.norm = nn.Linear(6, 6), nn.Linear(6, 6), nn.LayerNorm(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.tanh(self.fc1(x) + self.fc2(x)))


def _activations() -> nn.Module:
    """Activations the exporters write as one operator, and as a chain (SiLU as x·sigmoid(x),
    Mish as x·tanh(softplus(x)) from the TorchScript exporter)."""
    return nn.Sequential(
        nn.Linear(4, 8),
        nn.GELU(),
        nn.Linear(8, 6),
        nn.SiLU(),
        nn.GELU(approximate="tanh"),
        nn.Hardswish(),
        nn.ELU(),
        nn.Mish(),
        nn.Softmax(dim=-1),
    )


# Case → (model factory, example input shape).
MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "cnn": (_cnn, (BATCH, 3, 16, 16)),
    "ceil_mode_pools": (_ceil_pools, (BATCH, 3, 17, 17)),
    "lstm": (lambda: _Recurrent(nn.LSTM), (BATCH, 7, 4)),
    "gru": (lambda: _Recurrent(nn.GRU), (BATCH, 7, 4)),
    "rnn": (lambda: _Recurrent(nn.RNN), (BATCH, 7, 4)),  # dynamo: written step by step
    "residual": (_Residual, (BATCH, 6)),
    "activations": (_activations, (BATCH, 4)),
    "bidirectional_lstm": (lambda: _Recurrent(_bidirectional_lstm, 12), (BATCH, 7, 4)),
    "bidirectional_rnn": (lambda: _Recurrent(_bidirectional_rnn, 12), (BATCH, 7, 4)),
    "relu_rnn": (lambda: _Recurrent(_relu_rnn), (BATCH, 7, 4)),
    "rnn_last_state": (_LastState, (BATCH, 7, 4)),
}


def _exported(case: str, dynamo: bool, out: Path) -> tuple[nn.Module, Path]:
    make, shape = MODELS[case]
    model = evaluated(make)
    path = out / f"{case}.onnx"
    with warnings.catch_warnings():  # the exporters' deprecation and tracer warnings
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(shape),), path, dynamo=dynamo, input_names=["x"])
    return model, path


def _natural(graph: Any, array: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray:
    axes = natural_axes(graph, shape)
    return array if axes is None else np.transpose(array, axes)


def _assert_reproduces(source: Path, spec: Path, weights: Path, spec_order: bool = False) -> None:
    """onnxruntime on the source file and our ONNX and PyTorch models of the imported spec,
    holding the imported weights, agree on the same input (images channels first in the
    file, unless it declares them in the spec's order, ``spec_order``: tf2onnx's)."""
    graph = load(str(spec))
    natural = (lambda _, array, __: array) if spec_order else _natural
    inputs = sample_inputs(graph, 0, batch=BATCH)
    run = session(onnx.load(str(source)))
    names = [i.name for i in run.get_inputs()]
    feeds = [natural(graph, inputs[n], graph.node(n).output_shape) for n in graph.inputs]
    expected = run.run(None, dict(zip(names, feeds, strict=True)))
    canonical = load_canonical(graph, weights)
    for backend in (ONNX, TORCH):
        built = backend.set_weights(
            backend.build(graph), from_canonical(graph, backend.NAME, canonical)
        )
        got = backend.run(built, inputs)
        outputs = [graph.node(n).output_shape for n in graph.outputs]
        for ours, theirs, shape in zip(got, expected, outputs, strict=True):
            mine = natural(graph, np.asarray(ours), shape)
            np.testing.assert_allclose(mine, theirs, atol=ATOL, rtol=RTOL)


# The dynamo exporter writes nn.RNN step by step (Slice, MatMul, Tanh per time step), not
# as one RNN operator: read back as one SimpleRNN, or Bidirectional, by
# backends.onnx.unrolled_reading.
CASES = [pytest.param(case, dynamo) for case in sorted(MODELS) for dynamo in (False, True)]


@pytest.mark.parametrize(("case", "dynamo"), CASES)
def test_a_torch_export_imports(
    case: str, dynamo: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, source = _exported(case, dynamo, tmp_path)
    spec, weights = run_import(source, tmp_path, capsys)
    (totals,) = count_totals(capsys, spec)
    assert totals["torch"]["total"] == sum(p.numel() for p in model.parameters())
    _assert_reproduces(source, spec, weights)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_port_takes_the_source_file_as_weights(
    dynamo: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, source = _exported("cnn", dynamo, tmp_path)
    spec, _ = run_import(source, tmp_path, capsys)
    args = ["port", str(spec), "--weights", str(source), "--from", "onnx", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


# Specs under specs/ whose model.onnx does not import back yet, each with what stops it
# (strict: a fixed gap turns its case red). A TimeDistributed Dense comes back as a Dense on
# the last axis, the same function and counts; a Dropout, which the export leaves out, not at all.
ROUND_TRIP_GAPS: dict[str, str] = {}


def _round_trip(path: Path, marks: Any = ()) -> Any:
    gap = ROUND_TRIP_GAPS.get(path.stem)
    marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else marks
    return pytest.param(path, id=path.stem, marks=marks)


# Every spec, the native-export fixtures, and the zoo's smaller models (tests/imports.py says
# why not the others).
ZOO = ROOT / "specs" / "zoo"
ROUND_TRIP_CASES = [
    *(_round_trip(path) for path in [*SPECS, *NATIVE]),
    *(_round_trip(ZOO / f"{name}.yaml") for name in ZOO_ROUND_TRIP),
    *(
        _round_trip(ZOO / f"{name}.yaml", pytest.mark.skip(reason=why))
        for name, why in ZOO_TOO_LARGE.items()
    ),
]


@pytest.mark.parametrize("original", ROUND_TRIP_CASES)
def test_the_translators_export_imports_back(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph, out = load(str(original)), tmp_path / "export"
    out.mkdir()
    canonical = random_canonical(graph, 3)
    onnx_export.export(graph, from_canonical(graph, "onnx", canonical), out)
    spec, weights = run_import(out / onnx_export.FILE, tmp_path, capsys)
    assert count_totals(capsys, spec) == count_totals(capsys, original)
    assert weighted_layers(capsys, spec) == weighted_layers(capsys, original)
    assert_same_weights(canonical, load_canonical(load(str(spec)), weights))
    _assert_reproduces(out / onnx_export.FILE, spec, weights)


# Keras models converted by tf2onnx (images declared channels last, NHWC; a one-channel image
# reshaped, not transposed, to NCHW; Conv1D and 1-D pools as 2-D ones between Unsqueeze and
# Squeeze; Embedding's negative ids wrapped; BatchNormalization as Mul and Add, LayerNormalization
# written out; LSTM operators from a zero state, GRU and SimpleRNN cells as Loops, Bidirectional
# where two runs merge) import as the spec they were built from. The other specs under specs/:
# frozen_backbone and resnet_block lose BatchNorms folded into convolutions (tested below);
# bigru_tagger, seed_lstm and video_classifier hold a TimeDistributed, which TensorFlow's pfor
# writes as a Loop stacking as many steps as the batch has examples (the file is wrong, and
# fails on a batch larger than the steps: the import refuses it and says so,
# test_import_tf2onnx_forms.py), video_classifier also a Conv left channels last; in
# grouped_dilated_conv tf2onnx leaves a TensorFlow function call no ONNX reader can run.
TF2ONNX = [
    "autoencoder",
    "bidirectional_merges",
    "channels_first_cnn",
    "gru_variants",
    "mnist_cnn",
    "sequence_reshaper",
    "signal_cnn",
    "simple_rnn_classifier",
    "stacked_lstm_forecaster",
    "text_cnn",
    "token_mixer",
    "two_input_model",
]


def _data_format(spec: Path) -> list[str]:
    return [s for s in spec.read_text(encoding="utf-8").splitlines() if s.startswith("data_")]


@pytest.mark.parametrize("name", TF2ONNX)
def test_a_tf2onnx_file_imports(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _assert_tf2onnx_imports(ROOT / "specs" / f"{name}.yaml", tmp_path, capsys)


# Normalizations tf2onnx writes out operator by operator: a batch norm as a Mul and an Add
# of constants, on features and on a sequence's channels; a layer norm's moments, without
# scale or offset, and over two axes.
TF2ONNX_NORMALIZATIONS = {
    "features": "inputs: [{name: x, shape: [6]}]\nlayers:\n  - {type: Dense, units: 5}\n"
    "  - {type: BatchNormalization}\n  - {type: LayerNormalization, center: false}",
    "bare_layer_norm": "inputs: [{name: x, shape: [6]}]\nlayers:\n  - {type: Dense, units: 5}\n"
    "  - {type: LayerNormalization, center: false, scale: false, epsilon: 1e-5}",
    "sequence": "inputs: [{name: x, shape: [4, 6]}]\nlayers:\n"
    "  - {type: LayerNormalization, axis: [1, 2]}\n  - {type: BatchNormalization}\n"
    "  - {type: LayerNormalization, scale: false}",
}


@pytest.mark.parametrize("case", sorted(TF2ONNX_NORMALIZATIONS))
def test_a_tf2onnx_normalization_imports(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = spec_file(tmp_path, case, TF2ONNX_NORMALIZATIONS[case])
    _assert_tf2onnx_imports(original, tmp_path, capsys)


def _assert_tf2onnx_imports(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The spec at ``original`` through tf2onnx imports whole, as many parameters, in the
    same layout, reproducing onnxruntime on the file."""
    source = tf2onnx_file(load(str(original)), tmp_path / f"{original.stem}.onnx")
    spec, weights = run_import(source, tmp_path, capsys)
    assert count_totals(capsys, spec) == count_totals(capsys, original)
    # Channels last, as Keras's, unless the spec was written channels first.
    assert _data_format(spec) == _data_format(original)
    _assert_reproduces(source, spec, weights, spec_order=True)


# tf2onnx folds a BatchNormalization right after a convolution into it (the kernel scaled,
# ``.../merged_input``; the offset its bias, ``.../batchnorm/sub``): nothing in the file
# says there was one, so it imports as a convolution with a bias, the same function with
# 3 parameters fewer per channel (gamma, beta and the two statistics, for one bias). The
# totals differ by that (Keras's and ONNX's; PyTorch's keep the statistics as buffers), and
# frozen_backbone's block also loses its ``trainable: false``, which ONNX does not record.
TF2ONNX_FOLDED = {"frozen_backbone": 3 * 8, "resnet_block": 2 * 3 * 16}


@pytest.mark.parametrize("name", sorted(TF2ONNX_FOLDED))
def test_a_tf2onnx_file_with_a_folded_batch_norm_imports(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = ROOT / "specs" / f"{name}.yaml"
    source = tf2onnx_file(load(str(original)), tmp_path / f"{name}.onnx")
    spec, weights = run_import(source, tmp_path, capsys)
    imported, given = count_totals(capsys, spec, original)
    for framework in ("keras", "onnx"):
        assert given[framework]["total"] - imported[framework]["total"] == TF2ONNX_FOLDED[name]
    _assert_reproduces(source, spec, weights, spec_order=True)


# Normalizations the translator's ONNX writes as Sub and Div by its statistics: over the
# features of a sequence, and over two axes of an image (the statistics reshaped to meet it).
NORMALIZATIONS = {
    "sequence_features": "inputs: [{name: x, shape: [5, 3]}]\nlayers:\n  - {type: Normalization}",
    "image_two_axes": (
        "inputs: [{name: x, shape: [4, 5, 3]}]\nlayers:\n"
        "  - {type: Normalization, axis: [1, 3]}\n  - {type: Conv2D, filters: 2, kernel_size: 1}"
    ),
}


@pytest.mark.parametrize("case", sorted(NORMALIZATIONS))
def test_a_normalization_imports_back(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = spec_file(tmp_path, case, NORMALIZATIONS[case])
    test_the_translators_export_imports_back(original, tmp_path, capsys)


# An image Flatten that ONNX computes in the spec's order (a Transpose to channels last
# first): here because a Dropout with a noise_shape between it and the Dense keeps it there.
SPEC_ORDER_FLATTEN = """
name: spec_order_flatten
inputs: [{name: image, shape: [6, 6, 2]}]
layers:
  - {name: conv, type: Conv2D, filters: 3, kernel_size: 3}
  - {name: flat, type: Flatten}
  - {name: noise, type: Dropout, rate: 0.5, noise_shape: [null, 1]}
  - {name: dense, type: Dense, units: 4}
"""


def test_a_flatten_in_the_spec_order_imports_with_its_rows_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = tmp_path / "original.yaml"
    original.write_text(SPEC_ORDER_FLATTEN, encoding="utf-8")
    graph, out = load(str(original)), tmp_path / "export"
    out.mkdir()
    onnx_export.export(graph, from_canonical(graph, "onnx", random_canonical(graph, 3)), out)
    assert "Transpose" in {n.op_type for n in onnx.load(out / onnx_export.FILE).graph.node}
    spec, weights = run_import(out / onnx_export.FILE, tmp_path, capsys)
    _assert_reproduces(out / onnx_export.FILE, spec, weights)


class _Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * 2.0


def test_an_unrecognised_operator_is_listed_and_a_partial_spec_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "scaled.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Scaled().eval(), (torch.randn(2, 4),), source, dynamo=False)
    spec, report, err = run_partial_import(source, tmp_path, capsys)
    assert err[0] == (
        f"{source}: partly imported: 1 layer(s) no importer claims (a partial spec and a"
        " report written)"
    )
    assert err[1].split()[:3] == ["/Mul", "Mul", "0"]
    assert "one operand is a constant, which no spec merge takes" in err[1]
    # The Mul made the output: the partial spec ends with the Gemm before it, which counts
    # and carries the file's weights.
    text = spec.read_text(encoding="utf-8")
    assert text.endswith(
        "  - {name: fc, type: Dense, units: 3}\n  # TODO: /Mul (Mul, 0 parameters) not imported:"
        " one operand is a constant, which no spec merge takes\n"
    )
    assert "| /Mul | Mul | 0 | one operand is a constant" in report.read_text(encoding="utf-8")
    (totals,) = count_totals(capsys, spec)
    assert totals["onnx"]["total"] == 4 * 3 + 3
    graph = load(str(spec))
    weights = load_canonical(graph, tmp_path / "partial.npz")
    expected = onnx.numpy_helper.to_array(
        next(t for t in onnx.load(source).graph.initializer if t.name == "fc.bias")
    )
    np.testing.assert_array_equal(weights["fc/bias"], expected)
    # The file itself ports the partial spec: its layers are found in it as imported.
    args = ["port", str(spec), "--weights", str(source), "--from", "onnx", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_a_damaged_file_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "broken.onnx"
    source.write_bytes(b"\x08\x07garbage")
    assert main(["import", str(source), "--out", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {source}: not a readable ONNX model (")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("../outside.data", "keeps its data at '../outside.data'; accepted: a file in the model's"),
        ("missing.data", "keeps its data in 'missing.data', not found"),
    ],
)
def test_external_data_is_checked_before_it_is_read(
    location: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, exported = _exported("lstm", True, tmp_path)  # the dynamo exporter keeps data outside
    model = onnx.load(str(exported), load_external_data=False)
    external = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external
    for entry in external[0].external_data:
        if entry.key == "location":
            entry.value = location
    source = tmp_path / "moved.onnx"
    onnx.save(model, str(source))
    assert main(["import", str(source), "--out", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {source}: tensor '{external[0].name}' {message}")
    assert err.count("\n") == 1


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_the_nodes_after_an_unclaimed_one_read_a_stand_in(
    dynamo: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unclaimed node's one output becomes a stand-in input that the nodes after it read;
    with the imported weights and the stand-in fed what the node computes, the partial spec
    gives the model's outputs in our ONNX build."""
    from tests.end_to_end.test_import_torch import _OddInTheMiddle

    torch.manual_seed(0)
    model, x = _OddInTheMiddle().eval(), torch.randn(BATCH, 5, 8)
    source = tmp_path / "middle.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(source), input_names=["x"], dynamo=dynamo)
    spec, _, err = run_partial_import(source, tmp_path, capsys)
    assert "1 layer(s) no importer claims" in err[0]
    graph = load(str(spec))
    assert len(graph.inputs) == 2 and len(graph.outputs) == 2
    weights = load_canonical(graph, tmp_path / "partial.npz")
    built = ONNX.set_weights(ONNX.build(graph), from_canonical(graph, "onnx", weights))
    with torch.no_grad():
        first = model.first(x)
        feed = dict(zip(graph.inputs, [x.numpy(), model.odd(first).numpy()], strict=True))
        got, got_first = ONNX.run(built, feed)
        np.testing.assert_allclose(got, model(x).numpy(), atol=ATOL, rtol=RTOL)
        np.testing.assert_allclose(got_first, first.numpy(), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("name", ["channels_first_cnn", "mnist_cnn", "signal_cnn", "token_mixer"])
def test_tf2onnx_layers_are_named_as_keras_named_them(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TensorFlow numbers every scope the traced ``tf.function`` enters again
    (``model_1/dense_1/MatMul``); the import takes the numbers off: the layers holding
    weights have the Keras layers' names. (Recurrent operators tf2onnx names by their own
    ``LSTM__12`` are named by their type.)"""
    original = ROOT / "specs" / f"{name}.yaml"
    source = tf2onnx_file(load(str(original)), tmp_path / f"{name}.onnx")
    spec, _ = run_import(source, tmp_path, capsys)
    assert sorted(weighted_layers(capsys, spec)) == sorted(weighted_layers(capsys, original))
