"""``trainable: false`` (framework-free): on any layer, a wrapped layer, a block instance;
every weight of the layer becomes non-trainable in Keras and PyTorch (buffers stay buffers,
ONNX has only initializers), and a value other than a boolean is one error line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from translator.cli import main
from translator.errors import SpecErrors
from translator.spec.loader import load_text

HEAD = "name: m\ninputs:\n  - {name: x, shape: [6, 6, 3]}\n"

# (id, layers, layer → frozen?) over every layer of the spec.
CASES = [
    (
        "one-layer",
        (
            "layers:\n  - {type: Conv2D, filters: 4, kernel_size: 3, trainable: false}\n"
            "  - {type: Dense, units: 2}\n"
        ),
        {"conv2d": True, "dense": False},
    ),
    (
        "explicit-true",
        "layers:\n  - {type: Dense, units: 2, trainable: true}\n",
        {"dense": False},
    ),
    (
        "batchnorm-statistics-and-scale",
        "layers:\n  - {type: BatchNormalization, trainable: false}\n",
        {"batch_normalization": True},
    ),
    (
        "wrapped-layer",
        "layers:\n  - {type: TimeDistributed, layer: {type: Dense, units: 2, trainable: false}}\n",
        {"time_distributed": True},
    ),
    (
        "frozen-wrapper",
        (
            "layers:\n  - type: Bidirectional\n    trainable: false\n"
            "    layer: {type: LSTM, units: 2}\n    inputs: x\n"
        ),
        {"bidirectional": True},
    ),
    (
        "block-instance",
        (
            "blocks:\n  unit:\n    layers:\n"
            "      - {type: Conv2D, filters: 2, kernel_size: 1, name: conv}\n"
            "      - {type: BatchNormalization, name: bn}\n"
            "layers:\n  - {block: unit, name: stem, trainable: false}\n  - {block: unit, name: body}\n"
        ),
        {"stem_conv": True, "stem_bn": True, "body_conv": False, "body_bn": False},
    ),
    (
        "shared-follows-its-original",
        (
            "layers:\n  - {type: Dense, units: 3, name: enc, trainable: false}\n"
            "  - {share: enc, inputs: x, name: again}\n"
        ),
        {"enc": True, "again": True},
    ),
]


def _spec(layers: str) -> str:
    head = HEAD.replace("[6, 6, 3]", "[5, 3]") if "LSTM" in layers else HEAD
    return head + layers


@pytest.mark.parametrize(("layers", "frozen"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_frozen_layers_weights_are_not_trainable(layers: str, frozen: dict[str, bool]) -> None:
    graph = load_text(_spec(layers))
    for node in graph.layers:
        assert node.frozen is frozen[node.name], node.name
        for fw in ("keras", "torch"):
            trains = any(w.trainable for w in node.weights[fw] if not w.buffer)
            assert trains is not frozen[node.name], (node.name, fw)
        assert all(w.trainable for w in node.weights["onnx"])  # ONNX: no such notion


def test_buffers_stay_buffers_and_counts_move_to_non_trainable() -> None:
    plain = load_text(_spec("layers:\n  - {type: BatchNormalization}\n"))
    frozen = load_text(_spec("layers:\n  - {type: BatchNormalization, trainable: false}\n"))
    assert [w.buffer for w in frozen.layers[0].weights["torch"]] == [
        w.buffer for w in plain.layers[0].weights["torch"]
    ]
    for fw in ("keras", "torch", "onnx"):
        before, after = plain.counts(fw), frozen.counts(fw)
        assert after["total"] == before["total"], fw
        if fw != "onnx":
            assert after["trainable"] == 0 and after["non_trainable"] == before["total"], fw
    assert frozen.counts("torch")["buffers"] == plain.counts("torch")["buffers"] == 2 * 3 + 1


# (id, layers, "LINE:COL", fragments of the message)
ERRORS = [
    (
        "string",
        "layers:\n  - {type: Dense, units: 2, trainable: 'no'}\n",
        "5:40",
        ["layer 'dense' (Dense): invalid value for 'trainable'", "Received: trainable='no'"],
    ),
    (
        "number-in-wrapped-layer",
        "layers:\n  - {type: TimeDistributed, layer: {type: Dense, units: 2, trainable: 0}}\n",
        "5:71",
        ["layer 'dense' (Dense): invalid value for 'trainable'", "true or false"],
    ),
    (
        "block-instance",
        (
            "blocks:\n  unit:\n    layers: [{type: Dense, units: 2}]\n"
            "layers:\n  - {block: unit, trainable: null}\n"
        ),
        "8:30",
        ["a block instance's 'trainable' must be true or false", "Received: trainable=None"],
    ),
    (
        "shared-layer",
        (
            "layers:\n  - {type: Dense, units: 2, name: enc}\n"
            "  - {share: enc, inputs: x, trainable: false}\n"
        ),
        "6:29",
        ["takes only share, name, inputs; got 'trainable'"],
    ),
]


@pytest.mark.parametrize(
    ("layers", "where", "fragments"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_trainable_other_than_a_boolean_is_one_line_exit_2(
    layers: str,
    where: str,
    fragments: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SpecErrors):
        load_text(_spec(layers))
    path = tmp_path / "bad.yaml"
    path.write_text(_spec(layers), encoding="utf-8")
    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"{path}:{where}: error: ")
    for fragment in fragments:
        assert fragment in line
