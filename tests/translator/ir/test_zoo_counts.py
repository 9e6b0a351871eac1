"""The zoo's published parameter counts, predicted by the IR (the real frameworks are checked
against the same figures in tests/end_to_end/test_zoo.py)."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, ZOO
from translator.commands.compare import count_report
from translator.spec.loader import load

# spec → framework → (total, trainable); None where the framework has no trainable split.
PUBLISHED = {
    "lenet5": {"keras": (61_706, 61_706), "torch": (61_706, 61_706), "onnx": (61_706, None)},
    "vgg16": {
        fw: (138_357_544, 138_357_544 if fw != "onnx" else None)
        for fw in ("keras", "torch", "onnx")
    },
    # keras.applications.ResNet50: 25,636,712, of which 25,583,592 trainable; PyTorch keeps the
    # 53,120 BatchNorm statistics as buffers, so its parameter count is the trainable one.
    "resnet50": {
        "keras": (25_636_712, 25_583_592),
        "torch": (25_583_592, 25_583_592),
        "onnx": (25_636_712, None),
    },
    # keras.applications.MobileNetV2: 3,538,984, 3,504,872 trainable (= torchvision's count).
    "mobilenet_v2": {
        "keras": (3_538_984, 3_504_872),
        "torch": (3_504_872, 3_504_872),
        "onnx": (3_538_984, None),
    },
    "bert_base": {
        fw: (109_482_240, 109_482_240 if fw != "onnx" else None)
        for fw in ("keras", "torch", "onnx")
    },
    "gpt2_small": {
        fw: (124_439_808, 124_439_808 if fw != "onnx" else None)
        for fw in ("keras", "torch", "onnx")
    },
    # torchvision's models (tests/end_to_end/torchvision_references.py re-implements them):
    # no BatchNorm in AlexNet and SqueezeNet; ResNet's statistics are PyTorch buffers.
    "alexnet": {
        fw: (61_100_840, 61_100_840 if fw != "onnx" else None) for fw in ("keras", "torch", "onnx")
    },
    "squeezenet1_0": {
        fw: (1_248_424, 1_248_424 if fw != "onnx" else None) for fw in ("keras", "torch", "onnx")
    },
    "resnet18": {
        "keras": (11_699_112, 11_689_512),
        "torch": (11_689_512, 11_689_512),
        "onnx": (11_699_112, None),
    },
    "resnet50_torchvision": {
        "keras": (25_610_152, 25_557_032),
        "torch": (25_557_032, 25_557_032),
        "onnx": (25_610_152, None),
    },
    # Hugging Face's ViTModel (google/vit-base-patch16-224-in21k, with its pooler).
    "vit_b16": {
        fw: (86_389_248, 86_389_248 if fw != "onnx" else None) for fw in ("keras", "torch", "onnx")
    },
    # Hugging Face's T5Model of T5Config()'s defaults (t5-small): 60,506,624.
    "t5_small": {
        fw: (60_506_624, 60_506_624 if fw != "onnx" else None) for fw in ("keras", "torch", "onnx")
    },
    # Hugging Face's WhisperModel(whisper-tiny config).encoder: 8,208,384, of which the
    # 576,000 of the fixed position table are frozen (requires_grad False; trainable: false).
    "whisper_tiny_encoder": {
        "keras": (8_208_384, 7_632_384),
        "torch": (8_208_384, 7_632_384),
        "onnx": (8_208_384, None),
    },
    # Hugging Face's LlamaForCausalLM (meta-llama/Llama-2-7b-hf): 6,738,415,616.
    "llama2_7b": {
        fw: (6_738_415_616, 6_738_415_616 if fw != "onnx" else None)
        for fw in ("keras", "torch", "onnx")
    },
}


@pytest.mark.parametrize("spec", sorted(PUBLISHED))
def test_published_counts(spec: str) -> None:
    report = count_report(load(str(ROOT / "specs" / "zoo" / f"{spec}.yaml")))
    assert report.unexplained_total == 0
    for fw, (total, trainable) in PUBLISHED[spec].items():
        assert report.totals[fw]["total"] == total, fw
        if trainable is not None:
            assert report.totals[fw]["trainable"] == trainable, fw


@pytest.mark.parametrize("spec", ZOO, ids=[s.stem for s in ZOO])
def test_zoo_spec_is_valid_and_explained(spec) -> None:
    text = spec.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../spec.schema.json")
    schema = json.loads((ROOT / "spec.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(text), schema)
    assert count_report(load(str(spec))).unexplained_total == 0


def test_resnet50_conv_biases_are_the_torchvision_difference() -> None:
    """keras.applications' ResNet-50 keeps a bias in every convolution that feeds a BatchNorm;
    torchvision drops them: those biases are exactly the difference of the two published counts."""
    graph = load(str(ROOT / "specs" / "zoo" / "resnet50.yaml"))
    report = count_report(graph)
    noted = [
        r
        for r in report.rows
        if any(e.rule == "conv-bias-before-batchnorm" for e in r.explanations)
    ]
    biases = sum(graph.node(r.name).args["filters"] for r in noted)
    assert len(noted) == 53
    assert biases == 25_583_592 - 25_557_032  # Keras trainable − torchvision: 26,560
