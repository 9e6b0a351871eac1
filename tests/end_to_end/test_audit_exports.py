"""``audit`` on real exports made here: PyTorch models of the specs through both
``torch.onnx.export`` paths (TorchScript with constant folding on and off, and dynamo), a
``torch.export`` ``.pt2``, Keras models through tf2onnx (when it installs), and the
translator's own files, which must audit clean. Each case names the rules it expects with
their summed deltas, measured on the real file; every case must end with nothing unexplained.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
from tests.conftest import ROOT
from tests.imports import tf2onnx_file
from translator.cli import main
from translator.commands.audit import AuditReport, audit_file
from translator.commands.port import random_canonical
from translator.ir import Graph
from translator.ir.sample import sample_inputs
from translator.spec.loader import load
from translator.weights.canonical import from_canonical

TINY_GPT = ROOT / "tests" / "fixtures" / "audit" / "gpt2_tiny.yaml"


def torch_model(graph: Graph, initialized: bool) -> Any:
    """The spec's PyTorch model in eval mode: as initialized (LayerNorm ones and zero biases,
    which the exporters deduplicate) or with seeded random weights (every tensor distinct)."""
    backends.load("torch")
    from backends.torch.model import build
    from backends.torch.weights import set_weights

    built = build(graph)
    if not initialized:
        set_weights(built, from_canonical(graph, "torch", random_canonical(graph, 0)))
    return built.model.eval()


def natural_args(graph: Graph) -> tuple[Any, ...]:
    """The seeded sample inputs as the PyTorch model takes them (images channels first)."""
    import torch

    from translator.ir.layout import tensor_layouts, to_layout

    inputs = sample_inputs(graph)
    arrays = to_layout([inputs[n] for n in graph.inputs], tensor_layouts(graph).inputs, True)
    return tuple(torch.from_numpy(np.array(a)) for a in arrays)


def torch_onnx(graph: Graph, path: Path, dynamo: bool, fold: bool, initialized: bool) -> Path:
    import torch

    model = torch_model(graph, initialized)
    args = natural_args(graph)
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation, and its tracer's
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), dynamo=dynamo, do_constant_folding=fold)
    return path


def deltas(report: AuditReport) -> dict[str, int]:
    """Rule id → its summed delta over every layer."""
    out: dict[str, int] = {}
    for row in report.rows:
        for f in row.findings:
            out[f.rule] = out.get(f.rule, 0) + f.delta
    return out


@dataclass(frozen=True)
class Case:
    """A spec through one ``torch.onnx.export`` path, and the rules (summed deltas) its file
    must show; helper-constants is not pinned (its count is the exporter's business)."""

    id: str
    spec: Path
    dynamo: bool
    fold: bool
    initialized: bool
    expected: dict[str, int] = field(default_factory=dict)
    absent: tuple[str, ...] = ()


CASES = [
    Case(
        "gpt2-torchscript-folded",
        TINY_GPT,
        dynamo=False,
        fold=True,
        initialized=True,
        expected={
            "tied-weights-duplicated": 100 * 16,
            "position-table-baked": -32 * 16 + 8 * 16,
            "duplicate-initializer-deduplicated": -(16 + 4 * 32),
        },
    ),
    Case(
        "gpt2-torchscript-unfolded",
        TINY_GPT,
        dynamo=False,
        fold=False,
        initialized=True,
        expected={"duplicate-initializer-deduplicated": -(16 + 4 * 32)},
        absent=("tied-weights-duplicated", "position-table-baked"),
    ),
    Case(
        "gpt2-dynamo",
        TINY_GPT,
        dynamo=True,
        fold=True,
        initialized=False,
        expected={
            "tied-weights-duplicated": 100 * 16,
            "position-table-baked": -32 * 16 + 2 * 8 * 16,  # broadcast to the batch of 2
            "baked-causal-mask": 8 * 8,  # one mask, read by both attention layers
        },
        absent=("duplicate-initializer-deduplicated", "zero-bias-removed"),
    ),
    Case(
        "gpt2-dynamo-initialized",
        TINY_GPT,
        dynamo=True,
        fold=True,
        initialized=True,
        expected={
            "tied-weights-duplicated": 100 * 16,
            "zero-bias-removed": -2 * 16,  # each attention's output bias
            "duplicate-initializer-deduplicated": -(4 * 32 + 48),
        },
    ),
    Case(
        "lstm-torchscript",
        ROOT / "specs" / "seed_lstm.yaml",
        dynamo=False,
        fold=True,
        initialized=False,
        expected={"baked-initial-state": 1 * 1 * 2 * 10},
    ),
    Case(
        "lstm-dynamo",
        ROOT / "specs" / "seed_lstm.yaml",
        dynamo=True,
        fold=True,
        initialized=False,
        expected={"baked-initial-state": 1 * 1 * 2 * 10},
    ),
    Case(
        "bilstm-torchscript",
        ROOT / "specs" / "bidirectional_merges.yaml",
        dynamo=False,
        fold=True,
        initialized=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_torch_onnx_export_is_explained(case: Case, tmp_path: Path) -> None:
    graph = load(case.spec)
    path = torch_onnx(graph, tmp_path / "m.onnx", case.dynamo, case.fold, case.initialized)
    report = audit_file(graph, str(path))
    found = deltas(report)
    assert report.ok, [(r.name, r.missing, r.extra) for r in report.rows if r.unexplained]
    assert {k: found.get(k) for k in case.expected} == case.expected
    assert not set(case.absent) & set(found)


def test_gpt2_small_through_torchscript_names_the_tied_copy(tmp_path: Path, capsys: Any) -> None:
    graph = load(ROOT / "specs" / "zoo" / "gpt2_small.yaml")
    path = torch_onnx(graph, tmp_path / "gpt2.onnx", dynamo=False, fold=True, initialized=True)
    code = main(["audit", str(ROOT / "specs" / "zoo" / "gpt2_small.yaml"), str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[tied-weights-duplicated] lm_head +38,597,376:" in out
    assert "50,257 × 768" in out
    assert "do_constant_folding=False" in out  # how to avoid it


def test_resnet_block_folding_off_keeps_every_batchnorm(tmp_path: Path) -> None:
    graph = load(ROOT / "specs" / "resnet_block.yaml")
    path = torch_onnx(graph, tmp_path / "m.onnx", dynamo=False, fold=False, initialized=False)
    report = audit_file(graph, str(path))
    assert report.ok
    assert deltas(report).get("unused-buffer-dropped") == -3  # num_batches_tracked × 3 BNs
    assert "batchnorm-folded-into-conv" not in deltas(report)


@pytest.mark.parametrize("spec", ["resnet_block.yaml", "zoo/resnet50.yaml"])
def test_torchscript_folds_batchnorm_into_conv(spec: str, tmp_path: Path) -> None:
    """Every BatchNorm after a convolution is folded, named down to the parameter: its 4C
    tensors gone, and a bias added to each convolution that had none."""
    from translator.exporter_rules import is_batchnorm, is_conv

    graph = load(ROOT / "specs" / spec)
    path = torch_onnx(graph, tmp_path / "m.onnx", dynamo=False, fold=True, initialized=False)
    report = audit_file(graph, str(path))
    fold = "batchnorm-folded-into-conv"
    folded = {r.name for r in report.rows if any(f.rule == fold for f in r.findings)}
    after_conv = [n for n in graph.layers if is_batchnorm(n) and is_conv(graph.node(n.inputs[0]))]
    biased = {graph.node(n.inputs[0]).name for n in after_conv}
    biased = {c for c in biased if not graph.node(c).args["use_bias"]}
    assert report.ok
    assert after_conv
    assert {n.name for n in after_conv} | biased <= folded


def test_pt2_archive_audits_clean(tmp_path: Path) -> None:
    import torch

    graph = load(ROOT / "specs" / "resnet_block.yaml")
    model = torch_model(graph, initialized=False)
    args = natural_args(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(model, args), str(tmp_path / "m.pt2"))
    report = audit_file(graph, str(tmp_path / "m.pt2"))
    assert report.ok and not deltas(report)
    assert report.held == graph.counts("torch")["total"] + graph.counts("torch")["buffers"]


OWN_SPECS = ["mnist_cnn", "seed_lstm", "resnet_block", "bigru_tagger"]


@pytest.mark.parametrize("name", OWN_SPECS)
def test_own_exports_audit_clean(name: str, tmp_path: Path) -> None:
    from translator.commands.export import write_files

    graph = load(ROOT / "specs" / f"{name}.yaml")
    write_files(graph, tmp_path, random_canonical(graph, 0))
    for file in ("model.onnx", "model.pt", "model.keras"):
        report = audit_file(graph, str(tmp_path / file))
        assert report.ok, file
        assert set(deltas(report)) <= {"helper-constants"}, (file, deltas(report))
        assert sum(r.held and 1 for r in report.rows if r.node is None) == 0  # all attributed


def test_legacy_h5_model_audits_clean(tmp_path: Path) -> None:
    import keras

    from translator.commands.export import write_files

    graph = load(ROOT / "specs" / "bigru_tagger.yaml")
    write_files(graph, tmp_path, random_canonical(graph, 0))
    model = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    with warnings.catch_warnings():  # Keras calls HDF5 legacy, and says so
        warnings.simplefilter("ignore")
        model.save(tmp_path / "model.h5")
    report = audit_file(graph, str(tmp_path / "model.h5"))
    assert report.ok and not deltas(report)
    assert report.inventory.framework == "keras"


# tf2onnx is optional: `pip install tf2onnx` (1.17 converts Keras 3 models through a
# tf.function; its from_keras does not read Keras 3's functional models).
TF2ONNX_CASES = [
    ("seed_lstm", {"zero-recurrent-bias": 4 * 10}),
    (
        "resnet_block",
        {"batchnorm-folded-into-conv": -48 - 48, "batchnorm-collapsed-to-scale-offset": -64},
    ),
    ("gru_variants", {"recurrent-loop": 0}),
    ("bigru_tagger", {"recurrent-loop": 0}),
]


@pytest.mark.parametrize(("name", "expected"), TF2ONNX_CASES, ids=[c[0] for c in TF2ONNX_CASES])
def test_tf2onnx_export_is_explained(name: str, expected: dict[str, int], tmp_path: Path) -> None:
    graph = load(ROOT / "specs" / f"{name}.yaml")
    report = audit_file(graph, str(tf2onnx_file(graph, tmp_path / "m.onnx")))
    assert report.inventory.framework == "keras"
    assert report.ok, [(r.name, r.missing, r.extra) for r in report.rows if r.unexplained]
    found = deltas(report)
    assert {k: found.get(k) for k in expected} == expected


CONV_BN_SPEC = """
name: conv_bn
data_format: channels_first
inputs: [{name: x, shape: [4, 10, 10]}]
layers:
  - {name: conv_a, type: Conv2D, filters: 8, kernel_size: 3, use_bias: false}
  - {name: bn_a, type: BatchNormalization}
  - {name: relu, type: ReLU}
  - {name: conv_b, type: Conv2D, filters: 6, kernel_size: 3}
  - {name: bn_b, type: BatchNormalization}
"""


def native_conv_bn(randomized: bool) -> Any:
    """CONV_BN_SPEC written by hand the way torchvision writes it (native Conv2d and
    BatchNorm2d, attributes named as the spec's layers), as the torch backend will build it;
    as initialized, or with seeded random BatchNorm parameters and statistics."""
    import torch
    from torch import nn

    class ConvBn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv_a = nn.Conv2d(4, 8, 3, bias=False)
            self.bn_a = nn.BatchNorm2d(8, eps=1e-3)
            self.relu = nn.ReLU()
            self.conv_b = nn.Conv2d(8, 6, 3)
            self.bn_b = nn.BatchNorm2d(6, eps=1e-3)

        def forward(self, x: Any) -> Any:
            return self.bn_b(self.conv_b(self.relu(self.bn_a(self.conv_a(x)))))

    model = ConvBn().eval()
    generator = torch.Generator().manual_seed(0)
    for bn in (model.bn_a, model.bn_b) if randomized else ():
        for tensor in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
            tensor.data = torch.rand(tensor.shape, generator=generator) + 0.5
    return model


FOLD = "batchnorm-folded-into-conv"
DEDUP = "duplicate-initializer-deduplicated"
# (exporter, flags, randomized) → each layer's rules and deltas. The BatchNorm's counter is
# always dropped; conv_a had no bias (+8 when folding adds one); conv_b's absorbs the shift.
FOLDS = [
    (
        "torchscript-folded",
        {"dynamo": False, "do_constant_folding": True},
        False,
        {"conv_a": {FOLD: 8}, "bn_a": {FOLD: -32}, "conv_b": {}, "bn_b": {FOLD: -24}},
    ),
    (
        "dynamo-optimized",
        {"dynamo": True},
        True,
        {"conv_a": {FOLD: 8}, "bn_a": {FOLD: -32}, "conv_b": {}, "bn_b": {FOLD: -24}},
    ),
    (
        "dynamo-as-initialized",  # the optimizer adds no bias of zeros
        {"dynamo": True},
        False,
        {"conv_a": {}, "bn_a": {FOLD: -32}, "conv_b": {}, "bn_b": {FOLD: -24}},
    ),
    (
        "torchscript-unfolded",  # kept; as initialized the mean and variance are deduplicated
        {"dynamo": False, "do_constant_folding": False},
        False,
        {"conv_a": {}, "bn_a": {DEDUP: -16}, "conv_b": {}, "bn_b": {DEDUP: -12}},
    ),
    (
        "dynamo-not-optimized",
        {"dynamo": True, "optimize": False},
        True,
        {"conv_a": {}, "bn_a": {}, "conv_b": {}, "bn_b": {}},
    ),
]


@pytest.mark.parametrize(
    ("flags", "randomized", "expected"), [f[1:] for f in FOLDS], ids=[f[0] for f in FOLDS]
)
def test_batchnorm_folded_into_conv_named_to_the_parameter(
    flags: dict[str, bool], randomized: bool, expected: dict[str, dict[str, int]], tmp_path: Path
) -> None:
    import torch

    from translator.spec.loader import load_text

    graph = load_text(CONV_BN_SPEC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = native_conv_bn(randomized)
        torch.onnx.export(model, (torch.zeros(2, 4, 10, 10),), str(tmp_path / "m.onnx"), **flags)
    report = audit_file(graph, str(tmp_path / "m.onnx"))
    assert report.ok
    found = {
        r.name: {f.rule: f.delta for f in r.findings if f.rule != "helper-constants"}
        for r in report.rows
    }
    dropped = {"unused-buffer-dropped": -1}
    assert found == {
        k: {**v, **(dropped if k.startswith("bn") else {})} for k, v in expected.items()
    }


EXPORTS = {
    "torchscript-folded": {"dynamo": False, "fold": True},
    "torchscript-unfolded": {"dynamo": False, "fold": False},
    "dynamo": {"dynamo": True, "fold": True},
}
SWEPT = sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
SWEPT_ZOO = ["lenet5", "unet_small", "seq2seq_lstm"]  # the small zoo models; the rest are slow


def _spec_path(name: str) -> Path:
    flat = ROOT / "specs" / f"{name}.yaml"
    return flat if flat.exists() else ROOT / "specs" / "zoo" / f"{name}.yaml"


@pytest.mark.parametrize("export", sorted(EXPORTS))
@pytest.mark.parametrize("name", [*SWEPT, *SWEPT_ZOO])
def test_every_spec_through_torch_onnx_export_is_explained(
    name: str, export: str, tmp_path: Path
) -> None:
    """Whatever the exporter did, every element the file holds (or lacks) is named."""
    graph = load(_spec_path(name))
    path = torch_onnx(graph, tmp_path / "m.onnx", initialized=False, **EXPORTS[export])
    report = audit_file(graph, str(path))
    assert report.ok, [(r.name, r.missing, r.extra) for r in report.rows if r.unexplained]


BAD_STATE_DICTS = [
    ("list.pt", [1, 2], "not a state_dict; accepted: a dict of tensors (torch.save)"),
    ("ints.pt", {"lstm.weight_ih_l0": 3}, "not a state_dict; accepted: a dict of tensors"),
    ("text.pt", None, "not a readable PyTorch state_dict ("),
]


@pytest.mark.parametrize(
    ("name", "content", "said"), BAD_STATE_DICTS, ids=[b[0] for b in BAD_STATE_DICTS]
)
def test_a_bad_state_dict_is_one_line_exit_2(
    name: str, content: Any, said: str, tmp_path: Path, capsys: Any
) -> None:
    import torch

    path = tmp_path / name
    if content is None:
        path.write_text("not a zip archive")
    else:
        torch.save(content, path)
    assert main(["audit", str(ROOT / "specs" / "seed_lstm.yaml"), str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"{path}: error: {said}")
