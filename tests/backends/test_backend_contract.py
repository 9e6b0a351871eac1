"""Meta-tests over the backends: they mirror each other, and every IR layer type is either
built by each backend or declared unsupported there with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

import backends
from translator.ir import FRAMEWORKS
from translator.ops import FAMILIES
from translator.spec.schema import SCHEMAS

ROOT = Path(backends.__file__).parent
# Beside the families: the model assembly, weights by layer and tensor, and export.
MODULES = sorted(["__init__", "model", "weights", "export", *FAMILIES])
# A backend that imports saved models of its framework has the importers' registry in one
# module more (the family importers are in the families), and the reading of its files in
# another (ONNX and PyTorch check the untrusted files before loading; Keras loads in safe
# mode and walks the functional graph); PyTorch reads a program's inputs, outputs and values
# computed from no input in one more (program); the attention that importers read whole has
# modules of its own: Keras's layers called with keyword arguments (attention_importing),
# Hugging Face's forms in a program (attention_reading), and in ONNX the attention subgraph
# (attention_reading, attention_layers, with its masks and rotary embeddings) and the
# activations and norms written out operator by operator (composite_reading).
IMPORTING = {
    "keras": ["attention_importing", "importing", "reading"],
    "onnx": [
        "attention_layers",
        "attention_reading",
        "bidirectional_reading",
        "cell_reading",
        "composite_reading",
        "importing",
        "loop_reading",
        "mask_reading",
        "normalization_reading",
        "reading",
        "recurrent_reading",
        "relu_reading",
        "resampling_reading",
        "rotary_reading",
        "sized_reading",
        "step_reading",
        "tensorflow_reading",
        "unrolled_reading",
    ],
    "torch": ["attention_reading", "importing", "program", "reading"],
}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_backends_mirror_the_families(framework: str) -> None:
    found = sorted(p.stem for p in (ROOT / framework).glob("*.py"))
    assert found == sorted(MODULES + IMPORTING.get(framework, []))


@pytest.mark.frameworks
@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("layer_type", list(SCHEMAS))
def test_every_layer_type_is_built_or_declared_unsupported(framework: str, layer_type: str) -> None:
    registry = backends.load(framework).BUILDERS
    assert registry.covers(layer_type), f"{framework} neither builds nor declines {layer_type}"
    if layer_type in registry.gaps:
        assert len(registry.gaps[layer_type].split()) >= 4, "the reason must say why"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_backend_interface(framework: str) -> None:
    module = backends.load(framework)
    names = ("NAME", "BUILDERS", "build", "measure", "run")
    weights = ("get_weights", "set_weights", "load_weights_file", "layer_outputs")
    for name in names + weights:
        assert hasattr(module, name), f"backends.{framework} lacks {name}"
    assert framework == module.NAME
