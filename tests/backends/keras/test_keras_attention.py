"""MultiHeadAttention, GroupQueryAttention (self- and cross-attention, causal, with and
without biases, other head and output sizes) and PositionEmbedding; against Keras's own
layers called the usual way and against numpy (scores scaled by 1/sqrt(head size), a causal
mask that lets step t see steps <= t, key/value heads repeated consecutively)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from backends.keras.export import export_model
from tests.harness import check_spec, one_layer
from translator.errors import UnsupportedInBackend
from translator.spec.loader import load_text

pytestmark = pytest.mark.keras

CROSS = """
name: t
inputs:
  - {name: q, shape: [4, 6]}
  - {name: v, shape: [5, 3]}
  - {name: k, shape: [5, 2]}
layers:
  - {name: att, LAYER, inputs: INPUTS}
"""
MHA = "type: MultiHeadAttention, num_heads: 2, key_dim: 3"
GQA = "type: GroupQueryAttention, head_dim: 2, num_query_heads: 4, num_key_value_heads: 2"
LAYERS = [
    MHA,
    f"{MHA}, causal: true, dropout: 0.5",
    f"{MHA}, value_dim: 2, output_shape: 5, use_bias: false",
    "type: MultiHeadAttention, num_heads: 3, key_dim: 2",  # nn.MultiheadAttention's sizes
    GQA,
    f"{GQA}, causal: true, use_bias: false",
    f"{GQA}, causal: true, rope_max_wavelength: 10000",
    "type: GroupQueryAttention, head_dim: 3, num_query_heads: 2, num_key_value_heads: 2",
]


@pytest.mark.parametrize("inputs", ["q", "[q, v]", "[q, v, k]"])
@pytest.mark.parametrize("layer", LAYERS)
def test_attention_layer(layer: str, inputs: str) -> None:
    check_spec(CROSS.replace("LAYER", layer).replace("INPUTS", inputs), "keras")


@pytest.mark.parametrize("layer", [f"{{{MHA}, causal: true}}", f"{{{GQA}}}"])
def test_self_attention_over_free_steps(layer: str) -> None:
    check_spec(one_layer(layer, "[null, 6]"), "keras")


def _keras_weights(layer) -> dict[str, np.ndarray]:
    """Random weights set on ``layer``, keyed by path inside it (``query/kernel``, ...)."""
    rng = np.random.default_rng(8)
    values = [rng.uniform(-1, 1, w.shape).astype(np.float32) for w in layer.weights]
    layer.set_weights(values)
    return {w.path.split("/", 1)[1]: v for w, v in zip(layer.weights, values, strict=True)}


def _project(x: np.ndarray, w: dict[str, np.ndarray], role: str) -> np.ndarray:
    """(batch, steps, heads, size): Keras's EinsumDense with a (in, heads, size) kernel."""
    y = np.einsum("btd,dhs->bths", x, w[f"{role}/kernel"])
    return y + w[f"{role}/bias"] if f"{role}/bias" in w else y


def reference(query, value, key, w, causal: bool, repeats: int = 1, scale=None) -> np.ndarray:
    q, k, v = (_project(x, w, r) for x, r in ((query, "query"), (key, "key"), (value, "value")))
    k, v = np.repeat(k, repeats, axis=2), np.repeat(v, repeats, axis=2)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("bths,buhs->bhtu", q, k) * scale
    if causal:
        t, u = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((t, u), bool)), scores, -np.inf)
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    out = np.einsum("bhtu,buhs->bths", p, v)
    out = np.einsum("bths,hso->bto", out, w["attention_output/kernel"])
    return out + w["attention_output/bias"] if "attention_output/bias" in w else out


NUMERIC = [
    (MHA, "[q, v, k]", 1),
    (f"{MHA}, causal: true, value_dim: 2, output_shape: 5", "[q, v, k]", 1),
    (f"{MHA}, causal: true, use_bias: false", "q", 1),
    (f"{GQA}, causal: true", "[q, v, k]", 2),
    (f"{GQA}, use_bias: false", "[q, v]", 2),
    ("type: GroupQueryAttention, head_dim: 3, num_query_heads: 3, num_key_value_heads: 1", "q", 3),
    (f"{MHA}, key_bias: false, scale: 1.0", "[q, v, k]", 1),  # Whisper's key, T5's scale
    (f"{MHA}, use_bias: false, value_bias: true, output_bias: true, causal: true", "q", 1),
]


@pytest.mark.parametrize(("layer", "inputs", "repeats"), NUMERIC)
def test_attention_matches_numpy(layer: str, inputs: str, repeats: int) -> None:
    case = check_spec(CROSS.replace("LAYER", layer).replace("INPUTS", inputs), "keras")
    w = _keras_weights(case.layer("att"))
    (out,) = case.run(**case.inputs)
    query = case.inputs["q"]
    value = case.inputs["v"] if "v" in inputs else query
    key = case.inputs["k"] if "k" in inputs else value
    args = case.graph.node("att").args
    expected = reference(query, value, key, w, args["causal"], repeats, args.get("scale"))
    np.testing.assert_allclose(out, expected, atol=1e-5)


STOCK = [
    (keras.layers.MultiHeadAttention, MHA, {"num_heads": 2, "key_dim": 3}),
    (
        keras.layers.MultiHeadAttention,
        f"{MHA}, value_dim: 2, output_shape: 5, dropout: 0.3",
        {"num_heads": 2, "key_dim": 3, "value_dim": 2, "output_shape": 5, "dropout": 0.3},
    ),
    (
        keras.layers.GroupQueryAttention,
        GQA,
        {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2},
    ),
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("stock_class", "layer", "kwargs"), STOCK)
def test_attention_equals_keras_layer_called_the_usual_way(
    stock_class, layer: str, kwargs: dict, causal: bool
) -> None:
    spec = CROSS.replace("LAYER", f"{layer}, causal: {str(causal).lower()}")
    # Keras's GroupQueryAttention wants query and value of the same width: self-attention.
    inputs = "q" if stock_class is keras.layers.GroupQueryAttention else "[q, v, k]"
    case = check_spec(spec.replace("INPUTS", inputs), "keras")
    ours = case.layer("att")
    stock = stock_class(**kwargs, name="att")
    q = case.inputs["q"]
    v, k = (case.inputs["v"], case.inputs["k"]) if inputs != "q" else (q, q)
    stock(q, v, k)  # builds it
    assert [w.path for w in stock.weights] == [w.path for w in ours.weights]
    stock.set_weights(ours.get_weights())
    expected = stock(q, v, k, use_causal_mask=causal, training=False).numpy()
    np.testing.assert_allclose(case.outputs[0], expected, atol=1e-6)


@pytest.mark.parametrize("own", ["key_bias: false", "scale: 1.0"])
def test_keras_export_refuses_what_no_built_in_layer_computes(own: str) -> None:
    graph = load_text(CROSS.replace("LAYER", f"{MHA}, {own}").replace("INPUTS", "q"))
    with pytest.raises(UnsupportedInBackend, match="one use_bias for all projections"):
        export_model(graph)


def test_position_embedding_returns_its_first_rows() -> None:
    spec = """
name: t
inputs:
  - {name: x, shape: [null, 3]}
layers:
  - {name: pos, type: PositionEmbedding, sequence_length: 8}
  - {name: sum, type: Add, inputs: [x, pos]}
outputs: [pos, sum]
"""
    case = check_spec(spec, "keras")
    table = case.layer("pos").embeddings.numpy()
    assert table.shape == (8, 3)
    x = case.inputs["x"]  # 5 steps
    pos, total = case.outputs
    np.testing.assert_array_equal(pos, np.broadcast_to(table[:5], x.shape))
    np.testing.assert_allclose(total, x + table[:5], atol=1e-6)
    (pos_long, _) = case.run(x=np.zeros((1, 8, 3), np.float32))
    np.testing.assert_array_equal(pos_long[0], table)
