"""Core layers: Input, Dense, Dropout, Embedding."""

from __future__ import annotations

import numpy as np
import onnx

from backends.onnx import activation
from backends.onnx.importing import (
    PATTERNS,
    RECOGNISERS,
    Reading,
    Recogniser,
    Refused,
    View,
    attributes,
)
from backends.onnx.merge import SUM_OP
from backends.onnx.model import BUILDERS, Layer
from backends.onnx.reshape import RESHAPE_OP, made_plain


@BUILDERS.register("Input")
def build_input(layer: Layer, inputs: list[str]) -> list[str]:
    """Input(shape, dtype): a graph input named like the model input, batch axis symbolic."""
    node = layer.node
    return [layer.graph.add_input(node.name, node.args["dtype"], node.output_shape)]


@BUILDERS.register("Dense")
def build_dense(layer: Layer, inputs: list[str]) -> list[str]:
    """Dense(units, activation=None, use_bias=True, tie=None): Gemm on (batch, features),
    else MatMul + Add on the last axis. W is Keras's (in, out) kernel as is; a tied Dense
    reads the Embedding's (units, in) table instead, transposed."""
    (x,) = inputs
    kernel, transposed = _kernel(layer)
    bias = [layer.weight("B")] if layer.args["use_bias"] else []
    if len(layer.node.input_shape) == 1:
        y = layer.op("Gemm", [x, kernel, *bias], transB=int(transposed))
    else:
        if transposed:
            kernel = layer.op("Transpose", [kernel], perm=[1, 0])
        y = layer.op("MatMul", [x, kernel])
        if bias:
            y = layer.op("Add", [y, *bias])
    return [activation.apply(layer, y, layer.args["activation"])]


def _kernel(layer: Layer) -> tuple[str, bool]:
    """The Dense's own W, or (tied) the Embedding's ``<embedding>.embeddings`` initializer,
    which stays the Embedding's alone (no copy), flagged as needing a transpose. The tie is
    looked up by name among the layers built so far: a wrapped Dense has no ``links``."""
    tied = layer.args["tie"]
    if tied is None:
        return layer.weight("W"), False
    return Layer.of(layer.graph, layer.graph.layers[tied]).weight("embeddings"), True


@BUILDERS.register("Dropout")
def build_dropout(layer: Layer, inputs: list[str]) -> list[str]:
    """Dropout(rate, seed=0): the identity at inference, so no operator at all."""
    return list(inputs)


@BUILDERS.register("ClassToken")
def build_class_token(layer: Layer, inputs: list[str]) -> list[str]:
    """ClassToken: ``token`` (1, 1, features) expanded to (batch, 1, features), concatenated
    in front of the sequence."""
    (x,) = inputs
    batch = layer.op("Shape", [x], start=0, end=1)
    shape = layer.op(
        "Concat", [batch, layer.ints("one_features", [1, layer.node.input_shape[1]])], axis=0
    )
    token = layer.op("Expand", [layer.weight("token"), shape])
    return [layer.op("Concat", [token, x], axis=1)]


@BUILDERS.register("Embedding")
def build_embedding(layer: Layer, inputs: list[str]) -> list[str]:
    """Embedding(input_dim, output_dim): Gather rows of the table by integer id."""
    return [layer.op("Gather", [layer.weight("embeddings"), inputs[0]], axis=0)]


# Importing: Gemm, or MatMul (+ Add of a bias), is a Dense; Gather from a weight table an
# Embedding; Identity and Dropout (the identity at inference) pass their input on.


def read_dense(
    r: Reading, node: onnx.NodeProto, kernel: np.ndarray, bias: str | None, out: str
) -> None:
    """A Dense of ``kernel`` (in, out) and the initializer ``bias`` on the node's input,
    making the tensor ``out`` (the Gemm's, or the Add's after a MatMul)."""
    x = r.view(node.input[0])
    if x.axes[-1] != max(a for a in x.axes if a is not None):
        x = made_plain(r, node.input[0])  # a Permute first, where that is all it takes
    if x.axes[-1] != max(a for a in x.axes if a is not None):
        raise Refused("it multiplies an axis other than the spec's last")
    units = kernel.shape[1]
    weights = {"W": lambda: kernel}
    if bias is not None:
        bias_value = r.weight(bias)
        if bias_value.size != units:
            raise Refused(f"its bias has {bias_value.size} values for {units} units")
        weights["B"] = lambda: bias_value
    name, out, axes = activation.folded(r, out, x.axes, dense=True)
    layer = {"type": "Dense", "units": units, "activation": name, "use_bias": bias is not None}
    tie = _tied(r, kernel)
    if tie is not None:  # the Embedding's table holds the kernel: no W of its own
        layer["tie"] = tie
        del weights["W"]
    r.add(node, layer, [x], {out: axes}, weights)


def _tied(r: Reading, kernel: np.ndarray) -> str | None:
    """The Embedding layer whose table is the kernel transposed (a head tied to the token
    embedding, as GPT-2's: the file holds one tensor, or two of equal values), else None."""
    for layer in r.layers:
        if layer.get("type") == "Embedding":
            table = r.weights[layer["name"]]["embeddings"]()
            if table.shape == kernel.shape[::-1] and np.array_equal(table, kernel.T):
                return str(layer["name"])
    return None


def gemm_kernel(r: Reading, node: onnx.NodeProto) -> tuple[np.ndarray, str | None]:
    """A Gemm's (in, out) kernel (B, or Bᵀ with transB) and its bias tensor C, if any."""
    a = attributes(node)
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        raise Refused("transA, alpha or beta set; accepted: x @ B (+ C)")
    kernel = r.weight(node.input[1])
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    return (kernel.T if a.get("transB", 0) else kernel), bias


@RECOGNISERS.register("Gemm")
def read_gemm(r: Reading, node: onnx.NodeProto) -> None:
    """Gemm(x, B, C) with transA=0, alpha=beta=1: Dense, B (or Bᵀ with transB) its kernel."""
    read_dense(r, node, *gemm_kernel(r, node), node.output[0])


@PATTERNS.register("Conv1DDense")
def find_conv1d_dense(r: Reading) -> dict[int, Recogniser]:
    """Reshape(x) → Gemm → Reshape back to x's leading axes: a Dense on x's last axis, as
    torch.onnx writes transformers' Conv1D (GPT-2's ``addmm`` on the flattened steps); or
    → MatMul → Reshape back (→ Add of the bias), as tf2onnx writes a Keras Dense on a
    sequence (TensorFlow's ``Tensordot``)."""
    found: dict[int, Recogniser] = {}
    for node in r.source.model.graph.node:
        middle = r.reader(node.output[0]) if node.op_type == RESHAPE_OP else None
        back = r.reader(middle.output[0]) if middle is not None else None
        if middle is None or back is None or back.op_type != RESHAPE_OP:
            continue
        if middle.op_type != "Gemm" and (middle.op_type != "MatMul" or _runtime(r, middle)):
            continue
        before, after = r.shape(node.input[0]), r.shape(back.output[0])
        if before is not None and after is not None and before[:-1] == after[:-1]:
            found[id(node)] = _conv1d_dense(middle, back)
    return found


def _runtime(r: Reading, matmul: onnx.NodeProto) -> bool:
    """Whether a MatMul multiplies by a run-time tensor (attention's), not a kernel."""
    kernel = r.const(matmul.input[1])
    return kernel is None or kernel.ndim != 2


def _conv1d_dense(middle: onnx.NodeProto, back: onnx.NodeProto) -> Recogniser:
    def recognise(r: Reading, node: onnx.NodeProto) -> None:
        if middle.op_type == "Gemm":
            read_dense(r, node, *gemm_kernel(r, middle), back.output[0])
        else:  # named as the Tensordot's scope is (``model/dense/Tensordot`` → ``dense``)
            kernel, bias, out = _bias_after(r, middle, back)
            named = onnx.helper.make_node(RESHAPE_OP, [node.input[0]], [], name=back.name)
            read_dense(r, named, kernel, bias, out)
        r.claim(middle)
        r.claim(back)

    return recognise


def _bias_after(
    r: Reading, matmul: onnx.NodeProto, back: onnx.NodeProto
) -> tuple[np.ndarray, str | None, str]:
    """(the MatMul's kernel, the bias the Add after ``back`` adds or None, the output)."""
    kernel = r.weight(matmul.input[1])  # a constant of rank 2 (``_runtime``)
    add = r.reader(back.output[0])
    bias = next((t for t in add.input if t != back.output[0]), "") if add is not None else ""
    value = r.const(bias) if add is not None and add.op_type == SUM_OP else None
    if add is None or value is None or value.size != kernel.shape[1]:
        return kernel, None, back.output[0]
    r.claim(add)
    return kernel, bias, add.output[0]


@RECOGNISERS.register("MatMul")
def read_matmul(r: Reading, node: onnx.NodeProto) -> None:
    """MatMul(x, W) with a weight W of (in, out), and the Add of a bias after it if any."""
    kernel = r.const(node.input[1])
    if kernel is None or kernel.ndim != 2:
        raise Refused("it multiplies two run-time tensors (attention is not recognised yet)")
    add = r.reader(node.output[0])
    if add is not None and add.op_type == SUM_OP:
        bias = next((t for t in add.input if t != node.output[0]), "")
        value = r.const(bias)  # an initializer, or an Identity of one (a deduplicated zero)
        if value is not None and value.size == kernel.shape[1]:
            r.claim(add)
            read_dense(r, node, kernel, bias, add.output[0])
            return
    read_dense(r, node, kernel, None, node.output[0])


@RECOGNISERS.register("Identity", "Dropout")
def read_identity(r: Reading, node: onnx.NodeProto) -> None:
    """The identity at inference: the output is the input."""
    r.views[node.output[0]] = r.view(node.input[0])


@RECOGNISERS.register("Gather")
def read_gather(r: Reading, node: onnx.NodeProto) -> None:
    """Gather(table, ids) from a weight table is an Embedding; Gather of index 0 on an axis
    of size 1 only drops that axis (the direction axis of a recurrent output)."""
    if r.source.is_weight(node.input[0]):
        embedding(r, node, r.view(node.input[1]))
        return
    x, index = r.view(node.input[0]), r.const(node.input[1])
    axis = attributes(node).get("axis", 0) % len(x.axes)
    if index is None or index.shape != () or x.axes[axis] is not None or int(index) not in (0, -1):
        raise Refused("it picks elements of a spec axis")
    r.views[node.output[0]] = View(x.ref, x.axes[:axis] + x.axes[axis + 1 :])


def embedding(r: Reading, node: onnx.NodeProto, ids: View) -> None:
    """The Gather ``node`` from a weight table, of the ids ``ids``: an Embedding."""
    table = r.weight(node.input[0])
    if attributes(node).get("axis", 0) != 0 or table.ndim != 2:
        raise Refused("a Gather from a table on an axis other than 0")
    layer = {"type": "Embedding", "input_dim": table.shape[0], "output_dim": table.shape[1]}
    axes = (*ids.axes, len(ids.axes))
    r.add(node, layer, [ids], {node.output[0]: axes}, {"embeddings": lambda: table})
