"""Attention: MultiHeadAttention, GroupQueryAttention, and a learned PositionEmbedding.

Inputs follow Keras's call order: ``inputs: [query, value]`` or ``[query, value, key]``; a
single input is self-attention (query = value = key). PyTorch's ``nn.MultiheadAttention``
can only express heads of ``embed_dim / num_heads`` features whose output has the query's
width; other head sizes, and grouped-query attention, are built as an exact custom module
with one projection per role. The counts are equal either way.
"""

from __future__ import annotations

import math
from typing import Any

from translator.ir import Node, Shape, WeightSpec
from translator.ir.registries import (
    conversions,
    formula_rule,
    number,
    shape_rule,
    weight_rule,
)
from translator.spec.schema import REQUIRED, Arg, Bool, Float, Int, layer_schema
from translator.weights.maps import Entry, LayerMap, e, renamed, simple_map, weight_map
from translator.weights.transforms import Chain, Map, Pack, Reshape, Transpose

_CAUSAL = Arg("causal", Bool(), False, "mask future positions (Keras use_causal_mask)")
_BIAS = Arg("use_bias", Bool(), True, "add bias vectors to every projection")
ROLES = ("query", "key", "value", "output")
_ROLE_BIASES = tuple(
    Arg(f"{role}_bias", Bool(), None, f"a bias on the {role} projection (null: use_bias)")
    for role in ROLES
)

layer_schema(
    "MultiHeadAttention",
    "attention",
    "Scaled dot-product attention over `num_heads` heads with learned projections.",
    Arg("num_heads", Int(), REQUIRED, "number of heads"),
    Arg("key_dim", Int(), REQUIRED, "size of each query/key head"),
    Arg("value_dim", Int(), None, "size of each value head (null: key_dim)"),
    Arg("output_shape", Int(), None, "output features (null: the query's)"),
    Arg("dropout", Float(0.0, 1.0, open_max=True), 0.0, "attention dropout (off at inference)"),
    _BIAS,
    *_ROLE_BIASES,
    Arg(
        "scale",
        Float(),
        None,
        "what the scores q·k are multiplied by (keras.ops.dot_product_attention's scale;"
        " null: 1/sqrt(key_dim); T5: 1.0)",
    ),
    Arg(
        "attention_bias",
        Bool(),
        False,
        "the last input is added to the scores: (num_heads, query steps, key steps) per"
        " example, as RelativePositionBias gives (T5's position_bias)",
    ),
    _CAUSAL,
    inputs=(1, 4),
)
layer_schema(
    "GroupQueryAttention",
    "attention",
    "Attention where groups of query heads share key/value heads.",
    Arg("head_dim", Int(), REQUIRED, "size of each head"),
    Arg("num_query_heads", Int(), REQUIRED, "number of query heads"),
    Arg(
        "num_key_value_heads", Int(), REQUIRED, "number of key/value heads; divides num_query_heads"
    ),
    Arg("dropout", Float(0.0, 1.0, open_max=True), 0.0, "attention dropout (off at inference)"),
    _BIAS,
    _CAUSAL,
    Arg(
        "rope_max_wavelength",
        Float(1.0),
        None,
        "rotary position embeddings of this base on the query and key heads, as Llama's"
        " (Hugging Face rope_theta, the rotate_half pairing); null: none",
    ),
    inputs=(1, 3),
)
layer_schema(
    "PositionEmbedding",
    "attention",
    "A learned embedding per position (as keras_hub's PositionEmbedding): returns the first "
    "`steps` rows, broadcast to the input's shape; add it to the input with an `Add`.",
    Arg("sequence_length", Int(), REQUIRED, "the largest sequence length"),
)


def roles(node: Node) -> tuple[Shape, Shape, Shape]:
    """(query, value, key) shapes, each (steps, features) with known features (an
    ``attention_bias``, the last input, is not one of them)."""
    shapes = node.input_shapes[:-1] if node.args.get("attention_bias") else node.input_shapes
    if not shapes or len(shapes) > 3:
        raise node.shape_error("takes [query], [query, value] or [query, value, key]", "")
    query, value = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
    key = shapes[2] if len(shapes) > 2 else value
    for shape in (query, value, key):
        if len(shape) != 2 or shape[1] is None:
            raise node.shape_error("expects sequences (batch, steps, features)", "check the inputs")
    if query is not value and value[0] is not None and key[0] is not None and value[0] != key[0]:
        raise node.shape_error("value and key must have the same number of steps", "")
    return query, value, key


def mha_dims(node: Node) -> dict[str, int]:
    """The projection sizes of a MultiHeadAttention node."""
    query, value, key = roles(node)
    a = node.args
    return {
        "dq": query[1],
        "dv": value[1],
        "dk": key[1],
        "h": a["num_heads"],
        "kd": a["key_dim"],
        "vd": a["value_dim"] or a["key_dim"],
        "out": a["output_shape"] or query[1],
    }


def biases(node: Node) -> dict[str, bool]:
    """Whether each projection (query, key, value, output) has a bias: its own
    ``<role>_bias`` where the spec gives one, else ``use_bias``."""
    flags = {role: node.args.get(f"{role}_bias") for role in ROLES}
    return {role: node.args["use_bias"] if own is None else own for role, own in flags.items()}


def uniform(node: Node) -> bool:
    """Whether the layer is Keras's stock one: one bias flag for all projections, default
    scaling, no attention bias (what ``nn.MultiheadAttention`` and Keras's ``.keras``
    layer express)."""
    a = node.args
    own = a.get("scale") is not None or a.get("attention_bias")
    return len(set(biases(node).values())) == 1 and not own


def torch_native(dims: dict[str, int]) -> bool:
    """Whether ``nn.MultiheadAttention`` expresses these sizes exactly (``uniform`` says
    whether it expresses the flags)."""
    e, h = dims["dq"], dims["h"]
    return e % h == 0 and dims["kd"] == dims["vd"] == e // h and dims["out"] == e


def beyond_keras(node: Node) -> dict[str, object]:
    """The arguments Keras's MultiHeadAttention lacks, where the spec sets them (PyTorch's
    model.py names them only then): per-projection biases, scale, attention_bias."""
    given = {**node.args, "attention_bias": node.args["attention_bias"] or None}  # false: unsaid
    names = ("scale", "attention_bias", *(f"{role}_bias" for role in ROLES))
    return {name: given[name] for name in names if given[name] is not None}


@shape_rule("MultiHeadAttention")
def mha_shape(node: Node) -> tuple[Shape, ...]:
    query, value, _ = roles(node)
    if node.args["attention_bias"]:
        expected = (node.args["num_heads"], query[0], value[0])
        if not _fits(node.input_shapes[-1], expected):
            raise node.shape_error(
                f"the attention bias must be (num_heads, query steps, key steps) = {expected};"
                f" Received: {node.input_shapes[-1]}",
                "give a RelativePositionBias of as many heads as the last input",
            )
    return ((query[0], mha_dims(node)["out"]),)


def _fits(shape: Shape, expected: Shape) -> bool:
    """Whether ``shape`` is ``expected``, a free size matching any."""
    pairs = zip(shape, expected, strict=False)
    return len(shape) == len(expected) and all(a is None or b is None or a == b for a, b in pairs)


def _projections(
    prefix: dict[str, str],
    sizes: dict[str, tuple[int, int, int]],
    out: tuple[int, int, int],
    bias: dict[str, bool],
) -> dict[str, tuple[WeightSpec, ...]]:
    """Keras (in, heads, dim) kernels, custom-torch (heads·dim, in) weights, ONNX (in, heads·dim).

    ``sizes`` maps role → (input features, heads, head size); ``out`` is (heads, head size,
    output features); ``bias``: role (and ``output``) → whether it has a bias.
    """
    k, t, o = [], [], []
    for role, (d, h, hd) in sizes.items():
        k += [WeightSpec(f"{role}/kernel", (d, h, hd), f"{role}_kernel")]
        t += [WeightSpec(f"{role}.weight", (h * hd, d), f"{role}_kernel")]
        o += [WeightSpec(f"{prefix[role]}_W", (d, h * hd), f"{role}_kernel")]
        if bias[role]:
            k += [WeightSpec(f"{role}/bias", (h, hd), f"{role}_bias")]
            t += [WeightSpec(f"{role}.bias", (h * hd,), f"{role}_bias")]
            o += [WeightSpec(f"{prefix[role]}_B", (h * hd,), f"{role}_bias")]
    h, hd, d = out
    k += [WeightSpec("attention_output/kernel", (h, hd, d), "output_kernel")]
    t += [WeightSpec("output.weight", (d, h * hd), "output_kernel")]
    o += [WeightSpec("out_W", (h * hd, d), "output_kernel")]
    if bias["output"]:
        k += [WeightSpec("attention_output/bias", (d,), "output_bias")]
        t += [WeightSpec("output.bias", (d,), "output_bias")]
        o += [WeightSpec("out_B", (d,), "output_bias")]
    return {"keras": tuple(k), "torch": tuple(t), "onnx": tuple(o)}


PREFIX = {"query": "q", "key": "k", "value": "v"}


def _native_torch(dims: dict[str, int], bias: bool) -> tuple[WeightSpec, ...]:
    """nn.MultiheadAttention's own tensors: packed when key and value widths equal the query's."""
    e = dims["dq"]
    if dims["dk"] == dims["dv"] == e:
        out = [WeightSpec("in_proj_weight", (3 * e, e), "qkv_kernel")]
    else:
        out = [
            WeightSpec("q_proj_weight", (e, e), "query_kernel"),
            WeightSpec("k_proj_weight", (e, dims["dk"]), "key_kernel"),
            WeightSpec("v_proj_weight", (e, dims["dv"]), "value_kernel"),
        ]
    if bias:
        out.append(WeightSpec("in_proj_bias", (3 * e,), "qkv_bias"))
    out.append(WeightSpec("out_proj.weight", (e, e), "output_kernel"))
    if bias:
        out.append(WeightSpec("out_proj.bias", (e,), "output_bias"))
    return tuple(out)


@weight_rule("MultiHeadAttention")
def mha_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    dims, bias = mha_dims(node), biases(node)
    sizes = {
        "query": (dims["dq"], dims["h"], dims["kd"]),
        "key": (dims["dk"], dims["h"], dims["kd"]),
        "value": (dims["dv"], dims["h"], dims["vd"]),
    }
    out = _projections(PREFIX, sizes, (dims["h"], dims["vd"], dims["out"]), bias)
    if torch_native(dims) and uniform(node):
        out["torch"] = _native_torch(dims, node.args["use_bias"])
    return out


@shape_rule("GroupQueryAttention")
def gqa_shape(node: Node) -> tuple[Shape, ...]:
    query = roles(node)[0]
    if node.args["num_query_heads"] % node.args["num_key_value_heads"]:
        raise node.shape_error("num_key_value_heads must divide num_query_heads", "")
    if node.args["rope_max_wavelength"] is not None and node.args["head_dim"] % 2:
        raise node.shape_error(
            f"rotary embeddings pair a head's features; Received: head_dim={node.args['head_dim']}",
            "give an even head_dim, or rope_max_wavelength: null",
        )
    return (query,)


@weight_rule("GroupQueryAttention")
def gqa_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    query, value, key = roles(node)
    dq, dk, dv = node.known((query[1], key[1], value[1]))
    a = node.args
    hd, hq, hkv = a["head_dim"], a["num_query_heads"], a["num_key_value_heads"]
    sizes = {"query": (dq, hq, hd), "key": (dk, hkv, hd), "value": (dv, hkv, hd)}
    return _projections(PREFIX, sizes, (hq, hd, dq), dict.fromkeys(ROLES, a["use_bias"]))


def _projection_formula(
    sizes: dict[str, tuple[int, ...]], out: tuple[int, ...], bias: dict[str, bool]
) -> str:
    """The projections of ``_projections`` as one sum: ``query (768 in + 1 bias) × 12 heads ×
    64 + ... + output (12 heads × 64 + 1 bias) × 768 out``."""
    b = {role: " + 1 bias" if has else "" for role, has in bias.items()}
    terms = [f"{r} ({d} in{b[r]}) × {h} heads × {hd}" for r, (d, h, hd) in sizes.items()]
    h, hd, d = out
    return " + ".join([*terms, f"output ({h} heads × {hd}{b['output']}) × {d} out"])


@formula_rule("MultiHeadAttention", "GroupQueryAttention")
def attention_formula(node: Node) -> str:
    """Read from Keras's kernels: (in, heads, head size) per projection, (heads, size, out)."""
    kernels = {w.role: w.shape for w in node.weights["keras"] if w.role.endswith("_kernel")}
    sizes = {r: kernels[f"{r}_kernel"] for r in ("query", "key", "value")}
    out = kernels["output_kernel"]
    have = {w.role for w in node.weights["keras"]}
    return _projection_formula(sizes, out, {r: f"{r}_bias" in have for r in ROLES})


@shape_rule("PositionEmbedding")
def position_shape(node: Node) -> tuple[Shape, ...]:
    steps = node.input_shape[0] if len(node.input_shape) == 2 else None
    if len(node.input_shape) != 2 or node.input_shape[1] is None:
        raise node.shape_error("expects (batch, steps, features) with known features", "")
    if steps is not None and steps > node.args["sequence_length"]:
        raise node.shape_error(
            f"{steps} steps exceed sequence_length {node.args['sequence_length']}", ""
        )
    return (node.input_shape,)


@weight_rule("PositionEmbedding")
def position_weights(node: Node) -> dict[str, tuple[WeightSpec, ...]]:
    shape = node.known((node.args["sequence_length"], node.input_shape[1]))
    return {
        "keras": (WeightSpec("embeddings", shape, "embeddings"),),
        "torch": (WeightSpec("weight", shape, "embeddings"),),
        "onnx": (WeightSpec("embeddings", shape, "embeddings"),),
    }


@formula_rule("PositionEmbedding")
def position_formula(node: Node) -> str:
    (table,) = node.weights["keras"]
    return f"{table.shape[0]} positions × {table.shape[1]} features"


@weight_map("PositionEmbedding")
def position_embedding_map(node: Node) -> LayerMap:
    """One (sequence_length, features) table everywhere."""
    return renamed(
        node,
        {
            "keras": (("embeddings", "embeddings"),),
            "torch": (("weight", "embeddings"),),
            "onnx": (("embeddings", "embeddings"),),
        },
    )


def merge_heads(shape: tuple[int, ...], axis: int) -> Map:
    """Keras's separate (heads, head size) axes at ``axis`` → one axis of heads·size, head
    major: how PyTorch and ONNX lay the heads out along a projection's features."""
    return Reshape((*shape[:axis], shape[axis] * shape[axis + 1], *shape[axis + 2 :]), shape)


def linear_weight(shape: tuple[int, ...], axis: int) -> Map:
    """Heads merged at ``axis``, then transposed: a PyTorch (out features, in features)
    weight, as ``nn.Linear`` and ``nn.MultiheadAttention`` keep them."""
    return Chain((merge_heads(shape, axis), Transpose()))


def _role_entries(role: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, list[Entry]]:
    """The query, key or value projection: Keras (in, heads, size) kernel and (heads, size)
    bias; PyTorch's custom module (heads·size, in) and ONNX's (in, heads·size)."""
    kernel, bias = f"{role}_kernel", f"{role}_bias"
    flat = merge_heads(shapes[kernel], 1)
    out: dict[str, list[Entry]] = {
        "keras": [e(f"{role}/kernel", kernel)],
        "torch": [e(f"{role}.weight", kernel, via=linear_weight(shapes[kernel], 1))],
        "onnx": [e(f"{PREFIX[role]}_W", kernel, via=flat)],
    }
    if bias in shapes:
        heads = merge_heads(shapes[bias], 0)
        out["keras"].append(e(f"{role}/bias", bias))
        out["torch"].append(e(f"{role}.bias", bias, via=heads))
        out["onnx"].append(e(f"{PREFIX[role]}_B", bias, via=heads))
    return out


def _output_entries(shapes: dict[str, tuple[int, ...]]) -> dict[str, list[Entry]]:
    """The output projection: Keras (heads, size, out); PyTorch (out, heads·size) in both
    its modules; ONNX (heads·size, out)."""
    flat, weight = (
        merge_heads(shapes["output_kernel"], 0),
        linear_weight(shapes["output_kernel"], 0),
    )
    return {
        "keras": [
            e("attention_output/kernel", "output_kernel"),
            e("attention_output/bias", "output_bias"),
        ],
        "torch": [
            e("output.weight", "output_kernel", via=weight),
            e("out_proj.weight", "output_kernel", via=weight),
            e("output.bias", "output_bias"),
            e("out_proj.bias", "output_bias"),
        ],
        "onnx": [e("out_W", "output_kernel", via=flat), e("out_B", "output_bias")],
    }


def _native_entries(shapes: dict[str, tuple[int, ...]]) -> list[Entry]:
    """``nn.MultiheadAttention``'s own tensors: the three projections packed in one
    (3E, E) ``in_proj_weight`` (rows: query, key, value) when key and value are E wide, else
    ``q/k/v_proj_weight``; one packed ``in_proj_bias``. The IR says which exist."""
    roles = ("query", "key", "value")
    out = [
        Entry(
            "in_proj_weight",
            tuple(f"{r}_kernel" for r in roles),
            Pack(linear_weight(shapes["query_kernel"], 1)),
        ),
        *(
            e(
                f"{PREFIX[r]}_proj_weight",
                f"{r}_kernel",
                via=linear_weight(shapes[f"{r}_kernel"], 1),
            )
            for r in roles
        ),
    ]
    if "query_bias" in shapes:
        biases = tuple(f"{r}_bias" for r in roles)
        out.append(Entry("in_proj_bias", biases, Pack(merge_heads(shapes["query_bias"], 0))))
    return out


ATTENTIONS = ("MultiHeadAttention", "GroupQueryAttention")


@weight_map(*ATTENTIONS)
def attention_map(node: Node) -> LayerMap:
    """Keras keeps heads as their own axes; PyTorch and ONNX merge them into the feature
    axis, head major. PyTorch's native ``nn.MultiheadAttention`` (when it can express the
    sizes) packs the input projections; its custom module keeps one per role."""
    shapes = {w.role: w.shape for w in node.weights["keras"]}
    tables: dict[str, list[Entry]] = {"keras": [], "torch": [], "onnx": []}
    for part in (*(_role_entries(r, shapes) for r in PREFIX), _output_entries(shapes)):
        for fw, entries in part.items():
            tables[fw] += entries
    tables["torch"] += _native_entries(shapes)
    return simple_map(node, {fw: tuple(entries) for fw, entries in tables.items()})


conversions(
    *ATTENTIONS,
    causal={
        True: "causal true → Keras's use_causal_mask; PyTorch and ONNX mask every key after the"
        " query's step (j > i)",
    }.get,
    dropout=lambda rate: f"dropout {number(rate)}: off at inference in all three" if rate else None,
    scale=lambda s: (
        None if s is None else f"scale {number(s)}: scores q·k × {number(s)} in all three"
    ),
)


ROTARY_TABLE_TOLERANCE = 1e-5  # float32 tables against float64 ones


def rotary_base(cos: Any, sin: Any, size: int) -> float:
    """The base (``rope_max_wavelength``) Llama's tables of cos and sin, arrays of
    (..., steps, size), were made with, read off position 1, feature 1 (an angle of
    base^(−2/size)) and then checked on the whole table; ``ValueError`` with the reason
    when the tables are too short or are no rotary embeddings' (an importer's reading)."""
    import numpy as np

    c, s = (np.asarray(t, np.float64).reshape(-1, *np.shape(t)[-2:])[0] for t in (cos, sin))
    if c.shape[0] < 2 or size < 4 or c.shape[-1] != size:
        raise ValueError("rotary tables too short to tell their base (2 steps, 4 features)")
    angle = math.atan2(float(s[1, 1]), float(c[1, 1]))
    found = angle ** (-size / 2)
    found = float(round(found)) if abs(round(found) - found) < 1e-3 * found else found
    inverse = 1.0 / found ** (np.arange(0, size, 2, dtype=np.float64) / size)
    angles = np.arange(c.shape[0], dtype=np.float64)[:, None] * inverse[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    tolerance = ROTARY_TABLE_TOLERANCE
    close = np.allclose(c, np.cos(angles), atol=tolerance)
    if not (close and np.allclose(s, np.sin(angles), atol=tolerance)):
        raise ValueError("cos and sin tables other than Llama's rotary embeddings")
    return found


# An attention mask no input reaches (Hugging Face builds them from the static shapes, as
# booleans, True where attending, or as 0 / the dtype's minimum; the translator's own ONNX as
# a lower triangle of ones): all open → unmasked; open on and below the diagonal → causal.
MASK_BLOCKED = -1e30  # at most this where a float mask blocks (the dtype's minimum, or −∞)


def mask_is_causal(value: Any) -> bool:
    """Whether a constant attention mask (an array: booleans, True where attending, or
    floats added to the scores) is causal (True) or masks nothing (False); ``ValueError``
    with the reason for any other (an importer's reading)."""
    import numpy as np

    value = np.asarray(value)
    open_ = value if value.dtype == np.bool_ else value == 0
    if value.dtype != np.bool_ and bool((value[~open_] > MASK_BLOCKED).any()):
        raise ValueError("a float attention mask that adds other values than 0 and −∞")
    flat = open_.reshape(-1, *open_.shape[-2:])
    if bool(flat.all()):
        return False
    if all(np.array_equal(m, np.tril(np.ones(m.shape, np.bool_))) for m in flat):
        return True
    raise ValueError("an attention mask neither causal nor empty (padding?)")
