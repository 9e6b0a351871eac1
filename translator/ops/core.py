"""Core layers: Input, Dense, Dropout, Embedding, ClassToken."""

from __future__ import annotations

from translator.ir import Node, Shape, WeightSpec
from translator.ir.placement import dense, elementwise, layout_rule
from translator.ir.registries import (
    conversions,
    formula_rule,
    no_weights,
    number,
    shape_rule,
    weight_rule,
)
from translator.spec.schema import (
    ACTIVATION,
    REQUIRED,
    Arg,
    Bool,
    Choice,
    Dims,
    Float,
    Int,
    LayerName,
    layer_schema,
)
from translator.weights.maps import LayerMap, e, renamed, simple_map, weight_map
from translator.weights.transforms import Chain, FlatRows, Map, Reshape, Transpose

layer_schema(
    "Input",
    "core",
    "A model input (declared under the spec's top-level `inputs:`).",
    Arg("shape", Dims(), REQUIRED, "per-example shape; null marks a free dimension"),
    Arg("dtype", Choice(("float32", "int32", "int64")), "float32", "element type"),
    inputs=(0, 0),
)
layer_schema(
    "Dense",
    "core",
    "Fully connected layer on the last axis: `activation(x @ kernel + bias)`.",
    Arg("units", Int(), REQUIRED, "output features"),
    Arg("activation", ACTIVATION, None, "activation applied to the output (null: linear)"),
    Arg("use_bias", Bool(), True, "add a bias vector"),
    Arg(
        "tie",
        LayerName(),
        None,
        "an earlier Embedding whose matrix, transposed, is this layer's kernel (GPT-2's output "
        "projection); the kernel is then stored and counted once, in the Embedding",
    ),
    aliases=("Linear",),
)
layer_schema(
    "Dropout",
    "core",
    "Randomly zeroes inputs while training; the identity at inference.",
    Arg("rate", Float(0.0, 1.0, open_max=True), REQUIRED, "fraction of inputs to drop"),
    Arg("seed", Int(0), 0, "seed of the dropout mask"),
    Arg(
        "noise_shape",
        Dims(),
        None,
        "the mask's shape, batch axis first: one draw per position, broadcast over axes of "
        "size 1 (`[null, 1, 1, 1]` drops whole examples, as stochastic depth does; null "
        "takes the input's size)",
    ),
)
layer_schema(
    "Embedding",
    "core",
    "Looks up a learned vector for each integer token id.",
    Arg("input_dim", Int(), REQUIRED, "vocabulary size (largest id + 1)"),
    Arg("output_dim", Int(), REQUIRED, "size of each vector"),
    token_ids="input_dim",
)


@shape_rule("Input")
def input_shape(node: Node) -> tuple[Shape, ...]:
    return (tuple(node.args["shape"]),)


def last_dim(node: Node) -> int:
    """The known size of the input's last axis, or a ShapeError."""
    shape = node.input_shape
    if not shape or shape[-1] is None:
        raise node.shape_error("the last axis must have a known size", "give it a size in the spec")
    return shape[-1]


@shape_rule("Dense")
def dense_shape(node: Node) -> tuple[Shape, ...]:
    d = last_dim(node)
    tied = node.links.get("tie")
    if tied is not None:
        if tied.type != "Embedding":
            raise node.shape_error(f"tie names '{tied.name}', a {tied.type}", "tie to an Embedding")
        wanted = (tied.args["input_dim"], tied.args["output_dim"])
        if wanted != (node.args["units"], d):
            raise node.shape_error(
                f"tie to '{tied.name}' needs units={wanted[0]} and {wanted[1]} input features",
                "match the Embedding's input_dim and output_dim",
            )
    return ((*node.input_shape[:-1], node.args["units"]),)


@weight_rule("Dense")
def dense_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    d, u = last_dim(node), node.args["units"]
    bias = node.args["use_bias"]
    tied = node.args["tie"] is not None  # the kernel lives in the Embedding
    return {
        "keras": (() if tied else (WeightSpec("kernel", (d, u), "kernel"),))
        + ((WeightSpec("bias", (u,), "bias"),) if bias else ()),
        "torch": (() if tied else (WeightSpec("weight", (u, d), "kernel"),))
        + ((WeightSpec("bias", (u,), "bias"),) if bias else ()),
        "onnx": (() if tied else (WeightSpec("W", (d, u), "kernel"),))
        + ((WeightSpec("B", (u,), "bias"),) if bias else ()),
    }


@shape_rule("Dropout")
def identity_shape(node: Node) -> tuple[Shape, ...]:
    """The input's shape; a ``noise_shape`` must broadcast to it."""
    noise = node.args.get("noise_shape")
    full = (None, *node.input_shape)
    if noise is not None and (
        len(noise) != len(full)
        or any(n not in (None, 1, size) for n, size in zip(noise, full, strict=True))
    ):
        raise node.shape_error(
            f"noise_shape {list(noise)} does not broadcast to the input",
            f"{len(full)} sizes (batch axis first), each null, 1 or the input's size",
        )
    return (node.input_shape,)


@shape_rule("Embedding")
def embedding_shape(node: Node) -> tuple[Shape, ...]:
    return ((*node.input_shape, node.args["output_dim"]),)


@weight_rule("Embedding")
def embedding_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    shape = (node.args["input_dim"], node.args["output_dim"])
    return {
        "keras": (WeightSpec("embeddings", shape, "embeddings"),),
        "torch": (WeightSpec("weight", shape, "embeddings"),),
        "onnx": (WeightSpec("embeddings", shape, "embeddings"),),
    }


weight_rule("Input", "Dropout")(no_weights)


def flat_rows(node: Node) -> FlatRows | None:
    """How a Dense reading a flat input (a Flatten of channels-first images) permutes its
    kernel rows in PyTorch and ONNX; None when it reads its input in the spec's order."""
    flat = node.placement.runs
    return FlatRows(node.known(flat.shape), flat.order) if flat.order else None


@weight_map("Dense")
def dense_map(node: Node) -> LayerMap:
    """Keras and ONNX keep the kernel as (in, out); PyTorch as (out, in). Reading a Flatten
    of images, PyTorch's and ONNX's rows follow the channels-first order they flatten in."""
    permuted = flat_rows(node)
    rows: tuple[Map, ...] = (permuted,) if permuted else ()
    return simple_map(
        node,
        {
            "keras": (e("kernel", "kernel"), e("bias", "bias")),
            "torch": (e("weight", "kernel", via=Chain((*rows, Transpose()))), e("bias", "bias")),
            "onnx": (e("W", "kernel", via=Chain(rows)), e("B", "bias")),
        },
    )


@weight_map("Embedding")
def embedding_map(node: Node) -> LayerMap:
    """One (vocabulary, size) table everywhere."""
    return renamed(
        node,
        {
            "keras": (("embeddings", "embeddings"),),
            "torch": (("weight", "embeddings"),),
            "onnx": (("embeddings", "embeddings"),),
        },
    )


def bias_term(node: Node) -> str:
    """`` + 1 bias`` in a formula when the layer has one."""
    return " + 1 bias" if node.args["use_bias"] else ""


@formula_rule("Dense")
def dense_formula(node: Node) -> str:
    return f"({node.input_shape[-1]} inputs{bias_term(node)}) × {node.args['units']} units"


@formula_rule("Embedding")
def embedding_formula(node: Node) -> str:
    return f"{node.args['input_dim']} ids × {node.args['output_dim']} dims"


conversions("Dropout", rate=lambda r: f"rate {number(r)}: the identity at inference in all three")

layer_schema(
    "ClassToken",
    "core",
    "Prepends one learned vector to a sequence, as ViT's [CLS] token: (steps, features) → "
    "(steps + 1, features). Keras has no such layer (this project's, exported as an Embedding "
    "of one row); PyTorch models hold it as a bare parameter (Hugging Face's `cls_token`, "
    "(1, 1, features)).",
)


@shape_rule("ClassToken")
def class_token_shape(node: Node) -> tuple[Shape, ...]:
    """One step more than the input, the same features."""
    if len(node.input_shape) != 2 or node.input_shape[1] is None:
        raise node.shape_error(
            "expects sequences (batch, steps, features) with known features",
            "a sequence, e.g. a Reshape of image patches to [196, 768]",
        )
    steps, features = node.input_shape
    return ((None if steps is None else steps + 1, features),)


@weight_rule("ClassToken")
def class_token_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    features = node.known((node.input_shape[1],))[0]
    held = (1, 1, features)  # as Hugging Face's ViT holds it, broadcast over the batch
    return {
        "keras": (WeightSpec("embeddings", (1, features), "embeddings"),),
        "torch": (WeightSpec("token", held, "embeddings"),),
        "onnx": (WeightSpec("token", held, "embeddings"),),
    }


@weight_map("ClassToken")
def class_token_map(node: Node) -> LayerMap:
    """One (1, features) vector; PyTorch and ONNX hold it with a batch axis of 1."""
    (features,) = node.known((node.input_shape[1],))
    batched = Reshape((1, 1, features), (1, features))
    return simple_map(
        node,
        {
            "keras": (e("embeddings", "embeddings"),),
            "torch": (e("token", "embeddings", via=batched),),
            "onnx": (e("token", "embeddings", via=batched),),
        },
    )


@formula_rule("ClassToken")
def class_token_formula(node: Node) -> str:
    return f"1 token × {node.input_shape[1]} features"


# Dropout works in any layout (its noise_shape reordered with it); a Dense reads a flat
# (channels-first) Flatten as it comes.
layout_rule("Dropout")(elementwise)
layout_rule("Dense")(dense)
