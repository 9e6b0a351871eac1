"""Attention in PyTorch: MultiHeadAttention as the native ``nn.MultiheadAttention`` (packed and
separate projections) and as the exact custom module (other key/value/output sizes),
GroupQueryAttention and PositionEmbedding; self- and cross-attention with two or three
inputs, causal masks, no bias. Numerics against a numpy transcription of Keras's layers with
random Keras-layout weights ported into the PyTorch modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.harness import Case, check_spec, set_parameters
from tests.references import rotary

CASES = {
    "mha_native_self_causal": (
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 4, causal: true}",
        ["[5, 8]"],
    ),
    "mha_native_cross_key": (
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 3}",
        ["[4, 6]", "[5, 3]", "[5, 7]"],
    ),
    "mha_native_no_bias_dropout": (
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 2, use_bias: false, dropout: 0.3}",
        ["[null, 4]"],
    ),
    "mha_custom_sizes": (
        "{type: MultiHeadAttention, num_heads: 3, key_dim: 2, value_dim: 5, output_shape: 7}",
        ["[5, 4]", "[6, 3]"],
    ),
    "mha_custom_causal_no_bias": (
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 3, use_bias: false, causal: true}",
        ["[null, 4]"],
    ),
    "mha_custom_no_key_bias_unscaled": (  # native sizes, but Whisper's key and T5's scale
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 4, key_bias: false, scale: 1.0}",
        ["[5, 8]", "[6, 5]"],
    ),
    "mha_custom_output_bias_only": (
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 3, use_bias: false, output_bias: true}",
        ["[null, 4]"],
    ),
    "gqa_self": (
        "{type: GroupQueryAttention, head_dim: 3, num_query_heads: 4, num_key_value_heads: 2}",
        ["[5, 6]"],
    ),
    "gqa_cross_causal": (
        (
            "{type: GroupQueryAttention, head_dim: 2, num_query_heads: 6, num_key_value_heads: 2,"
            " causal: true}"
        ),
        ["[4, 5]", "[6, 3]", "[6, 7]"],
    ),
    "gqa_no_bias_one_kv_head": (
        (
            "{type: GroupQueryAttention, head_dim: 2, num_query_heads: 3, num_key_value_heads: 1,"
            " use_bias: false}"
        ),
        ["[4, 5]"],
    ),
    "gqa_rotary_causal": (
        (
            "{type: GroupQueryAttention, head_dim: 4, num_query_heads: 4, num_key_value_heads: 2,"
            " causal: true, use_bias: false, rope_max_wavelength: 500}"
        ),
        ["[6, 8]"],
    ),
}
ROLES = ("q", "v", "k")  # Keras's call order: query, value, key


def attention_spec(layer: str, shapes: list[str]) -> str:
    names = ROLES[: len(shapes)]
    inputs = ", ".join(f"{{name: {n}, shape: {s}}}" for n, s in zip(names, shapes, strict=True))
    return (
        f"name: case\ninputs: [{inputs}]\nlayers:\n"
        f"  - {{name: attention, inputs: [{', '.join(names)}], {layer[1:]}\n"
    )


@pytest.fixture(scope="module", params=CASES.values(), ids=CASES.keys())
def case(request: pytest.FixtureRequest) -> Case:
    return check_spec(attention_spec(*request.param), "torch")


def keras_weights(case: Case, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random weights in Keras's layout: role kernels (features, heads, size), biases (heads,
    size), output kernel (heads, size, features)."""
    node = case.graph.node("attention")
    out = {}
    for spec in node.weights["keras"]:
        out[spec.name.replace("attention_output", "output")] = (
            rng.standard_normal(spec.shape).astype(np.float32) * 0.5
        )
    return out


def keras_attention(
    inputs: list[np.ndarray],
    w: dict[str, np.ndarray],
    causal: bool,
    rope: float | None = None,
    scale: float | None = None,
) -> np.ndarray:
    """Keras's MultiHeadAttention / GroupedQueryAttention forward pass, written out; query
    and key heads rotated where ``rope`` (rope_max_wavelength) is set."""
    query, value = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    key = inputs[2] if len(inputs) > 2 else value

    def project(x: np.ndarray, role: str) -> np.ndarray:
        y = np.einsum("btd,dhk->bthk", x, w[f"{role}/kernel"])
        return y + w[f"{role}/bias"] if f"{role}/bias" in w else y

    q, k, v = project(query, "query"), project(key, "key"), project(value, "value")
    q, k = rotary(q, rope), rotary(k, rope)
    repeats = q.shape[2] // k.shape[2]  # grouped query heads share key/value heads in order
    k, v = np.repeat(k, repeats, axis=2), np.repeat(v, repeats, axis=2)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("bthk,bshk->bhts", q * scale, k)
    if causal:
        scores = np.where(np.tril(np.ones(scores.shape[2:], bool)), scores, -np.inf)
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    heads = np.einsum("bhts,bshv->bthv", probs, v)
    out = np.einsum("bthv,hvo->bto", heads, w["output/kernel"])
    return out + w["output/bias"] if "output/bias" in w else out


def flat(kernel: np.ndarray) -> np.ndarray:
    """Keras (in, heads, size) → PyTorch Linear weight (heads·size, in)."""
    return kernel.reshape(kernel.shape[0], -1).T


def torch_weights(module: torch.nn.Module, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The Keras weights under the PyTorch module's own tensor names."""
    roles = ("query", "key", "value")
    biases = {r: w[f"{r}/bias"].reshape(-1) for r in roles if f"{r}/bias" in w}
    out_kernel = w["output/kernel"]
    out_weight = out_kernel.reshape(-1, out_kernel.shape[-1]).T
    if not isinstance(module, torch.nn.MultiheadAttention):
        out = {f"{r}.weight": flat(w[f"{r}/kernel"]) for r in roles}
        out |= {f"{r}.bias": b for r, b in biases.items()}
        return (
            out
            | {"output.weight": out_weight}
            | ({"output.bias": w["output/bias"]} if "output/bias" in w else {})
        )
    names = ("q_proj_weight", "k_proj_weight", "v_proj_weight")
    if module._qkv_same_embed_dim:
        out = {"in_proj_weight": np.concatenate([flat(w[f"{r}/kernel"]) for r in roles])}
    else:
        out = {n: flat(w[f"{r}/kernel"]) for n, r in zip(names, roles, strict=True)}
    if biases:
        out["in_proj_bias"] = np.concatenate([biases[r] for r in roles])
        out["out_proj.bias"] = w["output/bias"]
    return out | {"out_proj.weight": out_weight}


def test_attention_matches_keras_definition(case: Case) -> None:
    node = case.graph.node("attention")
    module = case.module("attention")
    w = keras_weights(case, np.random.default_rng(3))
    set_parameters(module, **torch_weights(module, w))
    inputs = [case.inputs[n] for n in ROLES[: len(node.inputs)]]
    out = case.run(**dict(zip(ROLES, inputs, strict=False)))[0]
    a = node.args
    expected = keras_attention(inputs, w, a["causal"], a.get("rope_max_wavelength"), a.get("scale"))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_native_module_is_used_exactly_when_it_fits() -> None:
    native = {name for name in CASES if name.startswith("mha_native")}
    for name, (layer, shapes) in CASES.items():
        module = check_spec(attention_spec(layer, shapes), "torch").module("attention")
        assert isinstance(module, torch.nn.MultiheadAttention) == (name in native), name


def test_causal_output_ignores_the_future() -> None:
    layer, shapes = CASES["mha_custom_causal_no_bias"]
    case = check_spec(attention_spec(layer, shapes), "torch")
    q = case.inputs["q"].copy()
    first = case.run(q=q)[0]
    q[:, 3:] += 10.0  # change only the last steps
    second = case.run(q=q)[0]
    np.testing.assert_allclose(first[:, :3], second[:, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(first[:, 3:], second[:, 3:])


POSITION = """
name: case
inputs: [{name: x, shape: [null, 4]}]
layers:
  - {type: PositionEmbedding, name: positions, sequence_length: 8}
  - {type: Add, name: embedded, inputs: [x, positions]}
  - {type: MultiHeadAttention, num_heads: 2, key_dim: 2, causal: true}
"""


def test_position_embedding_adds_the_first_rows() -> None:
    case = check_spec(POSITION, "torch")
    table = np.arange(32, dtype=np.float32).reshape(8, 4)
    set_parameters(case.module("positions"), weight=table)
    x = case.inputs["x"]
    embedded = case.module("embedded")(torch.tensor(x), case.module("positions")(torch.tensor(x)))
    np.testing.assert_array_equal(embedded.detach().numpy(), x + table[:5])
    assert case.run(x=x[:, :3])[0].shape == (2, 3, 4)  # any length up to sequence_length
