"""ONNX MultiHeadAttention, GroupQueryAttention and PositionEmbedding: self- and
cross-attention, causal masks (also with more query than key steps), free lengths, and a
numpy reference of Keras's computation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.references import rotary

# name → (input shapes, layer); the layer reads every input, in the listed order.
CASES = {
    "mha_self": (["[5, 8]"], "{type: MultiHeadAttention, num_heads: 2, key_dim: 4}"),
    "mha_self_causal_free": (
        ["[null, 6]"],
        "{type: MultiHeadAttention, num_heads: 3, key_dim: 2, causal: true}",
    ),
    "mha_cross_sizes": (
        ["[4, 6]", "[7, 5]"],
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 3, value_dim: 4, output_shape: 9}",
    ),
    "mha_query_value_key_causal": (
        ["[6, 4]", "[4, 5]", "[4, 3]"],
        "{type: MultiHeadAttention, num_heads: 3, key_dim: 2, causal: true}",
    ),
    "mha_no_bias": (
        ["[3, 4]", "[5, 4]"],
        "{type: MultiHeadAttention, num_heads: 1, key_dim: 4, use_bias: false, dropout: 0.5}",
    ),
    "mha_no_key_bias_unscaled": (  # Whisper's key, T5's scale
        ["[5, 8]", "[6, 5]"],
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 4, key_bias: false, scale: 1.0}",
    ),
    "mha_output_bias_only": (
        ["[4, 6]"],
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 3, use_bias: false, output_bias: true}",
    ),
    "gqa_self": (
        ["[5, 8]"],
        "{type: GroupQueryAttention, head_dim: 3, num_query_heads: 4, num_key_value_heads: 2}",
    ),
    "gqa_three_inputs_causal_no_bias": (
        ["[5, 6]", "[6, 4]", "[6, 3]"],
        (
            "{type: GroupQueryAttention, head_dim: 2, num_query_heads: 6, num_key_value_heads: 3,"
            " causal: true, use_bias: false}"
        ),
    ),
    "gqa_one_kv_head_free": (
        ["[null, 4]"],
        (
            "{type: GroupQueryAttention, head_dim: 4, num_query_heads: 2, num_key_value_heads: 1,"
            " causal: true}"
        ),
    ),
    "gqa_rotary_causal_free": (
        ["[null, 8]"],
        (
            "{type: GroupQueryAttention, head_dim: 4, num_query_heads: 2, num_key_value_heads: 1,"
            " causal: true, use_bias: false, rope_max_wavelength: 10000}"
        ),
    ),
    "position_embedding": (["[4, 3]"], "{type: PositionEmbedding, sequence_length: 6}"),
    "position_embedding_free": (["[null, 3]"], "{type: PositionEmbedding, sequence_length: 8}"),
}


def body(case: str) -> str:
    shapes, layer = CASES[case]
    names = [f"x{i}" for i in range(len(shapes))]
    inputs = ", ".join(f"{{name: {n}, shape: {s}}}" for n, s in zip(names, shapes, strict=True))
    return (
        f"inputs: [{inputs}]\nlayers: [{layer[:-1]}, name: att, inputs: [{', '.join(names)}]}}]\n"
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_attention_layer(case: str, check) -> None:
    check(body(case))


def _heads(x: np.ndarray, w: dict, role: str, heads: int) -> np.ndarray:
    y = x @ w[f"{role}_W"] + w.get(f"{role}_B", 0.0)
    return y.reshape(*y.shape[:2], heads, -1)  # (batch, steps, heads, size)


def reference(node, xs: list[np.ndarray], w: dict[str, np.ndarray]) -> np.ndarray:
    """Keras's attention: per-head projections, kv heads repeated for grouped queries,
    softmax(q·kᵀ / sqrt(head size)) with an optional causal mask, output projection."""
    a = node.args
    query, value = xs[0], xs[1] if len(xs) > 1 else xs[0]
    key = xs[2] if len(xs) > 2 else value
    if node.type == "MultiHeadAttention":
        hq = hkv = a["num_heads"]
    else:
        hq, hkv = a["num_query_heads"], a["num_key_value_heads"]
    rope = a.get("rope_max_wavelength")
    q = rotary(_heads(query, w, "q", hq), rope)
    k = np.repeat(rotary(_heads(key, w, "k", hkv), rope), hq // hkv, axis=2)
    v = np.repeat(_heads(value, w, "v", hkv), hq // hkv, axis=2)
    scale = a.get("scale") or 1 / np.sqrt(q.shape[-1])
    scores = np.einsum("bthd,bshd->bhts", q, k) * scale
    if a["causal"]:
        steps, sources = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((steps, sources), bool)), scores, -np.inf)
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    context = np.einsum("bhts,bshd->bthd", probs, v)
    return context.reshape(*context.shape[:2], -1) @ w["out_W"] + w.get("out_B", 0.0)


@pytest.mark.parametrize("case", sorted(c for c in CASES if not c.startswith("position")))
def test_attention_matches_numpy(case: str, load_spec, forward) -> None:
    graph = load_spec(body(case))
    node = graph.node("att")
    rng = np.random.default_rng(6)
    xs = {
        name: rng.standard_normal(
            (2, *(7 if d is None else d for d in graph.node(name).output_shape))
        ).astype(np.float32)
        for name in graph.inputs
    }
    weights = {
        t.name: rng.standard_normal(t.shape).astype(np.float32) / 2 for t in node.weights["onnx"]
    }
    (y,) = forward(body(case), xs, {"att": weights})
    expected = reference(node, [xs[n] for n in graph.inputs], weights)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_causal_attention_ignores_later_steps(forward) -> None:
    """Changing the last step leaves every earlier output step as it was."""
    text = body("mha_self_causal_free")
    x = np.random.default_rng(7).standard_normal((1, 4, 6)).astype(np.float32)
    changed = x.copy()
    changed[:, -1] += 10.0
    (y,), (z,) = forward(text, {"x0": x}), forward(text, {"x0": changed})
    np.testing.assert_allclose(y[:, :-1], z[:, :-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(y[:, -1], z[:, -1])


def test_position_embedding_returns_the_first_rows(forward) -> None:
    table = np.arange(24, dtype=np.float32).reshape(8, 3)
    x = np.zeros((2, 5, 3), np.float32)
    (y,) = forward(body("position_embedding_free"), {"x0": x}, {"att": {"embeddings": table}})
    np.testing.assert_array_equal(y, np.broadcast_to(table[:5], (2, 5, 3)))


def test_position_embedding_added_to_tokens(forward) -> None:
    text = """
        inputs: [{name: ids, shape: [4], dtype: int64}]
        layers:
          - {type: Embedding, input_dim: 10, output_dim: 3, name: tokens}
          - {type: PositionEmbedding, sequence_length: 4, name: positions}
          - {type: Add, inputs: [tokens, positions]}
    """
    vocab = np.arange(30, dtype=np.float32).reshape(10, 3)
    table = -np.arange(12, dtype=np.float32).reshape(4, 3)
    ids = np.array([[1, 2, 3, 4], [9, 0, 0, 9]], np.int64)
    weights = {"tokens": {"embeddings": vocab}, "positions": {"embeddings": table}}
    (y,) = forward(text, {"ids": ids}, weights)
    np.testing.assert_array_equal(y, vocab[ids] + table)
