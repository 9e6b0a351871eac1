"""T5's relative position bias and unscaled attention (RelativePositionBias feeding a
MultiHeadAttention with ``attention_bias: true``) against Hugging Face's own
``T5Attention`` with the same weights, in all three frameworks: bidirectional (T5's encoder)
and causal (its decoder's self-attention), sequences shorter and longer than max_distance."""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness import forward
from translator.ir import FRAMEWORKS
from translator.ops.position_bias import buckets
from translator.spec.loader import load_text
from translator.weights.canonical import from_canonical

transformers = pytest.importorskip(
    "transformers", reason="transformers (the hf extra) is not installed"
)
torch = pytest.importorskip("torch")
from transformers.models.t5.modeling_t5 import T5Attention  # noqa: E402

pytestmark = pytest.mark.frameworks

SPEC = """
name: t5_attention
inputs: [{{name: x, shape: [{steps}, 16]}}]
layers:
  - {{name: bias, type: RelativePositionBias, num_heads: 2, num_buckets: {buckets},
      max_distance: {distance}, bidirectional: {bidirectional}}}
  - {{name: att, type: MultiHeadAttention, num_heads: 2, key_dim: 8, use_bias: false,
      scale: 1.0, attention_bias: true, causal: {causal}, inputs: [x, bias]}}
"""
# (steps, num_buckets, max_distance): saturating (steps > max_distance) and T5's defaults.
SIZES = [(9, 8, 5), (12, 32, 128)]
ATOL = 1e-5  # float32 through different kernels; differences seen below 2e-7


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize(("num_buckets", "max_distance"), [(32, 128), (8, 5), (10, 30), (6, 4)])
def test_buckets_are_t5s(num_buckets: int, max_distance: int, bidirectional: bool) -> None:
    relative = torch.arange(-max_distance, max_distance + 1)
    expected = T5Attention._relative_position_bucket(
        relative, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    assert buckets(num_buckets, max_distance, bidirectional) == expected.tolist()


def _t5(steps: int, num_buckets: int, max_distance: int, decoder: bool) -> T5Attention:
    config = transformers.T5Config(
        d_model=16,
        d_kv=8,
        num_heads=2,
        relative_attention_num_buckets=num_buckets,
        relative_attention_max_distance=max_distance,
        is_decoder=decoder,
    )
    return T5Attention(config, has_relative_attention_bias=True, layer_idx=0).eval()


def _canonical(t5: T5Attention) -> dict[str, np.ndarray]:
    """T5's weights as canonical (Keras-layout) tensors: kernels (in, heads, size)."""
    kernel = {r: getattr(t5, r).weight.detach().numpy().T for r in ("q", "k", "v", "o")}
    return {
        "bias/embeddings": t5.relative_attention_bias.weight.detach().numpy(),
        "att/query_kernel": kernel["q"].reshape(16, 2, 8),
        "att/key_kernel": kernel["k"].reshape(16, 2, 8),
        "att/value_kernel": kernel["v"].reshape(16, 2, 8),
        "att/output_kernel": kernel["o"].reshape(2, 8, 16),
    }


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("decoder", [False, True], ids=["encoder", "decoder"])
@pytest.mark.parametrize(("steps", "num_buckets", "max_distance"), SIZES)
def test_attention_is_t5s(
    framework: str, decoder: bool, steps: int, num_buckets: int, max_distance: int
) -> None:
    t5 = _t5(steps, num_buckets, max_distance, decoder)
    flags = {"bidirectional": str(not decoder).lower(), "causal": str(decoder).lower()}
    text = SPEC.format(steps=steps, buckets=num_buckets, distance=max_distance, **flags)
    weights = from_canonical(load_text(text), framework, _canonical(t5))
    x = np.random.default_rng(4).standard_normal((2, steps, 16)).astype(np.float32)
    (ours,) = forward(text, framework, {"x": x}, weights)
    mask = None
    if decoder:  # T5's decoder adds its causal mask to the position bias
        hidden = torch.ones(steps, steps, dtype=torch.bool).triu(1)
        mask = torch.zeros(steps, steps).masked_fill(hidden, torch.finfo(torch.float32).min)
    with torch.no_grad():
        expected = t5(torch.from_numpy(x), mask=mask if mask is None else mask[None, None])[0]
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-5, atol=ATOL)
