"""Attributing an ONNX file's tensors to the spec's layers, on small graphs written here with
``onnx.helper`` in each exporter's naming: by name, by the scope of the operators that read a
tensor (TorchScript's node names, dynamo's ``name_scopes``, tf2onnx's ``<layer>_1``), through
Identity renames (deduplicated initializers), and by the order of Conv operators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from translator.spec.loader import load_text
from translator.weights.onnx_graph import read_onnx

SPEC = """
name: two_dense
inputs: [{name: x, shape: [4]}]
layers:
  - {name: fc, type: Dense, units: 4}
  - {name: out, type: Dense, units: 4}
"""
CONVS = """
name: two_convs
data_format: channels_first
inputs: [{name: x, shape: [2, 8, 8]}]
layers:
  - {name: first, type: Conv2D, filters: 3, kernel_size: 3, use_bias: false}
  - {name: second, type: Conv2D, filters: 5, kernel_size: 3, use_bias: false}
"""


def write(path: Path, nodes: list[Any], inits: dict[str, tuple[int, ...]], producer: str) -> str:
    from onnx import TensorProto, helper, numpy_helper, save

    tensors = [numpy_helper.from_array(np.zeros(s, np.float32), n) for n, s in inits.items()]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], tensors))
    model.producer_name = producer
    save(model, str(path))
    return str(path)


def node(op: str, name: str, inputs: list[str], output: str, scope: str = "") -> Any:
    from onnx import helper

    made = helper.make_node(op, inputs, [output], name=name)
    if scope:
        entry = made.metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.name_scopes", repr(["", scope, op.lower()])
    return made


def attributed(path: str, spec: str = SPEC) -> dict[str, tuple[str | None, str]]:
    inventory = read_onnx(path, load_text(spec))
    return {t.name: (t.layer, t.via) for t in inventory.tensors}


NAMING = [
    ("name", "pytorch", "layers.fc.weight", "/fc/MatMul", "", ("fc", "name")),
    ("torchscript scope", "pytorch", "onnx::MatMul_7", "/out/MatMul", "", ("out", "scope")),
    ("dynamo scope", "pytorch", "val_3", "node_MatMul_2", "layers.out", ("out", "scope")),
    ("tf2onnx scope", "tf2onnx", "W:0", "model_1/fc_1/MatMul", "", ("fc", "scope")),
    ("nobody's", "pytorch", "onnx::MatMul_9", "MatMul_9", "", (None, "none")),
]


@pytest.mark.parametrize(
    ("producer", "tensor", "reader", "scope", "expected"),
    [n[1:] for n in NAMING],
    ids=[n[0] for n in NAMING],
)
def test_a_tensor_belongs_to_the_layer_that_names_or_reads_it(
    producer: str, tensor: str, reader: str, scope: str, expected: tuple, tmp_path: Path
) -> None:
    nodes = [node("MatMul", reader, ["x", tensor], "y", scope)]
    path = write(tmp_path / "m.onnx", nodes, {tensor: (4, 4)}, producer)
    assert attributed(path)[tensor] == expected


def test_an_identity_rename_is_a_borrowed_tensor(tmp_path: Path) -> None:
    nodes = [
        node("Identity", "Identity_1", ["layers.fc.bias"], "layers.out.bias"),
        node("Add", "/out/Add", ["x", "layers.out.bias"], "y"),
    ]
    path = write(tmp_path / "m.onnx", nodes, {"layers.fc.bias": (4,)}, "pytorch")
    inventory = read_onnx(path, load_text(SPEC))
    assert inventory.borrowed == {"out": [(4,)]}


def test_unnamed_convolutions_are_matched_in_order(tmp_path: Path) -> None:
    nodes = [
        node("Conv", "Conv_1", ["x", "w1"], "h"),
        node("Conv", "Conv_2", ["h", "w2"], "y"),
    ]
    path = write(tmp_path / "m.onnx", nodes, {"w1": (3, 2, 3, 3), "w2": (5, 3, 3, 3)}, "x")
    assert attributed(path, CONVS) == {"w1": ("first", "order"), "w2": ("second", "order")}


def test_the_producer_says_whose_prediction_the_file_meets(tmp_path: Path) -> None:
    for producer, framework in [("pytorch", "torch"), ("tf2onnx", "keras"), ("other", "onnx")]:
        path = write(tmp_path / f"{producer}.onnx", [], {}, producer)
        assert read_onnx(path, load_text(SPEC)).framework == framework
