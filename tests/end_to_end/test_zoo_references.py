"""The zoo against the reference models themselves: each zoo spec counts, in the framework
the model comes from, what that library's own model holds, built here from the library
(keras.applications, Hugging Face ``transformers`` from a config; torchvision's models from
their plain ``torch.nn`` re-implementations in ``torchvision_references.py``), not copied by
hand. Buffers too: a reference's BatchNorm statistics are our PyTorch build's buffers, and
whatever else a reference keeps next to its weights (``position_ids``, rotary frequencies)
is listed with the reason in ``NOT_WEIGHTS``, which must stay exactly right.

The Hugging Face and torchvision models are built on PyTorch's ``meta`` device: every
parameter has its shape and no memory, so LLaMA-2-7B counts in a second.
``model.parameters()`` yields a tied matrix once, as the spec counts it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT
from translator.commands.compare import count_report
from translator.spec.loader import load

pytestmark = pytest.mark.frameworks


def _keras_application(name: str) -> Callable[[], Any]:
    """keras.applications' ``name`` without weights, built once per session."""

    @functools.cache
    def build() -> Any:
        import keras

        return getattr(keras.applications, name)(weights=None)

    return build


def _hugging_face(
    model_class: str, config_class: str, part: str = "", **config: Any
) -> Callable[[], Any]:
    """``model_class(config_class(**config))`` on the meta device, or its ``part`` (an
    attribute: ``encoder``)."""

    def build() -> Any:
        transformers = pytest.importorskip(
            "transformers", reason="transformers (the hf extra) is not installed"
        )
        import torch

        settings = getattr(transformers, config_class)(**config)
        with torch.device("meta"):
            model = getattr(transformers, model_class)(settings)
        return getattr(model, part) if part else model

    return build


# zoo spec → the reference model in Keras.
KERAS_REFERENCES = {
    "mobilenet_v2": _keras_application("MobileNetV2"),
    "resnet50": _keras_application("ResNet50"),
    "vgg16": _keras_application("VGG16"),
}
# zoo spec → the reference model in PyTorch.
TORCH_REFERENCES = {
    "bert_base": _hugging_face("BertModel", "BertConfig"),
    "gpt2_small": _hugging_face("GPT2LMHeadModel", "GPT2Config"),
    "llama2_7b": _hugging_face(
        "LlamaForCausalLM",
        "LlamaConfig",
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
        tie_word_embeddings=False,
    ),
    "t5_small": _hugging_face("T5Model", "T5Config"),
    "vit_b16": _hugging_face("ViTModel", "ViTConfig"),
    # openai/whisper-tiny's config.
    "whisper_tiny_encoder": _hugging_face(
        "WhisperModel",
        "WhisperConfig",
        part="encoder",
        d_model=384,
        encoder_layers=4,
        encoder_attention_heads=6,
        encoder_ffn_dim=1536,
        decoder_layers=4,
        decoder_attention_heads=6,
        decoder_ffn_dim=1536,
        num_mel_bins=80,
        max_source_positions=1500,
    ),
}


# zoo spec → torchvision's model of which it is a re-implementation's twin (see
# tests/end_to_end/torchvision_references.py: torchvision itself does not install here).
TORCHVISION_REFERENCES = {
    "alexnet": "alexnet",
    "mobilenet_v2": "mobilenet_v2",
    "resnet18": "resnet18",
    "resnet50_torchvision": "resnet50",
    "squeezenet1_0": "squeezenet1_0",
    "vgg16": "vgg16",
}


def _torchvision(name: str) -> Any:
    """torchvision's ``name`` re-implemented, on the meta device (shapes, no memory)."""
    import torch

    from tests.end_to_end.torchvision_references import MODELS

    with torch.device("meta"):
        return MODELS[name]()


TORCHVISION_BUILDS = {
    spec: functools.partial(_torchvision, name) for spec, name in TORCHVISION_REFERENCES.items()
}


def _predicted(spec: str) -> Any:
    return count_report(load(str(ROOT / "specs" / "zoo" / f"{spec}.yaml"))).totals


@pytest.mark.parametrize("spec", sorted(KERAS_REFERENCES))
def test_zoo_spec_counts_as_keras_applications(spec: str) -> None:
    model = KERAS_REFERENCES[spec]()
    trainable = sum(int(v.numpy().size) for v in model.trainable_weights)
    total = int(model.count_params())
    counted = {"total": total, "trainable": trainable, "non_trainable": total - trainable}
    assert _predicted(spec)["keras"] == counted


@pytest.mark.parametrize("spec", sorted(TORCH_REFERENCES))
def test_zoo_spec_counts_as_hugging_face(spec: str) -> None:
    model = TORCH_REFERENCES[spec]()
    assert _predicted(spec)["torch"]["total"] == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("spec", sorted(TORCHVISION_REFERENCES))
def test_zoo_spec_counts_as_torchvision(spec: str) -> None:
    """Parameters and buffers (BatchNorm's running statistics and num_batches_tracked)."""
    model = _torchvision(TORCHVISION_REFERENCES[spec])
    torch_totals = _predicted(spec)["torch"]
    assert torch_totals["total"] == sum(p.numel() for p in model.parameters())
    assert torch_totals["buffers"] == sum(b.numel() for b in model.buffers())


def _randomised(model: Any) -> Any:
    """``model`` on the CPU with seeded random weights and BatchNorm statistics, in eval mode
    (PyTorch's initialisation leaves the statistics at 0 and 1, which would hide a mix-up)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator) * 0.1
                tensor.copy_(values + 0.5 if name.endswith("running_var") else values - 0.05)
    return model.eval()


# Zoo specs whose torch build takes the reference's own weights, keyed by torchvision's
# state_dict names with each module path's dots as underscores (``layer2.0.downsample.0``
# → layer ``layer2_0_downsample_0``). AlexNet and VGG-16 (61 M and 138 M weights) are left
# out for memory, ResNet-50 for time (12 s on 2 shared cores; it passes): their layers are
# SqueezeNet's and ResNet-18's kinds.
PORTED = ("resnet18", "squeezenet1_0")


@pytest.mark.parametrize("spec", PORTED)
def test_zoo_spec_computes_the_torchvision_model(spec: str) -> None:
    """The reference's weights in our PyTorch build: the same logits on the same images
    (SqueezeNet's ceil-mode pools, ResNet's padded strided convolutions)."""
    import torch

    import backends
    from tests.end_to_end.torchvision_references import MODELS

    torch_backend = backends.load("torch")
    torch.manual_seed(0)
    reference = _randomised(MODELS[TORCHVISION_REFERENCES[spec]]())
    graph = load(str(ROOT / "specs" / "zoo" / f"{spec}.yaml"))
    weights: dict[str, dict[str, Any]] = {}
    for key, tensor in reference.state_dict().items():
        module, _, name = key.rpartition(".")
        weights.setdefault(module.replace(".", "_"), {})[name] = tensor.numpy()
    built = torch_backend.set_weights(torch_backend.build(graph), weights)
    image = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    (got,) = torch_backend.run(built, {"image": image.numpy()})
    with torch.no_grad():
        expected = reference(image).numpy()
    assert got.shape == expected.shape == (2, 1000)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# --- buffers: what a reference keeps next to its weights ------------------------------------

# PyTorch's BatchNorm statistics, and Keras's non-trainable weights of the same role (Keras
# has no num_batches_tracked: PyTorch keeps one more element per BatchNorm).
TORCH_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")
KERAS_STATISTICS = ("moving_mean", "moving_variance")
# (zoo spec, a reference's buffer that is no BatchNorm statistic, indices of repeated
# modules as *) → (whether its state_dict holds it, why it is no weight and what the spec
# does instead). The test below fails when a reference gains or loses such a buffer.
NOT_WEIGHTS: dict[tuple[str, str], tuple[bool, str]] = {
    ("bert_base", "embeddings.position_ids"): (
        False,
        (
            "the positions 0 .. 511 the position table is read at; the spec's PositionEmbedding"
            " reads its rows in order, with no index tensor"
        ),
    ),
    ("bert_base", "embeddings.token_type_ids"): (
        False,
        (
            "zeros, the segment ids BertModel uses when none are given; the spec takes segment_ids"
            " as an input"
        ),
    ),
    ("llama2_7b", "model.rotary_emb.inv_freq"): (
        False,
        (
            "the rotary frequencies 1 / 10000^(2i / 128), computed from rope_theta; the spec's"
            " rope_max_wavelength computes them as the layer runs"
        ),
    ),
    ("llama2_7b", "model.rotary_emb.original_inv_freq"): (
        False,
        (
            "a copy of inv_freq kept for dynamic rotary scaling, which the default rope_type"
            " never applies"
        ),
    ),
}


def _torch_buffers(model: Any) -> tuple[int, dict[str, bool]]:
    """The elements of BatchNorm statistics, and every other buffer (indices as *) → whether
    the state_dict holds it."""
    kept = set(model.state_dict())
    statistics, others = 0, {}
    for name, buffer in model.named_buffers():
        if name.rpartition(".")[2] in TORCH_STATISTICS:
            statistics += buffer.numel()
        else:
            others[re.sub(r"\.\d+\.", ".*.", name)] = name in kept
    return statistics, others


def _keras_buffers(model: Any) -> tuple[int, dict[str, bool]]:
    """As ``_torch_buffers``, for the non-trainable weights of a Keras model (saved, all),
    the statistics counted as PyTorch would keep them (one num_batches_tracked each)."""
    statistics, others = 0, {}
    for variable in model.non_trainable_weights:
        role = variable.path.rpartition("/")[2]
        if role in KERAS_STATISTICS:
            statistics += int(variable.numpy().size) + (role == "moving_mean")
        else:
            others[variable.path] = True
    return statistics, others


BUFFERS: dict[str, Callable[[], tuple[int, dict[str, bool]]]] = {
    **{s: lambda s=s: _keras_buffers(KERAS_REFERENCES[s]()) for s in KERAS_REFERENCES},
    **{s: lambda s=s: _torch_buffers(TORCH_REFERENCES[s]()) for s in TORCH_REFERENCES},
    **{s: lambda s=s: _torch_buffers(TORCHVISION_BUILDS[s]()) for s in TORCHVISION_BUILDS},
}
# Both keras.applications and torchvision hold these two: the same statistics either way.
BUFFERS |= {f"{s} (keras)": BUFFERS[s] for s in ("mobilenet_v2", "vgg16")}
BUFFERS |= {
    s: (lambda s=s: _torch_buffers(TORCHVISION_BUILDS[s]())) for s in ("mobilenet_v2", "vgg16")
}


@pytest.mark.parametrize("reference", sorted(BUFFERS))
def test_reference_buffers_are_statistics_or_listed(reference: str) -> None:
    """The reference's BatchNorm statistics are our PyTorch build's buffers, element for
    element; any other buffer it keeps is in ``NOT_WEIGHTS``, with whether it is saved."""
    spec = reference.removesuffix(" (keras)")
    statistics, others = BUFFERS[reference]()
    assert statistics == _predicted(spec)["torch"]["buffers"]
    listed = {name: kept for (s, name), (kept, _) in NOT_WEIGHTS.items() if s == spec}
    assert others == listed
