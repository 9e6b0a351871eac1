"""Export to ONNX: ``model.onnx``, which onnxruntime alone runs.

The graph is the backend's (``build(graph, weights=...)``: initializers
``<layer>.<tensor>``), in PyTorch's natural layout: image inputs and outputs channels first,
and inside, each tensor where the layout pass (``translator.ir.placement``) puts it, with a
``Transpose`` only where a layer needs the spec's order. Input and output names stay the spec's.

Every ONNX model goes through here on its way to onnxruntime or a file (``check``,
``session``, ``save``): protobuf cannot serialize a message over 2 GB, so a model whose
initializers pass ``EXTERNAL_ABOVE`` bytes is written as ``model.onnx`` with its tensors in
``model.onnx.data`` beside it (onnx's external data), checked by path, and handed to
onnxruntime by path from a temporary directory.

One rewrite keeps the file runnable by onnxruntime's default session: a ``Resize`` with an
``axes`` attribute (the backend's bilinear UpSampling2D) gets full-rank ``scales`` instead
(1 on the other axes, the same operation). onnxruntime 1.32's layout optimizer, which runs
at the default optimization level, mis-rewrites a ``Resize`` with ``axes`` that follows a
``Transpose`` (a Gather "indices element out of data bounds" error at run time).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnx.external_data_helper import load_external_data_for_model

from backends.onnx.model import DTYPES, FROZEN_KEY, IR_VERSION, OPSET, GraphBuilder, build
from translator.errors import BackendError
from translator.ir import Graph, Node
from translator.ir.layout import tensor_layouts
from translator.ir.placement import output_converts
from translator.weights.canonical import Weights

FILE = "model.onnx"
DATA_FILE = FILE + ".data"  # the tensors of a model too large for one protobuf message
# Protobuf's limit is 2 GB per message; the graph itself needs some of it. A module
# attribute read at each call, so a test can force external data on a tiny model.
EXTERNAL_ABOVE = 2**31 - 2**27
STREAM_ABOVE = 64 * 2**20  # bytes of initializers: see ``finished``
NATURAL = True  # inputs and outputs in PyTorch's natural layout (translator.commands.export)


def is_large(model: onnx.ModelProto) -> bool:
    """Initializers (held as raw bytes by ``numpy_helper.from_array``) past ``EXTERNAL_ABOVE``."""
    held = sum(len(t.raw_data) or t.ByteSize() for t in model.graph.initializer)
    return held > EXTERNAL_ABOVE


def save(model: onnx.ModelProto, path: Path) -> list[Path]:
    """Write ``model`` to ``path``; a large one with its tensors (those of 1 KB or more) in
    ``DATA_FILE`` next to it, then read back into ``model``, which saving empties."""
    if not is_large(model):
        onnx.save_model(model, path)
        return [path]
    data = path.with_name(DATA_FILE)
    onnx.save_model(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data.name,
        size_threshold=1024,
    )
    load_external_data_for_model(model, str(path.parent))
    return [path, data] if data.exists() else [path]


@contextlib.contextmanager
def on_disk(model: onnx.ModelProto) -> Iterator[Path]:
    """``model`` saved in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="translator-onnx-") as folder:
        path = Path(folder) / FILE
        save(model, path)
        yield path


def check(model: onnx.ModelProto | Path) -> None:
    """onnx's full check (of a model or a file); a large model's by path (the checker cannot
    take it in memory)."""
    if isinstance(model, Path):
        onnx.checker.check_model(str(model), full_check=True)
        return
    if not is_large(model):
        onnx.checker.check_model(model, full_check=True)
        return
    with on_disk(model) as path:
        onnx.checker.check_model(str(path), full_check=True)


def session_threads() -> int:
    """onnxruntime's threads per session: ``TRANSLATOR_ONNX_THREADS``, default 1. Each
    session here runs one small batch once, and compare builds one per spec, so a thread pool
    per session costs more to start than it saves; 0 lets onnxruntime pick."""
    value = os.environ.get("TRANSLATOR_ONNX_THREADS", "1")
    try:
        return max(int(value), 0)
    except ValueError:
        raise BackendError(f"TRANSLATOR_ONNX_THREADS={value!r} is not a whole number") from None


def session(model: onnx.ModelProto | Path) -> ort.InferenceSession:
    """An onnxruntime session of ``model`` (or a file); a large model through a file, as
    onnxruntime reads its external data by path (it holds it in memory once loaded)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.intra_op_num_threads = options.inter_op_num_threads = session_threads()
    providers = ["CPUExecutionProvider"]
    if isinstance(model, Path):
        return ort.InferenceSession(str(model), options, providers=providers)
    if not is_large(model):
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    with on_disk(model) as path:
        return ort.InferenceSession(str(path), options, providers=providers)


def full_rank_resizes(model: onnx.ModelProto) -> None:
    """Every ``Resize`` with ``axes`` rewritten to full-rank scales (see the docstring)."""
    body = model.graph
    resizes = [
        n for n in body.node if n.op_type == "Resize" and any(a.name == "axes" for a in n.attribute)
    ]
    if not resizes:  # spares the shape inference, slow on big models
        return
    ranks = {
        v.name: len(v.type.tensor_type.shape.dim)
        for v in [*onnx.shape_inference.infer_shapes(model).graph.value_info, *body.input]
    }
    constants = {t.name: t for t in body.initializer}
    for node in resizes:
        axes = next(a for a in node.attribute if a.name == "axes")
        scales = numpy_helper.to_array(constants[node.input[2]])
        full = np.ones(ranks[node.input[0]], dtype=scales.dtype)
        full[list(axes.ints)] = scales
        constants[node.input[2]].CopyFrom(numpy_helper.from_array(full, node.input[2]))
        node.attribute.remove(axes)


def finished(
    builder: GraphBuilder, ir: Graph, outputs: list[Any], runs: bool
) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """The builder's model, checked, and (when it ``runs``) its session. Past
    ``STREAM_ABOVE`` bytes of initializers, through a file written tensor by tensor
    (``write_model``) that the checker and onnxruntime read, the model read back last: at
    most the model and onnxruntime's copies of the weights are held at once. Below (where
    the copies cost less than the file's milliseconds), and past protobuf's limit, the model
    is assembled in memory (``check`` and ``session`` then take the large one through a file
    with external data)."""
    held = sum(len(t.raw_data) or t.ByteSize() for t in builder.initializers)
    if not STREAM_ABOVE < held <= EXTERNAL_ABOVE:
        graph = helper.make_graph(builder.nodes, ir.name, builder.inputs, outputs)
        graph.initializer.extend(builder.initializers)
        builder.initializers.clear()
        model = _model(graph)
        full_rank_resizes(model)
        check(model)
        return model, {"session": session(model)} if runs else {}
    with tempfile.TemporaryDirectory(prefix="translator-onnx-") as folder:
        path = Path(folder) / FILE
        sizes = write_model(builder, ir, outputs, path)
        check(path)
        extra = {"session": session(path)} if runs else {}
        return read_model(path, sizes), extra


def write_model(builder: GraphBuilder, ir: Graph, outputs: list[Any], path: Path) -> list[int]:
    """The builder's model written to ``path`` one initializer at a time, each dropped from
    the builder once written, so the weights are held once (never as the model, its
    serialized bytes and protobuf's buffer at once); the size of each piece written. A model
    is its fields' serializations one after another (protobuf merges a message field given
    twice and appends its repeated fields), so each initializer is a model holding only it."""
    model = _model(helper.make_graph(builder.nodes, ir.name, builder.inputs, outputs))
    pending = builder.initializers[::-1]
    builder.initializers.clear()
    if any(n.op_type == "Resize" for n in model.graph.node):  # its rewrite needs them all
        model.graph.initializer.extend(reversed(pending))
        pending.clear()
        full_rank_resizes(model)
    sizes = []
    with path.open("wb") as handle:
        sizes.append(handle.write(model.SerializeToString()))
        piece = onnx.ModelProto()
        while pending:
            piece.graph.initializer.append(pending.pop())
            sizes.append(handle.write(piece.SerializeToString()))
            piece.graph.ClearField("initializer")
    return sizes


def read_model(path: Path, sizes: list[int]) -> onnx.ModelProto:
    """The model ``write_model`` wrote, read back piece by piece: the file's bytes are never
    held whole beside the model parsed from them."""
    model = onnx.ModelProto()
    with path.open("rb") as handle:
        for size in sizes:
            model.MergeFromString(handle.read(size))
    return model


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="model-spec-translator",
    )


def export_model(graph: Graph, weights: Weights) -> onnx.ModelProto:
    """The backend's ONNX model holding ``weights``, natural layout at its edges; the frozen
    layers with weights named in its metadata (``FROZEN_KEY``: ONNX has no trainable flag)."""
    model = build(graph, weights=weights).model
    frozen = [n.name for n in graph.nodes if n.frozen and n.weights.get("onnx")]
    if frozen:
        model.metadata_props.add(key=FROZEN_KEY, value=",".join(frozen))
    return model


def export(graph: Graph, weights: Weights, out: Path) -> list[tuple[Path, str]]:
    """Write ``model.onnx`` holding ``weights`` into ``out`` (and ``model.onnx.data`` for a
    large model), checked by path."""
    written = save(export_model(graph, weights), out / FILE)
    onnx.checker.check_model(str(out / FILE), full_check=True)
    what = [
        f'ONNX model (opset {OPSET}), initializers "<layer>.<tensor>"',
        f"its initializers' data (external: more than {EXTERNAL_ABOVE / 2**30:.1f} GB)",
    ]
    return list(zip(written, what, strict=False))


def run_exported(graph: Graph, out: Path, inputs: list[Any]) -> list[np.ndarray]:
    """Run ``out/model.onnx`` in onnxruntime on ``inputs`` (natural layout, ``graph.inputs``
    order)."""
    feeds = {
        name: np.asarray(x, dtype=graph.node(name).dtype)
        for name, x in zip(graph.inputs, inputs, strict=True)
    }
    return list(session(out / FILE).run(None, feeds))


# The graph's edges in PyTorch's natural layout (the builder calls these while it builds).


def graph_outputs(graph: GraphBuilder, ir: Graph, tensors: dict[str, list[str]]) -> list[Any]:
    """One graph output per output tensor, named after its layer, in PyTorch's natural
    layout: a Transpose where the layer's physical layout is not that, else an Identity."""
    infos = []
    converts = iter(output_converts(ir))
    natural = iter(tensor_layouts(ir).outputs)
    for name in ir.outputs:
        node = ir.node(name)
        # A model input listed as an output cannot reuse its own name.
        plain = len(tensors[name]) == 1 and name not in graph.taken
        for i, tensor in enumerate(tensors[name]):
            out = graph.fresh(name if plain else f"{name}/output_{i}")
            axes, dims = next(converts), next(natural).natural_shape()
            if axes is None:
                graph.nodes.append(helper.make_node("Identity", [tensor], [out], name=out))
            else:
                moved = helper.make_node("Transpose", [tensor], [out], name=out, perm=list(axes))
                graph.nodes.append(moved)
            named = ["batch", *dims[1:]]
            infos.append(helper.make_tensor_value_info(out, DTYPES[node.dtype], named))
    return infos


def converted(graph: GraphBuilder, node: Node, tensors: dict[str, list[str]]) -> list[str]:
    """The node's input tensors, each moved to the layout the node runs in (a Transpose
    where the layout pass puts a conversion)."""
    names = [t for ref in node.inputs for t in tensors[ref]]
    out = []
    for name, axes in zip(names, node.placement.converts, strict=True):
        if axes is None:
            out.append(name)
            continue
        moved = graph.fresh(f"{node.name}/to_{node.placement.runs.kind}")
        graph.nodes.append(helper.make_node("Transpose", [name], [moved], name=moved, perm=axes))
        out.append(moved)
    return out
