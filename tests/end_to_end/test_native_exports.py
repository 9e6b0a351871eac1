"""The exported ``model.py`` is a native PyTorch model that PyTorch's own tools accept.

For every spec in ``specs/`` and the smaller zoo models, the generated module (loaded from
the file, with its state_dict) passes ``torch.export.export`` and both ONNX exporters, and
onnxruntime agrees with torch on the exported files. An image spec, or a 1-D convolution
spec, with no Reshape, Permute or Embedding keeps its data channels first throughout: no ``movedim``/``permute`` in ``model.py``, no
Transpose in the translator's ONNX file, and only ``torch.nn`` classes hold parameters.
ResNet-50's export lets ``torch.onnx.export`` fold every BatchNorm into its convolution.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from backends.onnx.export import export_model  # noqa: E402
from backends.torch import build  # noqa: E402
from backends.torch.export import export  # noqa: E402
from backends.torch.weights import get_weights  # noqa: E402
from translator.ir import Graph  # noqa: E402
from translator.ir.layout import spatial_rank, tensor_layouts  # noqa: E402
from translator.spec.loader import load  # noqa: E402
from translator.weights.canonical import from_canonical, to_canonical  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "specs").glob("*.yaml"))
SPECS += [f"specs/zoo/{name}.yaml" for name in ("lenet5", "mobilenet_v2", "unet_small")]
SPECS += ["specs/zoo/seq2seq_lstm.yaml"]
# Attention in every form the PyTorch export writes (no spec under specs/ is that small).
SPECS += ["tests/fixtures/native/attention_block.yaml"]
# Keras ReLU's native forms, and 1-D resampling layers on channels-first sequences.
SPECS += ["tests/fixtures/native/relus.yaml"]
# Recurrent layers going backwards: the native modules on flipped sequences.
SPECS += ["tests/fixtures/native/backwards.yaml"]
# Separable convolutions: a depthwise then a pointwise nn.Conv in an nn.Sequential.
SPECS += ["tests/fixtures/native/separable.yaml", "tests/fixtures/native/separable_1d.yaml"]
# Transposed convolutions whose padding and output_padding cut Keras's window (any length).
SPECS += ["tests/fixtures/native/transposes.yaml", "tests/fixtures/native/transposes_1d.yaml"]
# Pools in PyTorch's ceil mode (nn.MaxPool2d(ceil_mode=True), as SqueezeNet's).
SPECS += ["tests/fixtures/native/ceil_pools.yaml"]
# Known gaps of PyTorch's own tools, each with its reason (xfail is strict: it must fail).
DYNAMO_GAPS = {
    "specs/autoencoder.yaml": (
        "a layer named `code`: torch.export's unlifting sets GraphModule.code.weight, and"
        " GraphModule's `code` is its source property (torch 2.13)"
    ),
}
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}

pytestmark = pytest.mark.filterwarnings("ignore")


def exported(path: str, folder: Path) -> tuple[Graph, Any]:
    """The spec's ``model.py`` and ``model.pt`` written into ``folder``, loaded back."""
    graph = load(str(ROOT / path))
    export(graph, get_weights(build(graph)), folder)
    spec = importlib.util.spec_from_file_location(f"native_{graph.name}", folder / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return graph, module.load(str(folder / "model.pt"))


def example(graph: Graph) -> tuple[Any, ...]:
    """One seeded batch of two, in PyTorch's natural layout (free sizes: 4)."""
    rng = np.random.default_rng(0)
    out = []
    for t in tensor_layouts(graph).inputs:
        shape = (2, *(d or 4 for d in t.natural_shape()[1:]))
        if t.dtype == "float32":
            out.append(torch.from_numpy(rng.standard_normal(shape).astype(np.float32)))
        else:
            out.append(torch.from_numpy(rng.integers(0, 4, shape)))
    return tuple(out)


def outputs(result: Any) -> list[np.ndarray]:
    return [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Graph, Any]]:
    return {p: exported(p, tmp_path_factory.mktemp(Path(p).stem)) for p in SPECS}


def with_gaps(path: str) -> Any:
    gap = DYNAMO_GAPS.get(path)
    marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
    return pytest.param(path, marks=marks, id=Path(path).stem)


@pytest.mark.parametrize("path", [with_gaps(p) for p in SPECS])
def test_torch_export_accepts_the_module(path: str, models) -> None:
    graph, model = models[path]
    program = torch.export.export(model, example(graph))
    with torch.no_grad():
        want = outputs(model(*example(graph)))
        got = outputs(program.module()(*example(graph)))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, **TOLERANCE)


def onnx_cases() -> list[Any]:
    cases = []
    for path in SPECS:
        cases.append(pytest.param(path, False, id=f"{Path(path).stem}-torchscript"))
        gap = DYNAMO_GAPS.get(path)
        marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
        cases.append(pytest.param(path, True, id=f"{Path(path).stem}-dynamo", marks=marks))
    return cases


@pytest.mark.parametrize(("path", "dynamo"), onnx_cases())
def test_torch_onnx_export_runs_in_onnxruntime(path: str, dynamo: bool, models, tmp_path) -> None:
    graph, model = models[path]
    inputs = example(graph)
    file = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, inputs, str(file), dynamo=dynamo)
    onnx.checker.check_model(str(file), full_check=True)
    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=False)}
    with torch.no_grad():
        want = outputs(model(*inputs))
    for a, b in zip(session.run(None, feeds), want, strict=True):
        np.testing.assert_allclose(a, b, **TOLERANCE)


def plain_spatial_specs() -> list[Any]:
    """Image and 1-D convolution specs (channels last, 1-D convolutions or 2-D or 3-D layers)
    with no Reshape, Permute or Embedding (its vectors come out (time, features), so a
    convolution over them moves them once)."""
    chosen = []
    for path in SPECS:
        graph = load(str(ROOT / path))
        types = {n.type for n in graph.nodes} | {n.wrapped.type for n in graph.nodes if n.inner}
        # video_classifier flattens each frame (TimeDistributed Flatten): that needs the
        # spec's order, so it is moved there once, as the layout pass documents.
        flattens = any(n.inner and n.wrapped.type == "Flatten" for n in graph.nodes)
        moved = types & {"Reshape", "Permute", "Embedding"}
        if spatial_rank(graph) and not moved and not flattens:
            chosen.append(pytest.param(path, id=Path(path).stem))
    return chosen


@pytest.mark.parametrize("path", plain_spatial_specs())
def test_spatial_models_keep_data_channels_first(path: str, models) -> None:
    graph, model = models[path]
    text = Path(type(model).__init__.__code__.co_filename).read_text(encoding="utf-8")
    assert "movedim" not in text and "permute" not in text
    holders = [m for m in model.modules() if list(m.parameters(recurse=False))]
    foreign = {type(m).__name__ for m in holders if not type(m).__module__.startswith("torch.nn")}
    assert not foreign, f"parameters held by non-torch.nn modules: {sorted(foreign)}"
    canonical = to_canonical(graph, "torch", get_weights(build(graph)))
    onnx_model = export_model(graph, from_canonical(graph, "onnx", canonical))
    assert "Transpose" not in {n.op_type for n in onnx_model.graph.node}


# Models whose model.py TorchScript refuses (a class of our own written for eager PyTorch),
# each with the construct it stops at; strict: each must fail, every other spec must script.
RECURRENT_SUPER = "the recurrent runtime class calls super().forward (KerasRecurrent.scan)"
TIME_FOLD = "TimeDistributed reshapes with *x.shape[2:] (a list of unknown length)"
STAR_PERMUTE = "a channels-last pool (AveragePooling1D after an LSTM) permutes with *range(...)"
SCRIPT_GAPS = {
    "specs/bidirectional_merges.yaml": RECURRENT_SUPER,
    "specs/simple_rnn_classifier.yaml": RECURRENT_SUPER,
    "specs/gru_variants.yaml": "CustomRecurrent reads self._parameters[...] through cast",
    "specs/bigru_tagger.yaml": TIME_FOLD,
    "specs/seed_lstm.yaml": TIME_FOLD,
    "specs/video_classifier.yaml": TIME_FOLD,
    "specs/zoo/seq2seq_lstm.yaml": TIME_FOLD,
    "specs/sequence_reshaper.yaml": STAR_PERMUTE,
    "tests/fixtures/native/attention_block.yaml": (
        "nn.MultiheadAttention(bias=False) itself: its forward reads in_proj_bias.dtype, and"
        " in_proj_bias is None (torch 2.13)"
    ),
}


def script_cases() -> list[Any]:
    cases = []
    for path in SPECS:
        gap = SCRIPT_GAPS.get(path)
        marks = [pytest.mark.xfail(reason=gap, raises=Exception, strict=True)] if gap else []
        cases.append(pytest.param(path, marks=marks, id=Path(path).stem))
    return cases


@pytest.mark.parametrize("path", script_cases())
def test_torchscript_compiles_the_module(path: str, models) -> None:
    """``torch.jit.script`` compiles model.py and agrees with eager PyTorch, except where a
    class of our own is written for eager PyTorch only (``SCRIPT_GAPS``)."""
    graph, model = models[path]
    scripted = torch.jit.script(model)
    with torch.no_grad():
        want, got = outputs(model(*example(graph))), outputs(scripted(*example(graph)))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, **TOLERANCE)


def test_resnet50_batchnorms_fold_into_its_convolutions(tmp_path) -> None:
    graph, model = exported("specs/zoo/resnet50.yaml", tmp_path)
    file = tmp_path / "folded.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example(graph), str(file), dynamo=False)
    ops = [n.op_type for n in onnx.load(str(file)).graph.node]
    assert ops.count("Conv") == 53
    assert "BatchNormalization" not in ops
    text = (tmp_path / "model.py").read_text(encoding="utf-8")
    assert "movedim" not in text and "permute" not in text and "Classes of our own" not in text
    canonical = to_canonical(graph, "torch", get_weights(build(graph)))
    ours = export_model(graph, from_canonical(graph, "onnx", canonical))
    assert "Transpose" not in {n.op_type for n in ours.graph.node}


def test_attention_is_bare_multihead_attention_where_the_sizes_allow(models) -> None:
    """Keras MultiHeadAttention of heads of query_features / num_heads is torch's own
    nn.MultiheadAttention (key/value of other widths through kdim/vdim), called on (query,
    key, value) with need_weights=False, causal with Keras's mask; other head sizes are the
    projections around F.scaled_dot_product_attention."""
    _, model = models["tests/fixtures/native/attention_block.yaml"]
    kinds = {name: type(m) for name, m in model.named_children()}
    for name in ("self_attention", "causal_attention", "cross_attention"):
        assert kinds[name] is torch.nn.MultiheadAttention, name
    assert model.cross_attention.kdim == 4 and not model.cross_attention._qkv_same_embed_dim
    assert kinds["narrow_heads"].__name__ == "MultiHeadAttention"
    text = Path(type(model).__init__.__code__.co_filename).read_text(encoding="utf-8")
    assert "need_weights=False" in text and "attn_mask=causal_mask(" in text
    assert "F.scaled_dot_product_attention(" in text
