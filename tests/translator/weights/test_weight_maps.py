"""The weight maps and the canonical layout, with numpy alone (no framework).

Every transform is checked against its inverse; every spec's maps against the IR (each
framework's tensors produced with the IR's names and shapes from the canonical ones, and
read back); the folded double bias; and the one-line ``WeightsError`` texts.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, SPECS
from tests.conftest import ZOO as ZOO_SPECS
from tests.port_cases import BREADTH, ZOO, ZOO_MODELS, conformance_specs
from translator.commands.port import hyperparameter_notes, random_canonical
from translator.errors import WeightsError
from translator.ir import FRAMEWORKS, Graph
from translator.ops.attention import linear_weight, merge_heads
from translator.ops.depthwise import depthwise_kernel
from translator.ops.recurrent import GATE_ORDERS
from translator.spec.loader import load, load_text
from translator.weights.canonical import (
    canonical_shapes,
    check_canonical,
    check_weights,
    from_canonical,
    graph_maps,
    to_canonical,
)
from translator.weights.maps import MAPS
from translator.weights.transforms import Chain, Fold, Gates, Pack, Reshape, Transpose, Zeros

# Every spec, the inline cases, every conformance case (every layer type with several
# argument sets) and the zoo models the port tests run.
GRAPHS: dict[str, Graph] = (
    {p.stem: load(str(p)) for p in SPECS}
    | {name: load_text(text) for name, text in (ZOO | BREADTH | conformance_specs()).items()}
    | {p.stem: load(str(p)) for p in ZOO_SPECS if p.stem in ZOO_MODELS}
)
RNG = np.random.default_rng(0)


def arange(*shape: int) -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)


GATED = (2, 12)  # the gate axis divides by 3 and by 4
IMAGE = (2, 3, 4, 1)


@pytest.mark.parametrize(
    ("transform", "shape"),
    [
        (Transpose(), IMAGE),
        (Transpose((3, 2, 0, 1)), IMAGE),
        (Gates("ifco", "iofc"), GATED),
        (Gates("zrh", "rzh"), GATED),
        (Chain((Gates("ifco", "iofc"), Transpose())), GATED),
        (Reshape((4, 2, 3, 1), IMAGE), IMAGE),
        (depthwise_kernel(IMAGE), IMAGE),
        (depthwise_kernel((3, 4, 2)), (3, 4, 2)),
        (merge_heads(IMAGE, 1), IMAGE),
        (linear_weight(IMAGE, 0), IMAGE),
    ],
    ids=repr,
)
def test_every_map_undoes_itself_exactly(transform: object, shape: tuple[int, ...]) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    y = transform.apply(x)  # type: ignore[attr-defined]
    assert y.shape == transform.out_shape(x.shape)  # type: ignore[attr-defined]
    assert np.array_equal(transform.undo(y), x)  # type: ignore[attr-defined]


def test_gates_move_whole_blocks_of_the_last_axis() -> None:
    kernel = np.repeat(np.array([[1, 2, 3, 4]], np.float32), 2, axis=1)  # i i f f c c o o
    assert Gates("ifco", "iofc").apply(kernel).tolist() == [[1, 1, 4, 4, 2, 2, 3, 3]]


def test_conv_kernel_goes_from_hwio_to_oihw() -> None:
    kernel = arange(3, 5, 2, 7)  # (height, width, in, out)
    out = Transpose((3, 2, 0, 1)).apply(kernel)
    assert out.shape == (7, 2, 3, 5)
    assert out[6, 1, 2, 4] == kernel[2, 4, 1, 6]


def test_depthwise_kernel_puts_channel_i_filter_j_at_output_i_times_m_plus_j() -> None:
    kernel = arange(3, 5, 4, 2)  # (height, width, channels, multiplier)
    out = depthwise_kernel(kernel.shape).apply(kernel)
    assert out.shape == (8, 1, 3, 5)
    assert out[3 * 2 + 1, 0, 2, 4] == kernel[2, 4, 3, 1]


def _weights(text: str, framework: str, canonical: dict) -> dict:
    return from_canonical(load_text(text), framework, canonical)


def _one_layer(layer: str, shape: str = "[5, 8]") -> str:
    return f"name: one\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n  - {layer}\n"


def test_transposed_convolution_moves_axes_without_a_flip() -> None:
    text = _one_layer(
        "{name: up, type: Conv2DTranspose, filters: 2, kernel_size: [3, 4]}", "[4, 4, 5]"
    )
    kernel = arange(3, 4, 2, 5)  # (height, width, filters, in)
    for fw, name in (("torch", "weight"), ("onnx", "W")):
        got = _weights(text, fw, {"up/kernel": kernel, "up/bias": arange(2)})["up"][name]
        assert got.shape == (5, 2, 3, 4)
        assert got[4, 1, 0, 3] == kernel[0, 3, 1, 4]  # no spatial flip


def test_attention_merges_heads_head_major_and_packs_pytorch_rows() -> None:
    text = _one_layer("{name: mha, type: MultiHeadAttention, num_heads: 2, key_dim: 4}")
    graph = load_text(text)
    canonical = random_canonical(graph)
    query, key = canonical["mha/query_kernel"], canonical["mha/key_kernel"]  # (8, 2, 4)
    torch = from_canonical(graph, "torch", canonical)["mha"]  # nn.MultiheadAttention's own
    assert set(torch) == {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}
    assert torch["in_proj_weight"][1 * 4 + 3, 6] == query[6, 1, 3]  # head 1, feature 3
    assert torch["in_proj_weight"][8 + 5, 2] == key[2, 1, 1]  # key rows follow query rows
    assert torch["in_proj_bias"][8 + 5] == canonical["mha/key_bias"][1, 1]
    output = canonical["mha/output_kernel"]  # (heads, size, out)
    assert torch["out_proj.weight"][7, 1 * 4 + 2] == output[1, 2, 7]
    onnx = from_canonical(graph, "onnx", canonical)["mha"]
    assert onnx["q_W"][6, 1 * 4 + 3] == query[6, 1, 3]
    assert onnx["out_W"][1 * 4 + 2, 7] == output[1, 2, 7]


def test_attention_pytorch_cannot_express_gets_one_projection_per_role() -> None:
    text = _one_layer(
        "{name: mha, type: MultiHeadAttention, num_heads: 3, key_dim: 2, value_dim: 5}"
    )
    graph = load_text(text)
    canonical = random_canonical(graph)
    torch = from_canonical(graph, "torch", canonical)["mha"]
    assert torch["value.weight"].shape == (15, 8)
    assert torch["value.weight"][2 * 5 + 4, 1] == canonical["mha/value_kernel"][1, 2, 4]
    assert torch["output.weight"][3, 2 * 5 + 4] == canonical["mha/output_kernel"][2, 4, 3]


def test_stacked_recurrent_layers_map_layer_by_layer() -> None:
    text = _one_layer("{name: lstm, type: LSTM, units: 4, num_layers: 3}", "[6, 3]")
    graph = load_text(text)
    shapes = canonical_shapes(graph)
    assert shapes["lstm/kernel"] == (3, 16)
    assert shapes["lstm/layer_2/kernel"] == (4, 16)  # reads the layer below's 4 units
    assert shapes["lstm/layer_1/recurrent_bias"] == (16,)
    canonical = random_canonical(graph)
    torch = from_canonical(graph, "torch", canonical)["lstm"]
    assert np.array_equal(torch["weight_ih_l2"], canonical["lstm/layer_2/kernel"].T)
    assert np.array_equal(torch["bias_hh_l1"], canonical["lstm/layer_1/recurrent_bias"])
    onnx = from_canonical(graph, "onnx", canonical)["lstm"]
    assert set(onnx) == {f"{t}{at}" for t in "WRB" for at in ("", "_l1", "_l2")}
    assert onnx["W_l2"].shape == (1, 16, 4)
    keras = from_canonical(graph, "keras", canonical)["lstm"]
    assert "layer_2/lstm_cell/recurrent_kernel" in keras


def test_shared_layers_and_tied_dense_carry_no_tensors_of_their_own() -> None:
    graph = GRAPHS["breadth_shared_tied"]
    layers = {key.split("/")[0] for key in canonical_shapes(graph)}
    assert layers == {"conv", "rnn", "wte", "head"}  # no conv_b, rnn_b, rnn_again, wte_b, head_b
    assert [k for k in canonical_shapes(graph) if k.startswith("head/")] == ["head/bias"]
    for fw in FRAMEWORKS:
        assert set(from_canonical(graph, fw, random_canonical(graph))) == layers
    notes = hyperparameter_notes(graph)
    assert "rnn_again (GRU): applies 'rnn' again, with its weights (no tensors of its own)" in notes
    assert "head (Dense): kernel = transpose(wte/embeddings), stored once, in 'wte'" in notes


@pytest.mark.parametrize("spec", ZOO_SPECS, ids=[p.stem for p in ZOO_SPECS])
def test_every_zoo_model_maps_against_the_ir(spec: object) -> None:
    """The maps alone (no arrays: GPT-2 and BERT would allocate hundreds of megabytes)."""
    assert graph_maps(load(str(spec)))


def test_pack_stacks_directions_and_splits_them_back() -> None:
    forward, backward = arange(3, 8), arange(3, 8) + 100
    packed = Pack(Transpose()).forward([forward, backward], (2, 8, 3))
    assert np.array_equal(packed[1], backward.T)
    back = Pack(Transpose()).inverse(packed, [(3, 8), (3, 8)])
    assert np.array_equal(back[0], forward) and np.array_equal(back[1], backward)


def test_fold_sums_and_its_inverse_keeps_the_sum_in_the_first_source() -> None:
    a, b = np.float32([1, 2]), np.float32([0.5, -2])
    total = Fold().forward([a, b], (2,))
    assert total.tolist() == [1.5, 0.0]
    first, second = Fold().inverse(total, [(2,), (2,)])
    assert first.tolist() == [1.5, 0.0] and second.tolist() == [0.0, 0.0]


def test_zeros_fills_a_buffer_and_carries_nothing_back() -> None:
    assert Zeros().forward([], ()).dtype == np.int64
    assert Zeros().inverse(np.int64(7), []) == []


@pytest.mark.parametrize("model", ["LSTM", "GRU", "SimpleRNN"])
def test_gate_orders_are_permutations_of_keras(model: str) -> None:
    orders = GATE_ORDERS[model]
    assert all(sorted(o) == sorted(orders["keras"]) for o in orders.values())


def test_every_weighted_layer_type_has_a_map_and_the_cases_use_it() -> None:
    used = {
        part.type
        for graph in GRAPHS.values()
        for node in graph.nodes
        if any(node.weights.get(fw) for fw in FRAMEWORKS)
        for part in (node, *([node.inner] if node.inner else []))
    }
    assert set(MAPS) <= used, f"weight maps no spec exercises: {set(MAPS) - used}"
    assert used <= set(MAPS) | {"Bidirectional", "TimeDistributed"}


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_maps_fill_the_ir_tensors_and_read_them_back(name: str, framework: str) -> None:
    graph = GRAPHS[name]
    graph_maps(graph)  # each layer's map checked against the IR both ways
    canonical = random_canonical(graph, seed=1)
    weights = from_canonical(graph, framework, canonical)
    check_weights(graph, framework, weights)  # every IR tensor, with its shape
    back = to_canonical(graph, framework, weights)
    assert set(back) == set(canonical)
    for key, value in canonical.items():
        assert back[key].dtype == np.float32
        if key.endswith("input_bias") and _folded(graph, key, framework):
            # One bias kept (Keras; PyTorch's reset-before GRU): the sum comes back as the
            # input bias, zero as the recurrent one.
            recurrent = canonical[key.replace("input_bias", "recurrent_bias")]
            assert np.array_equal(back[key], value + recurrent), key
        elif key.endswith("recurrent_bias") and _folded(graph, key, framework):
            assert not back[key].any(), key
        else:
            assert np.array_equal(back[key], value), key  # bit for bit


def _folded(graph: Graph, key: str, framework: str) -> bool:
    """Whether ``framework`` keeps one (folded) bias where this canonical bias is one part."""
    layer = key.split("/")[0]
    entries = graph_maps(graph)[layer].entries[framework]
    return any(isinstance(x.combine, Fold) and key.split("/", 1)[1] in x.sources for x in entries)


def test_canonical_keys_name_layer_and_role() -> None:
    shapes = canonical_shapes(GRAPHS["seed_lstm"])
    assert shapes == {
        "lstm/kernel": (1, 40),
        "lstm/recurrent_kernel": (10, 40),
        "lstm/input_bias": (40,),
        "lstm/recurrent_bias": (40,),
        "time_distributed/kernel": (10, 1),
        "time_distributed/bias": (1,),
    }
    bidirectional = canonical_shapes(GRAPHS["bigru_tagger"])
    assert [k for k in bidirectional if k.startswith("bidirectional/")] == [
        f"bidirectional/{direction}/{role}"
        for direction in ("forward", "backward")
        for role in ("kernel", "recurrent_kernel", "input_bias", "recurrent_bias")
    ]


def test_keras_lstm_bias_splits_into_input_and_zero_recurrent_and_torch_gets_both() -> None:
    graph = GRAPHS["seed_lstm"]
    keras = from_canonical(graph, "keras", random_canonical(graph))
    bias = keras["lstm"]["lstm_cell/bias"]
    torch = from_canonical(graph, "torch", to_canonical(graph, "keras", keras))
    assert np.array_equal(torch["lstm"]["bias_ih_l0"], bias)  # i, f, g, o = Keras's i, f, c, o
    assert not torch["lstm"]["bias_hh_l0"].any()


def test_onnx_lstm_gates_are_reordered_to_iofc() -> None:
    graph = GRAPHS["seed_lstm"]
    canonical = {k: np.ones(s, np.float32) for k, s in canonical_shapes(graph).items()}
    kernel = np.concatenate([np.full((1, 10), g, np.float32) for g in (1, 2, 3, 4)], axis=1)
    canonical["lstm/kernel"] = kernel  # gates i=1, f=2, c=3, o=4
    w = from_canonical(graph, "onnx", canonical)["lstm"]["W"]
    assert w.shape == (1, 40, 1)
    assert [w[0, 10 * k, 0] for k in range(4)] == [1, 4, 2, 3]  # i, o, f, c


def seed_weights(framework: str) -> dict:
    graph = GRAPHS["seed_lstm"]
    return from_canonical(graph, framework, random_canonical(graph))


def test_wrong_shape_names_layer_tensor_and_both_shapes_in_one_line() -> None:
    weights = seed_weights("torch")
    weights["lstm"]["weight_ih_l0"] = np.zeros((40, 2), np.float32)
    with pytest.raises(WeightsError) as caught:
        check_weights(GRAPHS["seed_lstm"], "torch", weights, "model.pt")
    assert str(caught.value) == (
        "model.pt: layer 'lstm' tensor 'weight_ih_l0' (torch): expected shape (40, 1),"
        " received (40, 2)"
    )
    assert (caught.value.layer, caught.value.tensor) == ("lstm", "weight_ih_l0")
    assert (caught.value.expected, caught.value.received) == ((40, 1), (40, 2))


def test_missing_unknown_and_several_problems() -> None:
    graph = GRAPHS["seed_lstm"]
    weights = seed_weights("keras")
    del weights["lstm"]["lstm_cell/bias"]
    with pytest.raises(WeightsError, match=r"^w: layer 'lstm': missing tensor 'lstm_cell/bias'"):
        check_weights(graph, "keras", weights, "w")
    weights = seed_weights("keras")
    weights["lstm"]["extra"] = np.zeros(3)
    with pytest.raises(WeightsError, match=r"unknown tensor 'extra' \(keras, shape \(3,\)\)"):
        check_weights(graph, "keras", weights, "w")
    weights = seed_weights("keras") | {"nope": {"kernel": np.zeros(1)}}
    weights["lstm"]["lstm_cell/kernel"] = np.zeros(2)
    with pytest.raises(WeightsError) as caught:
        check_weights(graph, "keras", weights, "w")
    text = str(caught.value)
    assert "\n" not in text and "(and 1 more problems); unused in the file 1: nope.kernel" in text
    assert text.endswith("; --verbose lists them all")
    assert "no layer 'nope' with keras weights" not in text  # the first problem is reported
    assert caught.value.details == ["  unused   nope.kernel (1,)"]  # a wrong shape is neither


def test_every_unmatched_key_is_listed_for_verbose() -> None:
    graph = GRAPHS["seed_lstm"]
    weights = seed_weights("torch")
    renamed = {"encoder": weights.pop("lstm")}
    with pytest.raises(WeightsError) as caught:
        check_weights(graph, "torch", weights | renamed, "w.pt")
    text = str(caught.value)
    assert "; missing 4: lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, …;" in text
    assert "; unused in the file 4: encoder.weight_ih_l0, encoder.weight_hh_l0," in text
    assert caught.value.details == [
        "  missing  lstm.weight_ih_l0 (40, 1)",
        "  missing  lstm.weight_hh_l0 (40, 10)",
        "  missing  lstm.bias_ih_l0 (40,)",
        "  missing  lstm.bias_hh_l0 (40,)",
        "  unused   encoder.weight_ih_l0 (40, 1)",
        "  unused   encoder.weight_hh_l0 (40, 10)",
        "  unused   encoder.bias_ih_l0 (40,)",
        "  unused   encoder.bias_hh_l0 (40,)",
    ]


def test_canonical_file_problems_name_the_canonical_tensor() -> None:
    graph = GRAPHS["seed_lstm"]
    canonical = random_canonical(graph)
    canonical["lstm/input_bias"] = np.zeros(41, np.float32)
    with pytest.raises(WeightsError) as caught:
        check_canonical(graph, canonical, "w.npz")
    assert str(caught.value) == (
        "w.npz: layer 'lstm' tensor 'input_bias' (canonical): expected shape (40,), received (41,)"
    )


def test_hyperparameter_conversions_are_named_from_the_spec_values() -> None:
    notes = hyperparameter_notes(GRAPHS["zoo_norms"])
    assert (
        "bn_middle (BatchNormalization): momentum: Keras 0.9 → PyTorch 0.1 (1 − m), ONNX 0.9"
        in notes
    )
    assert any(n.startswith("bn_last (BatchNormalization): epsilon 0.01 carried") for n in notes)
    gru = hyperparameter_notes(GRAPHS["gru_variants"])
    assert any("reset_after false → a PyTorch custom module" in n for n in gru)


def test_importing_the_port_modules_loads_neither_numpy_nor_a_framework() -> None:
    code = (
        "import sys, translator.weights.canonical, translator.commands.port, translator.weights.maps\n"
        "heavy = sorted(m for m in ('numpy', 'torch', 'tensorflow', 'keras', 'onnx') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
