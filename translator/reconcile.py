"""The catalogue of reconciliation rules: every parameter difference gets a name and a reason.

A rule is data: an id, the layer types it applies to, a condition, a delta formula per
framework (how much that framework's total differs from Keras's because of this convention),
and an explanation template that is filled with the real numbers. Differences are measured on
the real frameworks; ``unexplained`` is what remains after the rules, and must be zero.
Wrappers hold copies of their wrapped layer's weights, so the wrapped layer's rules apply
``WRAPPER_COPIES`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from translator.ir import Node
from translator.ops.recurrent import GATE_ORDERS, GATES

# Keras's gate order per recurrent type, as the explanations print it ("i, f, c, o").
GATE_NAMES = {type_: ", ".join(orders["keras"]) for type_, orders in GATE_ORDERS.items()}

# How many copies of the wrapped layer's weights each wrapper keeps.
WRAPPER_COPIES = {"TimeDistributed": 1, "Bidirectional": 2}


@dataclass(frozen=True)
class Rule:
    """One named convention difference between Keras and another framework."""

    id: str
    layers: tuple[str, ...]  # the layer types it applies to; () any type
    applies: Callable[[Node], bool]
    values: Callable[[Node], dict[str, Any]]  # the numbers the formulas and the text use
    delta: dict[str, str]  # framework → "+name" or "-name": a signed entry of ``values``
    text: str  # explanation template over ``values`` (and ``copies``)
    example: tuple[str, str]  # (a layer, its input shape) showing the rule, for the docs
    # A convention that changes no count here (the translator builds the exact equivalent) but
    # that trips people porting by hand: shown whenever it applies, with its numbers.
    note: bool = False

    def deltas(self, node: Node, copies: int = 1) -> dict[str, int]:
        values = self.values(node)
        sign = {"+": 1, "-": -1}
        return {fw: copies * sign[f[0]] * int(values[f[1:]]) for fw, f in self.delta.items()}

    def explain(self, node: Node, copies: int = 1) -> str:
        values = {**self.values(node), "copies": copies}
        text = self.text.format(**values)
        if copies > 1:
            text += f" Twice here, once per direction: {copies} × each figure."
        return text


def _rnn_values(node: Node) -> dict[str, Any]:
    gates, units, layers = GATES[node.type], node.args["units"], node.args["num_layers"]
    words = f"{gates} gates ({GATE_NAMES[node.type]})" if gates > 1 else "1 gate"
    if layers > 1:
        words = f"{layers} layers × {words}"
    return {"gates": words, "units": units, "n": layers * gates * units, "type": node.type}


def _bn_values(node: Node) -> dict[str, Any]:
    (channels,) = next(w.shape for w in node.weights["keras"] if w.role == "moving_mean")
    return {"c": channels, "n": 2 * channels}


def _normalization_values(node: Node) -> dict[str, Any]:
    mean = next(w for w in node.weights["keras"] if w.role == "mean")
    return {"c": mean.size, "stats": 2 * mean.size, "n": 2 * mean.size + 1, "count": 1}


def _rnn_double_bias_applies(node: Node) -> bool:
    # Keras's reset-after GRU already has two bias vectors (bias shape (2, 3u)), and the
    # reset-before GRU has a rule of its own; so this one is for SimpleRNN and LSTM.
    return bool(node.args["use_bias"]) and node.type != "GRU"


RULES: tuple[Rule, ...] = (
    Rule(
        id="rnn-double-bias",
        layers=("SimpleRNN", "LSTM"),
        applies=_rnn_double_bias_applies,
        values=_rnn_values,
        delta={"torch": "+n", "onnx": "+n"},
        text=(
            "PyTorch keeps a second bias vector per gate, bias_hh, next to bias_ih: "
            "{gates} × {units} units = {n} more; ONNX's {type} likewise takes "
            "B = [Wb, Rb]: {n} more. Keras keeps one bias per gate (the two only ever add up)."
        ),
        example=("{type: LSTM, units: 10}", "[null, 1]"),
    ),
    Rule(
        id="gru-reset-before-onnx-bias",
        layers=("GRU",),
        applies=lambda n: bool(n.args["use_bias"]) and not n.args["reset_after"],
        values=_rnn_values,
        delta={"onnx": "+n"},
        text=(
            "Keras's GRU with reset_after: false keeps one bias per gate; ONNX's GRU always "
            "takes B = [Wb, Rb], and with linear_before_reset=0 the recurrent half only adds "
            "to the input half: {gates} × {units} units = {n} more (zeros when ported)."
        ),
        example=("{type: GRU, units: 8, reset_after: false}", "[null, 4]"),
    ),
    Rule(
        id="batchnorm-stats-are-buffers",
        layers=("BatchNormalization",),
        applies=lambda n: True,
        values=_bn_values,
        delta={"torch": "-n"},
        text=(
            "PyTorch keeps the moving mean and variance as buffers (running_mean, running_var: "
            "2 × {c} = {n}, plus a num_batches_tracked counter), not parameters; Keras counts "
            "them as non-trainable weights and ONNX as initializers."
        ),
        example=("{type: BatchNormalization}", "[8, 8, 16]"),
    ),
    Rule(
        id="normalization-stats-and-count",
        layers=("Normalization",),
        applies=lambda n: n.args["mean"] is None,  # given as arguments: no weights anywhere
        values=_normalization_values,
        delta={"torch": "-n", "onnx": "-count"},
        text=(
            "Keras's Normalization keeps its mean and variance (2 × {c} = {stats}) and a "
            "count scalar (the samples adapt() saw, unused at inference) as non-trainable "
            "weights: {n}. PyTorch holds mean and variance as buffers, not parameters, and "
            "no count: {n} fewer parameters ({stats} buffers). ONNX holds mean and variance as "
            "initializers and no count: 1 fewer."
        ),
        example=("{type: Normalization}", "[8, 8, 3]"),
    ),
)


def _prelu_values(node: Node) -> dict[str, Any]:
    (alpha,) = node.weights["keras"]
    return {"shape": alpha.shape, "n": alpha.size, "channels": node.input_shape[-1]}


def _mha_values(node: Node) -> dict[str, Any]:
    from translator.ops.attention import mha_dims

    d = mha_dims(node)
    return {
        **d,
        "per_head": d["dq"] // d["h"] if d["dq"] % d["h"] == 0 else f"{d['dq']}/{d['h']}",
        "n": node.counts("keras")["total"],
    }


def _separable_values(node: Node) -> dict[str, Any]:
    depthwise, pointwise, *bias = node.weights["keras"]
    return {
        "dw": depthwise.size,
        "pw": pointwise.size,
        "bias": bias[0].size if bias else 0,
        "filters": node.args["filters"],
    }


def _depthwise_values(node: Node) -> dict[str, Any]:
    kernel = node.weights["keras"][0]
    c, m = kernel.shape[-2], kernel.shape[-1]
    return {"c": c, "m": m, "out": c * m}


def _gqa_values(node: Node) -> dict[str, Any]:
    a = node.args
    hd, hq, hkv = a["head_dim"], a["num_query_heads"], a["num_key_value_heads"]
    return {"hq": hq, "hkv": hkv, "hd": hd, "kv": hkv * hd, "q": hq * hd, "group": hq // hkv}


NOTES: tuple[Rule, ...] = (
    Rule(
        id="prelu-slope-per-element",
        layers=("PReLU",),
        applies=lambda n: True,
        values=_prelu_values,
        delta={},
        text=(
            "Keras learns one PReLU slope per input element unless shared_axes share it: alpha "
            "{shape} = {n}; PyTorch's nn.PReLU() learns 1 (or one per channel, "
            "num_parameters={channels}). Built in PyTorch as an exact module holding all {n}."
        ),
        example=("{type: PReLU}", "[10, 10, 4]"),
        note=True,
    ),
    Rule(
        id="attention-head-size",
        layers=("MultiHeadAttention",),
        applies=lambda n: not _torch_native(n),
        values=_mha_values,
        delta={},
        text=(
            "PyTorch's nn.MultiheadAttention can only make {h} heads of embed_dim / heads = "
            "{per_head} features whose output is the query's {dq}; this layer has key_dim "
            "{kd}, value_dim {vd}, output {out}. Built in PyTorch as an exact custom module "
            "with separate query/key/value/output projections: the same {n} parameters."
        ),
        example=("{type: MultiHeadAttention, num_heads: 2, key_dim: 3}", "[5, 8]"),
        note=True,
    ),
    Rule(
        id="separable-as-two-convs",
        layers=("SeparableConv1D", "SeparableConv2D"),
        applies=lambda n: True,
        values=_separable_values,
        delta={},
        text=(
            "PyTorch and ONNX have no separable convolution: it is a depthwise convolution "
            "({dw:,} weights, no bias) then a 1×1 pointwise one ({pw:,} weights) carrying the "
            "{bias} biases of the {filters} filters, exactly Keras's tensors."
        ),
        example=("{type: SeparableConv2D, filters: 8, kernel_size: 3}", "[10, 10, 4]"),
        note=True,
    ),
    Rule(
        id="depth-multiplier-as-groups",
        layers=("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"),
        applies=lambda n: True,
        values=_depthwise_values,
        delta={},
        text=(
            "A depthwise convolution is PyTorch's Conv with groups={c} (one group per input "
            "channel) and depth_multiplier {m} → {out} output channels; Keras's kernel "
            "(…, {c}, {m}) becomes ({out}, 1, …) with input channel i's j-th filter at output i·{m}+j."
        ),
        example=("{type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2}", "[10, 10, 4]"),
        note=True,
    ),
    Rule(
        id="grouped-query-attention",
        layers=("GroupQueryAttention",),
        applies=lambda n: True,
        values=_gqa_values,
        delta={},
        text=(
            "{hq} query heads share {hkv} key/value heads ({group} each): the key and value "
            "projections are {hkv} × {hd} = {kv} wide, not {q}. PyTorch has no such module: "
            "built as an exact custom one, ONNX from MatMuls."
        ),
        example=(
            "{type: GroupQueryAttention, head_dim: 4, num_query_heads: 4, num_key_value_heads: 2}",
            "[5, 8]",
        ),
        note=True,
    ),
)


def _channel_axis(conv: Node) -> int:
    """The index of a convolution's channel axis in its per-example output shape."""
    return 0 if conv.args["data_format"] == "channels_first" else len(conv.output_shape) - 1


def _normalizes_channels(reader: Node, conv: Node) -> bool:
    from translator.ops.normalization import normalized_axes

    return reader.type == "BatchNormalization" and normalized_axes(reader) == (_channel_axis(conv),)


def _bias_cancelled_by_batchnorm(conv: Node) -> bool:
    """True when every reader of the convolution's raw output (no activation) is a
    BatchNormalization over its channel axis: the mean subtraction then removes each filter's
    bias exactly. Only direct readers count: a layer in between (an activation, a Dropout that
    rescales in training, a residual Add) keeps the bias meaningful."""
    linear = conv.args["activation"] in (None, "linear")
    readers = conv.readers
    return (
        bool(conv.args["use_bias"])
        and linear
        and bool(readers)
        and all(_normalizes_channels(r, conv) for r in readers)
    )


CONV_BIAS_NOTE = Rule(
    id="conv-bias-before-batchnorm",
    layers=("Conv1D", "Conv2D", "Conv3D"),
    applies=_bias_cancelled_by_batchnorm,
    values=lambda n: {"filters": n.args["filters"]},
    delta={},
    text=(
        "This convolution's {filters} biases feed, with no activation in between, a "
        "BatchNormalization over its channels, whose mean subtraction cancels them. "
        "keras.applications keeps such biases, torchvision drops them "
        "(bias=False): ResNet-50 has 25,583,592 trainable parameters in Keras, 25,557,032 in "
        "torchvision, 26,560 biases apart. The spec's choice is built in every framework."
    ),
    example=(
        "{type: Conv2D, filters: 8, kernel_size: 3}, {type: BatchNormalization}",
        "[10, 10, 4]",
    ),
    note=True,
)


def _torch_native(node: Node) -> bool:
    from translator.ops.attention import mha_dims, torch_native

    return torch_native(mha_dims(node))


def _frozen_values(node: Node) -> dict[str, Any]:
    return {"n": node.counts("keras")["total"], "torch": node.counts("torch")["total"]}


FROZEN_NOTE = Rule(
    id="frozen-weights",
    layers=(),  # any layer type: the frozen ones with weights
    applies=lambda n: n.frozen_params("torch"),  # PyTorch parameters to freeze (not buffers)
    values=_frozen_values,
    delta={},
    text=(
        "trainable: false freezes this layer: Keras counts all {n} of its weights as "
        "non-trainable; PyTorch keeps its {torch} parameters with requires_grad=False (still "
        "in parameters() and the state_dict); ONNX, which has no notion of training, stores "
        "them as initializers like any other. Freezing changes no total, only the trainable "
        "split."
    ),
    example=("{type: Dense, units: 3, trainable: false}", "[5]"),
    note=True,
)


def _position_bias_values(node: Node) -> dict[str, Any]:
    a = node.args
    return {"b": a["num_buckets"], "h": a["num_heads"], "n": a["num_buckets"] * a["num_heads"]}


POSITION_BIAS_NOTE = Rule(
    id="relative-position-bias-table",
    layers=("RelativePositionBias",),
    applies=lambda n: True,
    values=_position_bias_values,
    delta={},
    text=(
        "T5's relative position bias is one table of {b} buckets × {h} heads = {n} weights in "
        "every framework: Hugging Face keeps it in the first layer's attention "
        "(relative_attention_bias, an nn.Embedding) and every layer reuses its output; here a "
        "layer of its own (a Keras weight, a PyTorch parameter, an ONNX initializer read by "
        "Gather). The bucket of each relative position is computed, never stored."
    ),
    example=(
        "{type: RelativePositionBias, num_heads: 2, num_buckets: 8, max_distance: 16}",
        "[6, 4]",
    ),
    note=True,
)


RULES = (*RULES, *NOTES, CONV_BIAS_NOTE, FROZEN_NOTE, POSITION_BIAS_NOTE)
RULE_INDEX = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Explanation:
    """A rule applied to one layer: its id, delta per framework, and the filled-in text."""

    rule: str
    delta: dict[str, int]
    text: str
    count: int = 1  # layers it sums, in a collapsed block row
    note: bool = False  # a convention that changes no count here

    @property
    def summary(self) -> str:
        return self.text if self.count == 1 else f"{self.count} layers; each: {self.text}"

    def as_dict(self, frameworks: tuple[str, ...]) -> dict[str, Any]:
        delta = {fw: self.delta.get(fw, 0) for fw in frameworks if fw != "keras"}
        return {"rule": self.rule, "delta": delta, "text": self.summary}


def explain(node: Node, copies: int = 1) -> list[Explanation]:
    """Every rule that applies to ``node`` (recursing into wrapped layers)."""
    if node.shares:
        return []  # its weights, and their differences, are the original layer's
    inner = node.inner
    if inner is not None:
        # The wrapped layer's rules; then those of any type (a frozen wrapper whose wrapped
        # layer is not marked itself) that the wrapped layer did not already give.
        found = explain(inner, copies * WRAPPER_COPIES[node.type])
        given = {e.rule for e in found}
        anywhere = [r for r in RULES if not r.layers and r.id not in given]
        return found + _applied(node, copies, anywhere)
    return _applied(node, copies, [r for r in RULES if not r.layers or node.type in r.layers])


def _applied(node: Node, copies: int, rules: list[Rule]) -> list[Explanation]:
    return [
        Explanation(rule.id, rule.deltas(node, copies), rule.explain(node, copies), note=rule.note)
        for rule in rules
        if rule.applies(node)
    ]


def unexplained(
    totals: dict[str, int | None], explanations: list[Explanation]
) -> dict[str, int | None]:
    """Per non-Keras framework: its total − Keras's total − the explained deltas."""
    base = totals.get("keras")
    out: dict[str, int | None] = {}
    for fw, total in totals.items():
        if fw == "keras":
            continue
        if total is None or base is None:
            out[fw] = None
            continue
        out[fw] = total - base - sum(e.delta.get(fw, 0) for e in explanations)
    return out


def storage_note(node: Node) -> str:
    """Where a layer's borrowed weights live, in every framework (empty when it owns them)."""
    if node.shares:
        return (
            f"applies '{node.shares}' again: its weights are stored and counted once, there "
            "(Keras: the same layer object called twice; PyTorch: the same module; ONNX: the same "
            "initializers)"
        )
    tied = node.links.get("tie")
    if tied is not None:
        return (
            f"its kernel is the embedding matrix of '{tied.name}', transposed, stored and counted there "
            f"(Keras: {tied.name}/embeddings; PyTorch: {tied.name}.weight; ONNX: the "
            f"{tied.name}.embeddings initializer)"
        )
    return ""
