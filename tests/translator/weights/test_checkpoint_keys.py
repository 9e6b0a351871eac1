"""A model's own checkpoint keys → the spec's PyTorch tensors (``translator.weights.checkpoint``),
through the spec's ``checkpoint:`` section (``translator.spec.checkpoint``): joined, transposed
and tied tensors, checked both ways on shapes before any data is read; framework-free (the
``.safetensors`` reader needs no framework)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.translator.weights.test_safetensors import write
from translator.errors import SpecErrors, WeightsError
from translator.spec.loader import load_text
from translator.weights.checkpoint import arranged, made
from translator.weights.safetensors import read_safetensors

# GPT-2 in small: a tied head, one fused q/k/v projection stored (in, out) as Conv1D does, an
# MLP Dense stored (in, out), and a LayerNorm kept under its module path.
SPEC = """
name: tiny
inputs:
  - {name: ids, shape: [4], dtype: int64}
layers:
  - {name: h_wte, type: Embedding, input_dim: 10, output_dim: 8}
  - {name: h_attn, type: MultiHeadAttention, num_heads: 2, key_dim: 4}
  - {name: h_ln, type: LayerNormalization}
  - {name: h_fc, type: Dense, units: 8}
  - {name: lm_head, type: Dense, units: 10, use_bias: false, tie: h_wte}
checkpoint:
  h_wte.weight: {keys: [h.wte.weight], also: [lm_head.weight]}
  h_attn.in_proj_weight: {keys: [h.attn.c_attn.weight], transpose: true}
  h_attn.in_proj_bias: {keys: [h.attn.q.bias, h.attn.k.bias, h.attn.v.bias]}
  h_attn.out_proj.weight: {keys: [h.attn.c_proj.weight], transpose: true}
  h_attn.out_proj.bias: {keys: [h.attn.c_proj.bias]}
  h_fc.weight: {keys: [h.fc.weight], transpose: true}
"""
GRAPH = load_text(SPEC, "tiny.yaml")


def _file(seed: int = 0) -> dict[str, np.ndarray]:
    """The model's own state_dict: its keys and (in, out) shapes."""
    rng = np.random.default_rng(seed)
    shapes = {
        "h.wte.weight": (10, 8),
        "lm_head.weight": (10, 8),
        "h.attn.c_attn.weight": (8, 24),
        "h.attn.q.bias": (8,),
        "h.attn.k.bias": (8,),
        "h.attn.v.bias": (8,),
        "h.attn.c_proj.weight": (8, 8),
        "h.attn.c_proj.bias": (8,),
        "h.ln.weight": (8,),
        "h.ln.bias": (8,),
        "h.fc.weight": (8, 8),
        "h.fc.bias": (8,),
    }
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def _shapes(tensors: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in tensors.items()}


def test_joined_transposed_and_renamed_keys_make_every_tensor() -> None:
    tensors = _file()
    weights = made(arranged(GRAPH, _shapes(tensors), "own.pt"), tensors.__getitem__)
    np.testing.assert_array_equal(
        weights["h_attn"]["in_proj_weight"], tensors["h.attn.c_attn.weight"].T
    )
    joined = np.concatenate([tensors[f"h.attn.{r}.bias"] for r in "qkv"])
    np.testing.assert_array_equal(weights["h_attn"]["in_proj_bias"], joined)
    np.testing.assert_array_equal(weights["h_fc"]["weight"], tensors["h.fc.weight"].T)
    np.testing.assert_array_equal(weights["h_fc"]["bias"], tensors["h.fc.bias"])  # by the rule
    np.testing.assert_array_equal(weights["h_ln"]["weight"], tensors["h.ln.weight"])
    np.testing.assert_array_equal(weights["h_wte"]["weight"], tensors["h.wte.weight"])


def test_a_tied_tensor_is_read_under_whichever_name_the_file_keeps(tmp_path: Path) -> None:
    """``save_pretrained`` keeps one name of a tied tensor; either one makes the table."""
    tensors = _file()
    del tensors["h.wte.weight"]
    read = read_safetensors(GRAPH, write(tmp_path / "model.safetensors", tensors))
    np.testing.assert_array_equal(read["h_wte"]["weight"], tensors["lm_head.weight"])


def test_a_second_name_of_another_shape_is_refused() -> None:
    tensors = _file()
    tensors["lm_head.weight"] = tensors["lm_head.weight"][:9]
    with pytest.raises(WeightsError) as caught:
        arranged(GRAPH, _shapes(tensors), "own.pt")
    assert str(caught.value) == (
        "own.pt: 'lm_head.weight' (another name of 'h_wte.weight', as 'h.wte.weight') has"
        " shape (9, 8), expected (10, 8)"
    )


def test_a_missing_key_is_named_as_the_checkpoint_keeps_it() -> None:
    tensors = _file()
    del tensors["h.attn.k.bias"]
    with pytest.raises(WeightsError) as caught:
        arranged(GRAPH, _shapes(tensors), "own.pt")
    assert str(caught.value).startswith(
        "own.pt: layer 'h_attn': missing tensor 'in_proj_bias' (torch), expected shape (24,)"
        "; the checkpoint keeps it as h.attn.q.bias, h.attn.k.bias, h.attn.v.bias"
    )


def test_a_stored_shape_that_does_not_fit_is_refused_before_reading() -> None:
    tensors = _file()
    tensors["h.attn.c_attn.weight"] = tensors["h.attn.c_attn.weight"][:, :21]
    with pytest.raises(WeightsError) as caught:
        arranged(GRAPH, _shapes(tensors), "own.pt")
    assert str(caught.value) == (
        "own.pt: layer 'h_attn' tensor 'in_proj_weight' (torch): expected shape (24, 8),"
        " received (21, 8)"
    )


def test_an_unread_key_is_refused() -> None:
    tensors = _file() | {"h.spare": np.zeros(3, dtype=np.float32)}
    with pytest.raises(WeightsError, match="no layer 'h' with torch weights in the spec"):
        arranged(GRAPH, _shapes(tensors), "own.pt")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "h_ln.gamma: {keys: [a]}",
            (
                "checkpoint 'h_ln.gamma' names no PyTorch tensor of the spec; layer 'h_ln' has"
                " weight, bias"
            ),
        ),
        (
            "h_ln.bias: {keys: [a], transpose: true}",
            (
                "checkpoint 'h_ln.bias': transpose of a 1-D tensor (8,); transpose: true for 2-D"
                " tensors only"
            ),
        ),
        (
            "h_ln.bias: {keys: []}",
            "checkpoint 'h_ln.bias': 'keys' must be a list of keys. Received: an empty list",
        ),
        (
            "h_ln.bias: {keys: [h.fc.weight]}",
            (
                "checkpoint 'h_ln.bias': key 'h.fc.weight' is read twice; each checkpoint key makes"
                " one tensor"
            ),
        ),
        ("h_ln.bias: {key: [a]}", "checkpoint 'h_ln.bias': unknown key 'key'"),
    ],
)
def test_the_section_is_checked_against_the_spec(entry: str, message: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_text(f"{SPEC}  {entry}\n", "tiny.yaml")
    assert message in str(caught.value)
