"""The T5 and Whisper zoo specs compute what Hugging Face's models compute: the reference
model (``transformers``, randomly initialised) gives its weights to the spec, mapped to
canonical tensors here, and both run on the same inputs in each framework. Whisper's
reference has a position table of 8 rows (``transformers`` insists on exactly
``max_source_positions`` positions), the spec's first 8 rows of 1500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.harness import forward
from translator.ir import FRAMEWORKS
from translator.spec.loader import load_text
from translator.weights.canonical import from_canonical

transformers = pytest.importorskip(
    "transformers", reason="transformers (the hf extra) is not installed"
)
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.frameworks

ATOL = 1e-4  # float32 through 12 layers of 512 features in different kernels


def _t(tensor: Any) -> np.ndarray:
    return tensor.detach().numpy()


def _heads(prefix: str, module: Any, names: tuple[str, str, str, str], heads: int) -> dict:
    """Keras-layout kernels (in, heads, size), (heads, size, out) and biases of an attention
    whose projections are ``names`` (query, key, value, output) Linears of ``module``."""
    out = {}
    for role, name in zip(("query", "key", "value", "output"), names, strict=True):
        linear = getattr(module, name)
        kernel = _t(linear.weight).T
        shape = (heads, -1, kernel.shape[1]) if role == "output" else (kernel.shape[0], heads, -1)
        out[f"{prefix}/{role}_kernel"] = kernel.reshape(shape)
        if linear.bias is not None:
            bias = _t(linear.bias)
            out[f"{prefix}/{role}_bias"] = bias if role == "output" else bias.reshape(heads, -1)
    return out


def _t5_layer(prefix: str, block: Any, decoder: bool) -> dict[str, np.ndarray]:
    layers = block.layer
    out = {f"{prefix}_attention_norm/gamma": _t(layers[0].layer_norm.weight)}
    out |= _heads(f"{prefix}_attention", layers[0].SelfAttention, ("q", "k", "v", "o"), 8)
    if decoder:
        out[f"{prefix}_cross_norm/gamma"] = _t(layers[1].layer_norm.weight)
        out |= _heads(
            f"{prefix}_cross_attention", layers[1].EncDecAttention, ("q", "k", "v", "o"), 8
        )
    ffn = layers[-1]
    out[f"{prefix}_ffn_norm/gamma"] = _t(ffn.layer_norm.weight)
    out[f"{prefix}_wi/kernel"] = _t(ffn.DenseReluDense.wi.weight).T
    out[f"{prefix}_wo/kernel"] = _t(ffn.DenseReluDense.wo.weight).T
    return out


def t5_small() -> tuple[Any, dict[str, np.ndarray], Callable[..., list[np.ndarray]]]:
    model = transformers.T5Model(transformers.T5Config()).eval()
    canonical = {"shared/embeddings": _t(model.shared.weight)}
    for stack in ("encoder", "decoder"):
        part = getattr(model, stack)
        bias = part.block[0].layer[0].SelfAttention.relative_attention_bias
        canonical[f"{stack}_position_bias/embeddings"] = _t(bias.weight)
        canonical[f"{stack}_final_norm/gamma"] = _t(part.final_layer_norm.weight)
        for i, block in enumerate(part.block):
            canonical |= _t5_layer(f"{stack}_{i + 1}", block, stack == "decoder")

    def run(input_ids: np.ndarray, decoder_input_ids: np.ndarray) -> list[np.ndarray]:
        ids = torch.from_numpy(input_ids.astype(np.int64))
        out = model(
            input_ids=ids, decoder_input_ids=torch.from_numpy(decoder_input_ids.astype(np.int64))
        )
        return [_t(out.last_hidden_state), _t(out.encoder_last_hidden_state)]

    return model, canonical, run


def whisper_tiny_encoder() -> tuple[Any, dict[str, np.ndarray], Callable[..., list[np.ndarray]]]:
    config = transformers.WhisperConfig(
        d_model=384,
        encoder_layers=4,
        encoder_attention_heads=6,
        encoder_ffn_dim=1536,
        num_mel_bins=80,
        max_source_positions=8,
    )
    encoder = transformers.WhisperModel(config).encoder.eval()
    table = np.zeros((1500, 384), np.float32)
    table[:8] = _t(encoder.embed_positions.weight)
    canonical = {"embed_positions/embeddings": table}
    for conv in ("conv1", "conv2"):
        canonical[f"{conv}/kernel"] = _t(getattr(encoder, conv).weight).transpose(2, 1, 0)
        canonical[f"{conv}/bias"] = _t(getattr(encoder, conv).bias)
    for i, layer in enumerate(encoder.layers):
        p = f"layers_{i + 1}"
        names = ("q_proj", "k_proj", "v_proj", "out_proj")
        canonical |= _heads(f"{p}_attention", layer.self_attn, names, 6)
        for norm, theirs in (
            ("attention_norm", "self_attn_layer_norm"),
            ("ffn_norm", "final_layer_norm"),
        ):
            canonical[f"{p}_{norm}/gamma"] = _t(getattr(layer, theirs).weight)
            canonical[f"{p}_{norm}/beta"] = _t(getattr(layer, theirs).bias)
        for fc in ("fc1", "fc2"):
            canonical[f"{p}_{fc}/kernel"] = _t(getattr(layer, fc).weight).T
            canonical[f"{p}_{fc}/bias"] = _t(getattr(layer, fc).bias)
    canonical["layer_norm/gamma"] = _t(encoder.layer_norm.weight)
    canonical["layer_norm/beta"] = _t(encoder.layer_norm.bias)

    def run(input_features: np.ndarray) -> list[np.ndarray]:
        return [_t(encoder(torch.from_numpy(input_features)).last_hidden_state)]

    return encoder, canonical, run


REFERENCES = {"t5_small": t5_small, "whisper_tiny_encoder": whisper_tiny_encoder}


def _inputs(spec: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if spec == "t5_small":
        return {
            n: rng.integers(0, 32128, (2, 8)).astype(np.int32)
            for n in ("input_ids", "decoder_input_ids")
        }
    return {"input_features": rng.standard_normal((2, 80, 16)).astype(np.float32)}


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("spec", sorted(REFERENCES))
def test_zoo_spec_computes_what_hugging_face_computes(spec: str, framework: str) -> None:
    torch.manual_seed(0)
    _, canonical, run = REFERENCES[spec]()
    text = (ROOT / "specs" / "zoo" / f"{spec}.yaml").read_text(encoding="utf-8")
    weights = from_canonical(load_text(text), framework, canonical)
    inputs = _inputs(spec, np.random.default_rng(5))
    ours = forward(text, framework, inputs, weights)
    with torch.no_grad():
        expected = run(**inputs)
    for got, want in zip(ours, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=ATOL)
