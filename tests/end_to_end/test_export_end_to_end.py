"""Export: every spec, the small zoo models (``ZOO_MODELS``), every conformance case of
``tests/end_to_end/test_conformance.py`` (each layer type alone, built as that module builds
it) and the inline cases of ``tests/port_cases.py`` and ``CASES_HERE``, written into a temporary
directory, then each file reloaded by its own framework alone, in a fresh Python per
framework (``-I``, all cases at once): ``model.keras`` with Keras,
``model.onnx`` with onnxruntime, and ``model.py`` + ``model.pt`` in a Python whose only
packages are torch and what it requires (not even numpy), as the docstring of ``model.py``
says (``from model import load``). Fed the same input, each in its own layout, their outputs
agree with one another and with the spec's model; every file holds exactly the canonical
weights; ``model.py`` imports only torch and is lint-clean; the command's exit codes.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
from tests.conftest import ROOT, SPECS
from tests.end_to_end.test_conformance import CASES as CONFORMANCE
from tests.end_to_end.test_conformance import MERGES, _merge_spec, _spec
from tests.port_cases import ZOO
from translator.cli import main
from translator.commands.export import exporter, reference_outputs, write_files
from translator.commands.port import random_canonical
from translator.ir import FRAMEWORKS, Graph
from translator.ir.layout import tensor_layouts, to_layout
from translator.ir.sample import sample_inputs
from translator.spec.loader import load, load_text
from translator.spec.schema import SCHEMAS
from translator.weights.canonical import from_canonical
from translator.weights.files import load_canonical

pytestmark = pytest.mark.frameworks

# float32 through different kernels and layouts: the differences seen are below 2e-6.
ATOL = 1e-5
# What export must get right that the specs under specs/ leave out: image outputs (channels
# first in PyTorch and ONNX), names Python or nn.Module reserve (self, eval, class), and
# channels_first convolutions, which Keras alone loads only as built-in layers.
CASES_HERE: dict[str, str] = {
    "export_images": """
name: export_images
inputs: [{name: self, shape: [8, 8, 3]}]
layers:
  - {name: conv, type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: softmax}
  - {name: eval, type: ReLU, max_value: 2.0, negative_slope: 0.05, threshold: 0.1}
  - {name: pad, type: ZeroPadding2D, padding: [[0, 1], [1, 0]]}
  - {name: pool, type: MaxPooling2D, pool_size: 2, padding: same}
  - {name: class, type: Softmax, axis: [1, 2]}
  - {name: summary, type: GlobalAveragePooling2D, keepdims: true, inputs: conv}
outputs: [class, summary]
""",
    "export_channels_first": """
name: export_channels_first
data_format: channels_first
inputs: [{name: signal, shape: [4, 10]}, {name: clip, shape: [3, 2, 6, 6]}]
layers:
  - {name: causal, type: Conv1D, filters: 3, kernel_size: 3, padding: causal, dilation_rate: 2,
     activation: softmax, inputs: signal}
  - {name: pool, type: AveragePooling1D, pool_size: 2, padding: same}
  - {name: flat, type: Flatten}
  - {name: frames, type: TimeDistributed, inputs: clip,
     layer: {type: Conv2D, filters: 2, kernel_size: 3, activation: relu}}
  - {name: frame_pool, type: TimeDistributed, layer: {type: GlobalMaxPooling2D}}
  - {name: frame_flat, type: Flatten}
  - {name: joined, type: Concatenate, inputs: [flat, frame_flat]}
  - {name: head, type: Dense, units: 2}
""",
    # Every convolution family channels first (Keras's built-in channels_last layer between
    # Permutes), depthwise and separable ones with unequal strides (stride 1, then every
    # stride-th output), and the 3-D layers in a channels-first spec.
    "export_channels_first_families": """
name: export_channels_first_families
data_format: channels_first
inputs:
  - {name: vol, shape: [2, 5, 6, 6]}
  - {name: img, shape: [3, 8, 7]}
  - {name: seq, shape: [3, 9]}
layers:
  - {name: c3, type: Conv3D, filters: 2, kernel_size: 3, padding: same, activation: softmax,
     inputs: vol}
  - {name: t3, type: Conv3DTranspose, filters: 2, kernel_size: 2, strides: 2}
  - {name: t2, type: Conv2DTranspose, filters: 3, kernel_size: 3, strides: 2, padding: same,
     activation: relu, inputs: img}
  - {name: dw, type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2, strides: [1, 2],
     padding: same}
  - {name: sep, type: SeparableConv2D, filters: 4, kernel_size: 3, strides: [2, 1],
     activation: softmax}
  - {name: s1, type: SeparableConv1D, filters: 2, kernel_size: 3, activation: tanh, inputs: seq}
  - {name: d1, type: DepthwiseConv1D, kernel_size: 2, padding: same}
  - {name: t1, type: Conv1DTranspose, filters: 2, kernel_size: 3, strides: 2}
  - {name: up, type: UpSampling2D, size: [2, 1], inputs: sep}
  - {name: zp, type: ZeroPadding3D, padding: 1, inputs: t3}
  - {name: pool3, type: MaxPooling3D, pool_size: 2, padding: same}
  - {name: crop, type: Cropping2D, cropping: [[1, 0], [0, 1]], inputs: up}
outputs: [pool3, crop, t1]
""",
    # Volumes (channels first in PyTorch and ONNX, 3-D rule), unequal strides channels last,
    # also inside TimeDistributed.
    "export_volumes": """
name: export_volumes
inputs:
  - {name: img, shape: [9, 8, 3]}
  - {name: clip, shape: [2, 7, 7, 2]}
  - {name: vol, shape: [4, 4, 4, 2]}
layers:
  - {name: dw, type: DepthwiseConv2D, kernel_size: 3, strides: [2, 1], padding: same,
     activation: relu, inputs: img}
  - {name: sep, type: SeparableConv2D, filters: 3, kernel_size: 2, strides: [1, 3],
     depth_multiplier: 2}
  - {name: frames, type: TimeDistributed, inputs: clip,
     layer: {type: DepthwiseConv2D, kernel_size: 3, strides: [2, 1], padding: same}}
  - {name: vconv, type: Conv3D, filters: 2, kernel_size: 2, inputs: vol}
  - {name: vpool, type: AveragePooling3D, pool_size: 2, padding: same}
  - {name: vglob, type: GlobalMaxPooling3D, keepdims: true}
outputs: [sep, frames, vconv, vglob]
""",
    # Rewritten convolutions inside TimeDistributed: Keras's own transposed class, channels
    # first, unequal strides.
    "export_wrapped_convolutions": """
name: export_wrapped_convolutions
inputs: [{name: clip, shape: [3, 5, 5, 2]}, {name: frames, shape: [3, 2, 6, 6]}]
layers:
  - {name: up, type: TimeDistributed, inputs: clip,
     layer: {type: Conv2DTranspose, filters: 2, kernel_size: 3, strides: 2, activation: relu}}
  - {name: depthwise, type: TimeDistributed, inputs: frames,
     layer: {type: DepthwiseConv2D, kernel_size: 3, strides: [1, 2], padding: same,
             data_format: channels_first, activation: softmax}}
  - {name: transposed, type: TimeDistributed, inputs: frames,
     layer: {type: Conv2DTranspose, filters: 3, kernel_size: 2, strides: 2,
             data_format: channels_first}}
outputs: [up, depthwise, transposed]
""",
    # Shared layers (an Embedding, a stack, a tied Dense), tied Dense with and without bias,
    # recurrent stacks (going backwards too) and causal attention.
    "export_shared_tied_stacked": """
name: export_shared_tied_stacked
inputs: [{name: tokens, shape: [7], dtype: int32}, {name: other, shape: [7], dtype: int32}]
layers:
  - {name: wte, type: Embedding, input_dim: 13, output_dim: 8, inputs: tokens}
  - {name: wpe, type: PositionEmbedding, sequence_length: 10}
  - {name: embed, type: Add, inputs: [wte, wpe]}
  - {name: enc, type: LSTM, units: 8, return_sequences: true, num_layers: 2}
  - {name: wte2, share: wte, inputs: other}
  - {name: enc2, share: enc, inputs: wte2}
  - {name: back, type: GRU, units: 8, return_sequences: true, go_backwards: true, num_layers: 3,
     inputs: enc2}
  - {name: att, type: MultiHeadAttention, num_heads: 2, key_dim: 4, causal: true,
     inputs: [enc, back]}
  - {name: ln, type: LayerNormalization}
  - {name: head, type: Dense, units: 13, use_bias: false, tie: wte}
  - {name: head_b, type: Dense, units: 13, tie: wte, activation: softmax, inputs: back}
  - {name: head_again, share: head_b, inputs: ln}
  - {name: rnn, type: SimpleRNN, units: 3, num_layers: 2, activation: relu, inputs: ln}
outputs: [head, head_b, head_again, rnn]
""",
}
# The zoo models small enough to export here (gpt2_small, 124M parameters, takes about a
# third of this module's time).
ZOO_MODELS = ("lenet5", "unet_small", "seq2seq_lstm", "mobilenet_v2", "gpt2_small")
CONFORMANCE_CASES = {
    f"conformance-{t}-{i}": _spec(t, shape, args)
    for t, rows in CONFORMANCE.items()
    for i, (shape, args) in enumerate(rows)
} | {f"conformance-{t}": _merge_spec(t) for t in MERGES}
CASES: dict[str, Graph] = (
    {p.stem: load(str(p)) for p in SPECS}
    | {name: load(str(ROOT / "specs" / "zoo" / f"{name}.yaml")) for name in ZOO_MODELS}
    | {name: load_text(text) for name, text in (ZOO | CASES_HERE | CONFORMANCE_CASES).items()}
)
FILES = {"keras": "model.keras", "onnx": "model.onnx", "torch": "model.pt"}
# Top-level modules each fresh Python must not have imported.
BANNED = {
    "keras": {"translator", "backends", "torch", "onnx", "onnxruntime"},
    "onnx": {"translator", "backends", "keras", "tensorflow", "torch", "onnx"},
    "torch": {"translator", "backends", "keras", "tensorflow", "onnx", "onnxruntime", "numpy"},
}
MODULES = 'print(" ".join(sorted({m.split(".")[0] for m in sys.modules})))'
RUNNERS = {
    "keras": f"""
import sys
import keras
import numpy as np
for folder in sys.argv[1:]:
    model = keras.saving.load_model(folder + "/model.keras", compile=False)
    with np.load(folder + "/inputs.npz") as data:
        feed = [data[f"arr_{{i}}"] for i in range(len(data.files))]
    out = model(feed, training=False)
    out = out if isinstance(out, (list, tuple)) else [out]
    np.savez(folder + "/outputs_keras.npz", *[keras.ops.convert_to_numpy(t) for t in out])
{MODULES}
""",
    "onnx": f"""
import json, sys
import numpy as np
import onnxruntime
for folder in sys.argv[1:]:
    session = onnxruntime.InferenceSession(folder + "/model.onnx")
    names = json.load(open(folder + "/inputs.json"))
    with np.load(folder + "/inputs_natural.npz") as data:
        feeds = {{name: data[f"arr_{{i}}"] for i, name in enumerate(names)}}
    np.savez(folder + "/outputs_onnx.npz", *session.run(None, feeds))
{MODULES}
""",
    # Python -S with sys.path = torch and its requirements only (``torch_only``); then as
    # model.py's docstring says: from model import load; load("model.pt").
    "torch": f"""
import os, sys
sys.path[:0] = [sys.argv[1]]
import torch
for folder in sys.argv[2:]:
    os.chdir(folder)
    sys.path.insert(0, folder)
    sys.modules.pop("model", None)
    from model import load
    sys.path.pop(0)
    with torch.no_grad():
        out = load("model.pt")(*torch.load("inputs_natural.pt"))
    torch.save(list(out) if isinstance(out, tuple) else [out], "outputs_torch.pt")
{MODULES}
""",
}


@dataclass
class Exported:
    """One case's exported directory, the canonical weights in it and the spec's model's
    outputs on the saved input."""

    graph: Graph
    folder: Path
    canonical: dict[str, Any]
    reference: list[np.ndarray]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    import torch

    root = tmp_path_factory.mktemp("export")
    out = {}
    for name, graph in CASES.items():
        folder = root / name
        canonical = random_canonical(graph, seed=1)
        write_files(graph, folder, canonical)
        inputs = sample_inputs(graph, seed=2)
        tensors = tensor_layouts(graph).inputs
        spec = [inputs[t.name] for t in tensors]
        natural = to_layout(spec, tensors, natural=True)
        np.savez(folder / "inputs.npz", *spec)
        np.savez(folder / "inputs_natural.npz", *natural)
        torch.save([torch.from_numpy(x) for x in natural], folder / "inputs_natural.pt")
        (folder / "inputs.json").write_text(json.dumps(graph.inputs))
        out[name] = Exported(graph, folder, canonical, reference_outputs(graph, canonical, inputs))
    return out


def torch_only(root: Path) -> Path:
    """A directory of links to torch and the distributions it requires (transitively), and
    nothing else: as the whole ``sys.path`` of ``python -S``, a Python with only PyTorch."""
    import importlib.metadata

    farm = root / "torch_only"
    farm.mkdir()
    todo, seen = ["torch"], set()
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        if dist.metadata["Name"].lower() in seen:
            continue
        seen.add(dist.metadata["Name"].lower())
        todo += [
            re.split(r"[ ;<>=!~(\[]", r, maxsplit=1)[0]
            for r in dist.requires or ()
            if "extra ==" not in r
        ]
        for top in {f.parts[0] for f in dist.files or ()}:
            skip = top in ("..", "__pycache__") or top.endswith((".dist-info", ".data"))
            if not skip and not (farm / top).exists():
                (farm / top).symlink_to(Path(str(dist.locate_file(top))))
    return farm


@pytest.fixture(scope="module")
def imported(
    exported: dict[str, Exported], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, set[str]]:
    """Run the three fresh Pythons (at once); per framework, the modules it imported."""
    folders = [str(e.folder) for e in exported.values()]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    flags = {"keras": ["-I"], "onnx": ["-I"], "torch": ["-I", "-S"]}
    extra = {"keras": [], "onnx": [], "torch": [str(torch_only(tmp_path_factory.mktemp("py")))]}
    runs = {
        fw: subprocess.Popen(
            [sys.executable, *flags[fw], "-c", RUNNERS[fw], *extra[fw], *folders],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=folders[0],
        )
        for fw in FRAMEWORKS
    }
    out = {}
    for fw, run in runs.items():
        stdout, stderr = run.communicate(timeout=900)
        assert run.returncode == 0, f"{fw} could not reload its files:\n{stderr[-4000:]}"
        out[fw] = set(stdout.split())
    return out


def reloaded(case: Exported, framework: str) -> list[np.ndarray]:
    """What ``framework`` computed from its own file, in the spec's layout."""
    if framework == "torch":
        import torch

        arrays = [t.numpy() for t in torch.load(case.folder / "outputs_torch.pt")]
    else:
        with np.load(case.folder / f"outputs_{framework}.npz") as data:
            arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    natural = exporter(framework).NATURAL
    return to_layout(arrays, tensor_layouts(case.graph).outputs, natural, back=True)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_framework_reloads_its_file_alone(
    imported: dict[str, set[str]], framework: str
) -> None:
    assert not imported[framework] & BANNED[framework]


PAIRS = [
    ("spec", "keras"),
    ("spec", "torch"),
    ("spec", "onnx"),
    ("keras", "torch"),
    ("keras", "onnx"),
    ("torch", "onnx"),
]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
@pytest.mark.parametrize("case", list(CASES))
def test_reloaded_outputs_agree(
    exported: dict[str, Exported], imported: Any, case: str, first: str, second: str
) -> None:
    e = exported[case]
    a = e.reference if first == "spec" else reloaded(e, first)
    b = reloaded(e, second)
    assert [x.shape for x in a] == [y.shape for y in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(y, x, rtol=0, atol=ATOL)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", list(CASES))
def test_each_file_holds_the_weights_bit_for_bit(
    exported: dict[str, Exported], case: str, framework: str
) -> None:
    e = exported[case]
    expected = from_canonical(e.graph, framework, e.canonical)
    path = e.folder / FILES[framework]
    # The Keras file holds some layers as several built-in ones (a recurrent stack, a tied
    # Dense's bias): export's own reader knows where each tensor went.
    if framework == "keras":
        found = exporter("keras").load_exported(e.graph, path)
    else:
        found = backends.load(framework).load_weights_file(e.graph, path)
    assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v) for k, v in expected.items()}
    for layer, tensors in expected.items():
        for name, value in tensors.items():
            assert np.array_equal(found[layer][name], value), f"{layer}.{name}"


@pytest.mark.parametrize("case", list(CASES))
def test_canonical_file_holds_the_weights(exported: dict[str, Exported], case: str) -> None:
    e = exported[case]
    found = load_canonical(e.graph, e.folder / "weights.npz")
    assert sorted(found) == sorted(e.canonical)
    assert all(np.array_equal(found[k], v) for k, v in e.canonical.items())


def test_cases_cover_every_layer_type() -> None:
    types = {
        t for g in CASES.values() for n in g.nodes for t in (n.type, getattr(n.inner, "type", None))
    }
    assert set(SCHEMAS) <= types


@pytest.mark.parametrize("layer_type", [t for t in SCHEMAS if t != "Input"])
def test_every_layer_type_has_a_standalone_module(layer_type: str) -> None:
    # Input has none: a model input is an argument of forward.
    assert layer_type in exporter("torch").EMITTERS


ALLOWED_IMPORTS = {"__future__", "math", "typing", "torch", "torch.nn", "torch.nn.functional"}


def test_model_py_imports_only_torch(exported: dict[str, Exported]) -> None:
    for name, e in exported.items():
        tree = ast.parse((e.folder / "model.py").read_text(encoding="utf-8"))
        found = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        found |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
        assert found <= ALLOWED_IMPORTS, name


def test_model_py_is_lint_clean(exported: dict[str, Exported]) -> None:
    files = [str(e.folder / "model.py") for e in exported.values()]
    ruff = [sys.executable, "-m", "ruff"]
    rules = ["--isolated", "--line-length", "100"]
    check = [*ruff, "check", *rules, "--select", "E,F,W,I,UP,B,SIM,RUF", *files]
    fmt = [*ruff, "format", *rules, "--check", *files]
    for command in (check, fmt):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:]


def test_onnx_and_model_py_take_and_give_images_channels_first(
    exported: dict[str, Exported],
) -> None:
    import onnx

    e = exported["export_images"]
    model = onnx.load(str(e.folder / "model.onnx"))

    def dims(values: Any) -> list[list[Any]]:
        return [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values]

    assert dims(model.graph.input) == [["batch", 3, 8, 8]]
    assert dims(model.graph.output) == [["batch", 4, 5, 5], ["batch", 4, 1, 1]]
    source = (e.folder / "model.py").read_text(encoding="utf-8")
    assert "def forward(self, self_: torch.Tensor)" in source
    assert "self_ (batch, 3, 8, 8) float32" in source


SEED = str(ROOT / "specs" / "seed_lstm.yaml")


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", SEED, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok: largest difference" in out
    for name in ("model.keras", "model.onnx", "model.pt", "model.py", "weights.npz"):
        assert (tmp_path / name).is_file()


def test_export_command_reads_weights_files(
    exported: dict[str, Exported], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    e = exported["seed_lstm"]
    args = ["export", SEED, "--out", str(tmp_path), "--format", "json"]
    assert main([*args, "--weights", str(e.folder / "model.onnx")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"]
    assert {f["path"].rsplit("/", 1)[-1] for f in report["files"]} >= {"model.py", "weights.npz"}
    # ONNX keeps both recurrent biases, so nothing was folded: the same canonical weights.
    found = load_canonical(e.graph, tmp_path / "weights.npz")
    assert all(np.array_equal(found[k], v) for k, v in e.canonical.items())


def test_export_command_refuses_weights_of_another_spec(
    exported: dict[str, Exported], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = exported["mnist_cnn"].folder / "model.pt"
    assert main(["export", SEED, "--out", str(tmp_path), "--weights", str(weights)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {weights}: ")
    assert "expected shape" in err[0]


def test_a_model_one_framework_cannot_hold_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Keras's GroupedQueryAttention refuses a query narrower than its values (the backend's
    # subclass is not a built-in): no model.keras, the other files written and checked.
    spec = tmp_path / "gqa.yaml"
    spec.write_text(
        "name: gqa\ninputs: [{name: q, shape: [5, 8]}, {name: kv, shape: [7, 6]}]\nlayers:\n"
        "  - {type: GroupQueryAttention, head_dim: 3, num_query_heads: 4, num_key_value_heads: 2,"
        " inputs: [q, kv]}\n"
    )
    out = tmp_path / "out"
    assert main(["export", str(spec), "--out", str(out), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert list(report["failures"]) == ["keras"]
    assert "not exported: GroupQueryAttention" in report["failures"]["keras"]
    assert not (out / "model.keras").exists()
    assert {d["framework"] for d in report["outputs"]} == {"onnx", "torch"}
    assert all(d["ok"] for d in report["outputs"])
