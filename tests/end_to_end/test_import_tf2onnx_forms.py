"""``import`` of the forms Keras layers take in TensorFlow graphs converted by tf2onnx
(``backends.onnx.tensorflow_reading``, and the 1-D windows of ``backends.onnx.conv``): small
specs written here, converted, imported and run against onnxruntime on the converted file;
and what the import refuses, with the reason it gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tests.conftest import ROOT
from tests.end_to_end.test_import_onnx import _assert_reproduces
from tests.imports import count_totals, run_import, run_partial_import, spec_file, tf2onnx_file
from translator.spec.loader import load

# Each spec written, converted by tf2onnx and imported counts as written and reproduces the file.
FORMS = {
    # Conv1D and MaxPooling1D as 2-D ones between Unsqueeze and Squeeze, a BiasAdd after the
    # Squeeze, a global pool and its Squeeze.
    "conv1d_blocks": """
inputs: [{name: signal, shape: [32, 3]}]
layers:
  - {type: Conv1D, filters: 8, kernel_size: 5, padding: same, use_bias: false}
  - {type: ReLU}
  - {type: MaxPooling1D, pool_size: 2}
  - {type: Conv1D, filters: 4, kernel_size: 3, padding: same, activation: relu}
  - {type: GlobalAveragePooling1D}
  - {type: Dense, units: 3, activation: softmax}
""",
    # A separable and a depthwise Conv1D (its stride on the inserted axis too), a "same"
    # MaxPooling1D, a strided Conv1D, a GlobalMaxPooling1D.
    "separable_1d": """
inputs: [{name: x, shape: [30, 4]}]
layers:
  - {type: SeparableConv1D, filters: 6, kernel_size: 3, padding: same, activation: relu}
  - {type: DepthwiseConv1D, kernel_size: 3, strides: 2}
  - {type: MaxPooling1D, pool_size: 3, strides: 2, padding: same}
  - {type: Conv1D, filters: 5, kernel_size: 2, strides: 2}
  - {type: GlobalMaxPooling1D}
""",
    # A Dense on a sequence as Tensordot (Reshape, MatMul, Reshape back, bias Add), then an
    # AveragePooling1D between Transposes.
    "tensordot_pool": """
inputs: [{name: x, shape: [20, 4]}]
layers:
  - {type: Dense, units: 8}
  - {type: AveragePooling1D, pool_size: 2}
  - {type: Flatten}
  - {type: Dense, units: 3}
""",
    # Strided "same", dilated and explicitly padded windows on images declared NHWC.
    "image_windows": """
inputs: [{name: x, shape: [12, 12, 4]}]
layers:
  - {type: Conv2D, filters: 8, kernel_size: 4, strides: 2, padding: same}
  - {type: Conv2D, filters: 8, kernel_size: 3, dilation_rate: 2, padding: same, activation: relu}
  - {type: ZeroPadding2D, padding: [[1, 0], [0, 1]]}
  - {type: AveragePooling2D, pool_size: 3, strides: 2, padding: same}
  - {type: GlobalAveragePooling2D}
  - {type: Dense, units: 5}
""",
}


@pytest.mark.parametrize("case", sorted(FORMS))
def test_a_keras_form_imports(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = spec_file(tmp_path, case, FORMS[case])
    source = tf2onnx_file(load(str(original)), tmp_path / f"{case}.onnx")
    spec, weights = run_import(source, tmp_path, capsys)
    assert count_totals(capsys, spec) == count_totals(capsys, original)
    _assert_reproduces(source, spec, weights, spec_order=True)


def test_a_tensorflow_call_tf2onnx_left_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tf2onnx leaves a grouped Conv2D (compiled by XLA) as a call of a TensorFlow function,
    which is no ONNX operator: the report says so; the convolution before it is read."""
    original = load(str(ROOT / "specs" / "grouped_dilated_conv.yaml"))
    source = tf2onnx_file(original, tmp_path / "grouped_dilated_conv.onnx")
    spec, report, _ = run_partial_import(source, tmp_path, capsys)
    text = report.read_text(encoding="utf-8")
    assert "| StatefulPartitionedCall | 1,152 | the exporter left a call of the TensorFlow" in text
    assert "which no ONNX reader (onnxruntime included) can compute" in text
    assert "type: Conv2D, filters: 16, kernel_size: 4, strides: 2" in spec.read_text()


TIME_DISTRIBUTED = """
name: per_step
inputs: [{name: x, shape: [null, 3]}]
layers:
  - {type: TimeDistributed, layer: {type: Dense, units: 2}}
"""


def _counting_steps(source: Path, out: Path) -> Path:
    """``source`` with its pfor Loop counting the input's steps (axis 1), not its batch."""
    model = onnx.load(str(source))
    graph = model.graph
    shape = next(n for n in graph.node if n.op_type == "Shape" and n.input[0] == "x")
    cast = next(n for n in graph.node if shape.output[0] in n.input)
    picked = next(n for n in graph.node if cast.output[0] in n.input and n.op_type == "Slice")
    for name, value in (("step_start", 1), ("step_end", 2)):
        graph.initializer.append(numpy_helper.from_array(np.array([value], np.int64), name))
    picked.input[1], picked.input[2] = "step_start", "step_end"
    onnx.save(model, str(out))
    return out


def test_a_pfor_loop_reads_as_the_steps_only_when_it_counts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Keras's TimeDistributed over a free number of steps, traced by TensorFlow, stacks as
    many steps as the batch has examples (a pfor Loop counting axis 0): refused, saying so.
    The same file counting the steps reads as a Dense on the sequence, and reproduces."""
    original = tmp_path / "per_step.yaml"
    original.write_text(TIME_DISTRIBUTED, encoding="utf-8")
    source = tf2onnx_file(load(str(original)), tmp_path / "per_step.onnx")
    _, report, _ = run_partial_import(source, tmp_path, capsys)
    assert "stacks as many steps as spec axis 0 is long (0: the batch), not axis 1" in (
        report.read_text(encoding="utf-8")
    )
    counted = _counting_steps(source, tmp_path / "counted.onnx")
    spec, weights = run_import(counted, tmp_path, capsys)
    assert "type: Dense, units: 2" in spec.read_text(encoding="utf-8")
    assert count_totals(capsys, spec) == count_totals(capsys, original)
    _assert_reproduces(counted, spec, weights, spec_order=True)


def test_an_operator_tf2onnx_left_unconverted_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TensorFlow operator tf2onnx cannot convert is left in the file under its own name
    (Keras's exact gelu leaves ``Erfc`` unless told how to write it, as ``tf2onnx_file``
    is), which ONNX does not define: the report says no ONNX reader can compute it."""
    from onnx import TensorProto, helper

    kernel = numpy_helper.from_array(np.ones((4, 3), np.float32), "dense/kernel")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "dense/kernel"], ["dense/MatMul:0"], "dense/MatMul"),
            helper.make_node("Erfc", ["dense/MatMul:0"], ["y"], "dense/Gelu/Erfc"),
        ],
        "tf2onnx",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [kernel],
    )
    model = helper.make_model(
        graph, producer_name="tf2onnx", opset_imports=[helper.make_opsetid("", 17)]
    )
    source = tmp_path / "gelu.onnx"
    onnx.save(model, str(source))
    _, report, _ = run_partial_import(source, tmp_path, capsys)
    assert "| Erfc | 0 | 'Erfc' is no ONNX operator: the exporter left it, and no ONNX reader" in (
        report.read_text(encoding="utf-8")
    )
