"""The assembled PyTorch model: multi-input and multi-output graphs, residual wiring, layer
names that clash with nn.Module attributes, seeding, totals, run()'s refusals, and shared
layers (one module applied again, its tensors held and counted once); every layer type built
from its one description, and no layer type named outside the family modules."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import backends
from backends.base import Built
from backends.torch.model import DESCRIPTIONS, Described, Shared
from tests.conftest import ROOT
from tests.harness import Case, check_spec, one_layer
from tests.port_cases import ZOO
from translator.errors import BackendError, UnsupportedInBackend
from translator.spec.loader import load_text
from translator.spec.schema import SCHEMAS

torch_backend = backends.load("torch")

GRAPH = """
name: graph
inputs:
  - {name: seq, shape: [null, 3]}
  - {name: ids, shape: [4], dtype: int64}
layers:
  - {type: Bidirectional, name: encoder, merge_mode: null, inputs: seq, layer: {type: GRU, units: 4}}
  - {type: Concatenate, name: joined, inputs: encoder}
  - {type: Embedding, name: embed, input_dim: 9, output_dim: 8, inputs: ids}
  - {type: GlobalAveragePooling1D, name: pooled}
  - {type: Add, name: update, inputs: [joined, pooled]}
  - {type: Dense, name: compile, units: 2, activation: softmax}
  - {type: BatchNormalization, name: norm, inputs: joined}
outputs: [compile, encoder, norm]
"""


@pytest.fixture(scope="module")
def graph_case() -> Case:
    return check_spec(GRAPH, "torch")


def test_multi_input_multi_output_graph(graph_case: Case) -> None:
    shapes = [o.shape for o in graph_case.outputs]
    assert shapes == [(2, 2), (2, 4), (2, 4), (2, 8)]  # encoder's merge_mode null: two outputs
    np.testing.assert_allclose(graph_case.outputs[0].sum(axis=-1), 1.0, rtol=1e-6)


def test_layer_names_may_be_module_attribute_names(graph_case: Case) -> None:
    layers = graph_case.built.model.layers
    assert isinstance(layers["update"], torch.nn.Module)
    assert isinstance(layers["compile"], torch.nn.Linear)
    names = dict(graph_case.built.model.named_parameters())
    assert "layers.compile.weight" in names


def test_totals_are_the_whole_module(graph_case: Case) -> None:
    model = graph_case.built.model
    totals = graph_case.measurement.totals
    assert totals["total"] == sum(p.numel() for p in model.parameters())
    assert totals["buffers"] == 8 + 8 + 1  # running mean, running var, num_batches_tracked


def test_seed_fixes_the_weights() -> None:
    spec = one_layer("{type: LSTM, units: 3}", "[4, 2]")
    first, again = (torch_backend.build(load_text(spec), seed=7) for _ in range(2))
    other = torch_backend.build(load_text(spec), seed=8)
    w = [b.model.layers["lstm"].weight_ih_l0 for b in (first, again, other)]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])


def test_run_refuses_a_model_with_unbuilt_layers(graph_case: Case) -> None:
    gap = Built("torch", graph_case.graph, graph_case.built.model, {"encoder": "no reason"})
    with pytest.raises(BackendError, match="encoder: no reason"):
        torch_backend.run(gap, graph_case.inputs)


def test_run_names_a_missing_input(graph_case: Case) -> None:
    with pytest.raises(BackendError, match="ids"):
        torch_backend.run(graph_case.built, {"seq": graph_case.inputs["seq"]})


def test_run_accepts_read_only_and_float64_arrays() -> None:
    case = check_spec(one_layer("{type: Dense, units: 2}", "[3]"), "torch")
    x = np.broadcast_to(np.ones(3), (2, 3))  # float64, read-only view
    assert case.run(x=x)[0].dtype == np.float32


def shared(layer: str, shape: str) -> str:
    """Inputs ``a`` and ``b`` of ``shape``; ``layer`` (named ``orig``) on ``a``; ``copy`` applies
    it again to ``b``; ``again`` shares ``copy`` (so ``orig``) on ``a``."""
    return (
        f"name: shared\ninputs: [{{name: a, shape: {shape}}}, {{name: b, shape: {shape}}}]\n"
        f"layers:\n  - {{name: orig, inputs: a, {layer}}}\n"
        "  - {name: copy, share: orig, inputs: b}\n"
        "  - {name: again, share: copy, inputs: a}\n"
        "outputs: [orig, copy, again]\n"
    )


SHARED = {
    "dense": ("type: Dense, units: 3, activation: tanh", "[4]"),
    "conv": ("type: Conv2D, filters: 2, kernel_size: 3, padding: same", "[5, 5, 2]"),
    "batch_norm": ("type: BatchNormalization", "[4]"),
    "lstm_stack": ("type: LSTM, units: 3, num_layers: 2", "[4, 2]"),
    "bidirectional": ("type: Bidirectional, layer: {type: GRU, units: 3}", "[4, 2]"),
    "time_distributed": ("type: TimeDistributed, layer: {type: Dense, units: 2}", "[3, 4]"),
    "attention": ("type: MultiHeadAttention, num_heads: 2, key_dim: 3", "[4, 6]"),
}


@pytest.mark.parametrize("layer,shape", SHARED.values(), ids=SHARED.keys())
def test_a_shared_layer_applies_the_same_module_again(layer: str, shape: str) -> None:
    case = check_spec(shared(layer, shape), "torch")
    assert isinstance(case.module("copy"), Shared) and case.module("copy").target == "orig"
    assert case.module("again").target == "orig"  # a share of a share is the original
    assert case.measurement.layers["copy"][0] == ()
    keys = case.built.model.state_dict().keys()
    assert keys and all(k.startswith("layers.orig.") for k in keys)
    x, y = case.inputs["a"], case.inputs["b"]
    orig_on_a, copy_on_b, again_on_a = case.run(a=x, b=y)
    # The copy's output is the original layer applied to b: swap the inputs and compare.
    np.testing.assert_array_equal(copy_on_b, case.run(a=y, b=x)[0])
    np.testing.assert_array_equal(again_on_a, orig_on_a)
    assert not np.array_equal(copy_on_b, orig_on_a)


def test_a_shared_layer_uses_the_original_parameters() -> None:
    """Trained parameters are the original's: changing them changes the copy's output."""
    case = check_spec(shared("type: Dense, units: 2", "[3]"), "torch")
    with torch.no_grad():
        case.module("orig").weight.fill_(1.0)
        case.module("orig").bias.fill_(0.5)
    ones = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_allclose(case.run(a=ones, b=2 * ones)[1], np.full((2, 2), 6.5))


def test_layer_outputs_report_each_application() -> None:
    case = check_spec(shared("type: Dense, units: 3", "[4]"), "torch")
    found = torch_backend.layer_outputs(case.built, case.inputs)
    np.testing.assert_array_equal(found["copy"][0], case.outputs[1])
    np.testing.assert_array_equal(found["orig"][0], case.outputs[0])


def test_a_share_of_an_unbuilt_layer_is_not_built() -> None:
    with pytest.raises(UnsupportedInBackend, match="'enc' is not built"):
        Shared("enc").link({})


GPT = """
name: tiny_gpt
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
  - {name: wte, type: Embedding, input_dim: 11, output_dim: 8}
  - {name: wpe, type: PositionEmbedding, sequence_length: 16}
  - {name: embed, type: Add, inputs: [wte, wpe]}
  - {block: decoder, name: h, repeat: 2}
  - {name: ln_f, type: LayerNormalization, epsilon: 1e-5}
  - {name: ln_f_again, share: ln_f}
  - {name: lm_head, type: Dense, units: 11, use_bias: false, tie: wte}
"""


def test_a_small_gpt_with_a_tied_head_and_a_shared_layer() -> None:
    """GPT-2's shape in small: every tensor once, the total what PyTorch itself counts."""
    case = check_spec(GPT, "torch")
    model = case.built.model
    assert case.measurement.totals["total"] == sum(p.numel() for p in model.parameters())
    assert not any(
        k.startswith(("layers.lm_head.", "layers.ln_f_again.")) for k in model.state_dict()
    )
    assert case.outputs[0].shape == (2, 6, 11)


# Beside the family modules, no backend file names a spec layer type: each type's one
# description, in its family module, says everything the builder and export need.
NEUTRAL = sorted(
    [*(ROOT / "backends" / "torch").glob("standalone/*.py")]
    + [ROOT / "backends" / "torch" / f"{name}.py" for name in ("export", "model", "weights")]
)


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: p.name)
def test_no_layer_type_named_outside_the_family_modules(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in SCHEMAS
    }
    assert not named, f"{path.name} names layer types {sorted(named)}"


@pytest.mark.parametrize("layer_type", list(SCHEMAS))
def test_each_builder_is_its_description_instantiated(layer_type: str) -> None:
    assert layer_type in DESCRIPTIONS
    assert torch_backend.BUILDERS[layer_type] == Described(DESCRIPTIONS[layer_type])


def test_frozen_layers_do_not_require_grad_in_the_module_and_in_model_py(
    tmp_path: Path,
) -> None:
    """``trainable: false`` → ``requires_grad_(False)`` on the layer's module (buffers stay
    buffers), and ``model.py`` says so in ``__init__``, so a PyTorch user sees it."""
    from backends.torch import export as torch_export
    from translator.commands.port import random_canonical
    from translator.weights.canonical import from_canonical

    case = check_spec(ZOO["zoo_frozen"], "torch")
    frozen = ["stem_conv", "stem_bn", "bidirectional", "time_distributed"]
    for name in frozen:
        assert not any(p.requires_grad for p in case.module(name).parameters()), name
    assert all(p.requires_grad for p in case.module("head").parameters())
    assert len(list(case.module("stem_bn").buffers())) == 3
    weights = from_canonical(case.graph, "torch", random_canonical(case.graph))
    torch_export.export(case.graph, weights, tmp_path)
    source = (tmp_path / torch_export.SOURCE).read_text(encoding="utf-8")
    for name in frozen:
        assert f"        self.{name}.requires_grad_(False)\n" in source, name
    assert "self.head.requires_grad_" not in source
    spec = importlib.util.spec_from_file_location("frozen_model", tmp_path / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load(str(tmp_path / torch_export.FILE))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == case.graph.counts("torch")["trainable"] == 3 * (36 * 2 + 1)
