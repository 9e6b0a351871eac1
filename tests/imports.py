"""What the ``import`` tests share: running ``import`` through the command line and reading
``count``'s totals (framework-free: the command loads the framework it needs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from translator.cli import main


def run_import(
    source: Path | str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[Path, Path]:
    """``import SOURCE --out imported.yaml --weights-out imported.npz`` (and ``args``),
    asserted to succeed; the two paths written."""
    spec, weights = tmp_path / "imported.yaml", tmp_path / "imported.npz"
    code = main(["import", str(source), *args, "--out", str(spec), "--weights-out", str(weights)])
    out, err = capsys.readouterr()
    assert code == 0, err + out
    assert f"wrote {spec}" in out
    return spec, weights


def run_partial_import(
    source: Path | str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path, list[str]]:
    """``import SOURCE --out partial.yaml --weights-out partial.npz`` of a model with layers
    no importer claims: asserted to exit 1 having written the partial spec and its report
    (``partial.import-report.md``, said on stderr); the spec, the report and stderr's lines."""
    spec, weights = tmp_path / "partial.yaml", tmp_path / "partial.npz"
    code = main(["import", str(source), "--out", str(spec), "--weights-out", str(weights)])
    out, err = capsys.readouterr()
    assert code == 1, err + out
    report = tmp_path / "partial.import-report.md"
    assert f"  wrote {spec}  partial spec '" in err
    assert f"  wrote {report}  import report: what was not imported, and why" in err
    assert spec.is_file() and report.is_file()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries
    return spec, report, err.splitlines()


def count_totals(capsys: pytest.CaptureFixture[str], *specs: Path) -> list[dict[str, Any]]:
    """``count --format json``'s totals, one per spec."""
    assert main(["count", *map(str, specs), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    return [r["totals"] for r in (found if isinstance(found, list) else [found])]


def evaluated(make: Any) -> Any:
    """A PyTorch model from ``make()`` seeded, at inference, its batch norms' statistics away
    from 0 and 1 (so that they matter)."""
    import torch

    torch.manual_seed(0)
    model = make().eval()
    for module in model.modules():
        if type(module).__name__.startswith("BatchNorm"):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return model


# Zoo specs small enough for a round trip through every framework's export and import (at
# most about 15 s each, MobileNetV2 through PyTorch the largest), and why the others are left
# out: the test budget (the whole `make test` within about 20 minutes), not a known gap; their
# layer types are covered by the smaller specs.
ZOO_ROUND_TRIP = (
    "alexnet",
    "lenet5",
    "mobilenet_v2",
    "resnet18",
    "resnet50_torchvision",
    "seq2seq_lstm",
    "squeezenet1_0",
    "unet_small",
)
ZOO_TOO_LARGE = {
    "bert_base": "109M parameters: beyond the round trip's test budget",
    "gpt2_small": "124M parameters: beyond the round trip's test budget",
    "llama2_7b": "6.7B parameters: no test builds it whole (tests/conftest.py TOO_BIG)",
    "resnet50": "25.6M parameters: about 50 s over the three frameworks, beyond the budget",
    "t5_small": "61M parameters: beyond the round trip's test budget",
    "vgg16": "138M parameters: beyond the round trip's test budget",
    "vit_b16": "86M parameters: beyond the round trip's test budget",
    "whisper_tiny_encoder": "8.2M parameters in attention blocks: beyond the test budget",
}


# The translator's native-export fixtures no spec under specs/ covers: separable convolutions,
# layers going backwards, Keras ReLU's forms, transposed convolutions, attention.
NATIVE = sorted((Path(__file__).parent / "fixtures" / "native").glob("*.yaml"))


def natural_inputs(graph: Any, batch: int = 2) -> list[Any]:
    """Seeded inputs of ``graph`` (``sample_inputs``: free sizes at its steps, token ids
    within the vocabulary) in PyTorch's natural layout, in ``graph.inputs`` order."""
    from translator.ir.layout import tensor_layouts, to_layout
    from translator.ir.sample import sample_inputs

    inputs = sample_inputs(graph, 0, batch=batch)
    layouts = tensor_layouts(graph).inputs
    return to_layout([inputs[n] for n in graph.inputs], layouts, natural=True)


def weighted_layers(capsys: pytest.CaptureFixture[str], spec: Path) -> dict[str, Any]:
    """``count --format json``'s layers that hold weights: name → per-framework counts."""
    assert main(["count", str(spec), "--format", "json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    return {r["name"]: r["params"] for r in layers if any(p["total"] for p in r["params"].values())}


def assert_same_weights(original: dict[str, Any], imported: dict[str, Any]) -> None:
    """Canonical weights: the same tensors by name, each holding the same values (sorted: a
    Dense after a Flatten of channels-first images holds its rows in that order)."""
    import numpy as np

    assert sorted(imported) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(np.sort(imported[key], None), np.sort(value, None), key)


def spec_file(folder: Path, name: str, body: str) -> Path:
    """A spec named ``name`` of ``body`` (its inputs and layers) written at
    ``folder/<name>.yaml``."""
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body.rstrip()}\n", encoding="utf-8")
    return path


def tf2onnx_file(graph: Any, path: Path) -> Path:
    """The Keras model of ``graph`` (random weights) converted by tf2onnx, saved at ``path``;
    skipped, with the reason, where tf2onnx is not installed."""
    import backends
    from translator.commands.port import random_canonical
    from translator.weights.canonical import from_canonical

    tf2onnx = pytest.importorskip(
        "tf2onnx", reason="tf2onnx is not installed (pip install tf2onnx)"
    )
    import onnx
    import tensorflow as tf

    backends.load("keras")
    from backends.keras.model import build
    from backends.keras.weights import set_weights

    built = build(graph)
    built = set_weights(built, from_canonical(graph, "keras", random_canonical(graph, 0))) or built
    model = built.model
    signature = tuple(
        tf.TensorSpec((None, *graph.node(n).output_shape), graph.node(n).dtype, name=n)
        for n in graph.inputs
    )
    function = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0]))
    handlers = {"Erfc": (_erfc, [])}
    proto, _ = tf2onnx.convert.from_function(
        function, input_signature=signature, opset=17, custom_op_handlers=handlers
    )
    _freeze_captured(proto, function.get_concrete_function(*signature))
    onnx.save(proto, str(path))
    return path


def _erfc(ctx: Any, node: Any, name: str, args: list[Any]) -> None:
    """TensorFlow's Erfc (its exact gelu, ``0.5·x·erfc(-x/√2)``, Keras's ``gelu``), which
    tf2onnx leaves unconverted (ONNX has none): ``1 - Erf(x)``, the handler its
    ``custom_op_handlers`` takes."""
    import numpy as np
    from tf2onnx import utils

    erf = ctx.make_node("Erf", [node.input[0]])
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1.0, dtype=np.float32))
    node.type = "Sub"
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])


def _freeze_captured(proto: Any, concrete: Any) -> None:
    """tf2onnx's ``from_function`` leaves the constants a function captures (a Keras
    Normalization's mean and variance, tensors rather than variables) as graph inputs without
    values, where its ``from_keras`` freezes them: written as initializers here instead."""
    from onnx import numpy_helper

    captured = {
        inner.name: outer.numpy()
        for outer, inner in concrete.graph.captures
        if outer.dtype.name != "resource"
    }
    for value in list(proto.graph.input):
        if value.name in captured:
            proto.graph.initializer.append(
                numpy_helper.from_array(captured[value.name], value.name)
            )
            proto.graph.input.remove(value)
