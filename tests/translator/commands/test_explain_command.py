"""``explain`` without frameworks: real formulas, aligned columns, truthful labels."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SPECS, ZOO
from translator.commands.explain import explain_data, render_text
from translator.ir import FRAMEWORKS, Node
from translator.ir.registries import formula
from translator.spec.loader import load, load_text


def _one(layer: str, shape: str) -> Node:
    text = f"name: m\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n  - {layer}\n"
    return load_text(text).layers[0]


def _with_wrapped(node: Node) -> list[Node]:
    inner = node.inner
    return [node, *(_with_wrapped(inner) if inner is not None else [])]


@pytest.mark.parametrize("spec", [*SPECS, *ZOO], ids=lambda p: p.stem)
def test_no_formula_only_restates_its_number(spec) -> None:
    """A formula names what it multiplies (``N = N`` or ``a + b = c`` says nothing), unless
    the layer has no weights."""
    bare = re.compile(r"^[\d,+ ]+ = [\d,]+$")
    nodes = [n for top in load(str(spec)).layers for n in _with_wrapped(top)]
    restated = [(n.name, formula(n)) for n in nodes if bare.match(formula(n))]
    assert restated == []
    assert all(formula(n) == "no weights = 0" for n in nodes if not n.weights["keras"])


@pytest.mark.parametrize(
    ("layer", "shape", "expected"),
    [
        (
            "{type: Conv3D, filters: 4, kernel_size: 3}",
            "[6, 6, 6, 2]",
            "(3 × 3 × 3 kernel × 2 input channels + 1 bias) × 4 filters = 220",
        ),
        (
            "{type: Conv2DTranspose, filters: 8, kernel_size: 2}",
            "[5, 5, 3]",
            "(2 × 2 kernel × 3 input channels + 1 bias) × 8 filters = 104",
        ),
        (
            "{type: Conv1DTranspose, filters: 4, kernel_size: 3, use_bias: false}",
            "[10, 2]",
            "(3 kernel × 2 input channels) × 4 filters = 24",
        ),
        (
            "{type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2}",
            "[10, 10, 4]",
            "(3 × 3 kernel + 1 bias) × 4 channels × 2 multiplier = 80",
        ),
        (
            "{type: DepthwiseConv1D, kernel_size: 3, use_bias: false}",
            "[10, 4]",
            "3 kernel × 4 channels × 1 multiplier = 12",
        ),
        (
            "{type: SeparableConv2D, filters: 8, kernel_size: 3}",
            "[10, 10, 4]",
            (
                "3 × 3 kernel × 4 channels × 1 multiplier + (4 depthwise outputs + 1 bias)"
                " × 8 filters = 76"
            ),
        ),
        ("{type: LayerNormalization}", "[5, 8]", "2 (gamma, beta) × 8 features = 16"),
        ("{type: LayerNormalization, center: false}", "[5, 8]", "1 (gamma) × 8 features = 8"),
        (
            "{type: LayerNormalization, center: false, scale: false}",
            "[5, 8]",
            "no weights = 0",
        ),
        ("{type: GroupNormalization, groups: 2}", "[6, 6, 4]", "2 (gamma, beta) × 4 channels = 8"),
        ("{type: RMSNormalization}", "[5, 8]", "1 scale × 8 features = 8"),
        ("{type: PReLU}", "[10, 10, 4]", "10 × 10 × 4 slopes (one per element) = 400"),
        (
            "{type: PReLU, shared_axes: [1, 2]}",
            "[10, 10, 4]",
            "1 × 1 × 4 slopes (axes 1, 2 shared) = 4",
        ),
        (
            "{type: PositionEmbedding, sequence_length: 16}",
            "[10, 8]",
            "16 positions × 8 features = 128",
        ),
        (
            "{type: MultiHeadAttention, num_heads: 2, key_dim: 3}",
            "[5, 8]",
            (
                "query (8 in + 1 bias) × 2 heads × 3 + key (8 in + 1 bias) × 2 heads × 3"
                " + value (8 in + 1 bias) × 2 heads × 3 + output (2 heads × 3 + 1 bias) × 8 out = 218"
            ),
        ),
        (
            (
                "{type: GroupQueryAttention, head_dim: 4, num_query_heads: 4,"
                " num_key_value_heads: 2}"
            ),
            "[5, 8]",
            (
                "query (8 in + 1 bias) × 4 heads × 4 + key (8 in + 1 bias) × 2 heads × 4"
                " + value (8 in + 1 bias) × 2 heads × 4 + output (4 heads × 4 + 1 bias) × 8 out = 424"
            ),
        ),
    ],
)
def test_formula_multiplies_out_to_the_count(layer: str, shape: str, expected: str) -> None:
    """Each formula, read as arithmetic, gives the Keras count (checked by hand here)."""
    assert formula(_one(layer, shape)) == expected


def _tensor_rows(text: str) -> list[str]:
    """The tensor lines of one layer's explanation (indented four spaces, before the
    correspondence section)."""
    head = text.split("\n  corresponding tensors:")[0]
    return [line for line in head.splitlines() if re.match(r"^    \S", line)]


def _columns(line: str) -> list[tuple[int, int]]:
    """(start, end) of each cell: cells are separated by two spaces or more."""
    return [m.span() for m in re.finditer(r"\S+(?: \S+)*", line)]


def assert_aligned(text: str) -> None:
    """Every tensor row has five cells; names, shapes, roles and labels start at the same
    offsets, counts (right-aligned) end at the same offset."""
    rows = [_columns(line) for line in _tensor_rows(text)]
    assert all(len(r) == 5 for r in rows), text
    for i in (0, 1, 3, 4):
        assert len({r[i][0] for r in rows}) <= 1, (i, text)
    assert len({r[2][1] for r in rows}) <= 1, text


# Each has a name longer than 36 characters or a shape longer than 16, the fixed widths the
# columns once had.
LONG_NAMES = [
    ("{type: Bidirectional, layer: {type: LSTM, units: 6}}", "[12, 5]"),
    (
        "{type: TimeDistributed, layer: {type: SeparableConv2D, filters: 1024, kernel_size: 3}}",
        "[4, 10, 10, 256]",
    ),
    ("{type: Conv3D, filters: 256, kernel_size: 3}", "[6, 6, 6, 128]"),
]


@pytest.mark.parametrize(("layer", "shape"), LONG_NAMES, ids=lambda v: v[:40])
def test_tensor_columns_align_on_long_names(layer: str, shape: str) -> None:
    node = _one(layer, shape)
    text = render_text(node)
    assert len(_tensor_rows(text)) == sum(len(node.weights[fw]) for fw in FRAMEWORKS)
    tensors = [t for ts in node.weights.values() for t in ts]
    assert any(len(t.name) > 36 or len(str(t.shape)) > 16 for t in tensors)
    assert_aligned(text)


@pytest.mark.parametrize("spec", [*SPECS, *ZOO], ids=lambda p: p.stem)
def test_tensor_columns_align_in_every_spec(spec) -> None:
    for node in load(str(spec)).layers:
        assert_aligned(render_text(node))


def _bn() -> Node:
    return _one("{type: BatchNormalization}", "[8, 8, 16]")


def test_onnx_batchnorm_tensors_are_initializers_and_statistics() -> None:
    text = render_text(_bn())
    onnx = text.split("\n  ONNX:")[1].split("\n  corresponding")[0]
    labels = {r.split()[0]: r.split("  ")[-1].strip() for r in _tensor_rows("  ONNX:" + onnx)}
    assert labels == {
        "scale": "initializer",
        "B": "initializer",
        "input_mean": "initializer, statistic",
        "input_var": "initializer, statistic",
    }
    assert "trainable" not in onnx


@pytest.mark.parametrize(
    ("framework", "labels", "trainable", "kind"),
    [
        (
            "keras",
            ["trainable", "trainable", "non-trainable", "non-trainable"],
            [True, True, False, False],
            ["parameter"] * 4,
        ),
        (
            "torch",
            ["trainable", "trainable", "buffer", "buffer", "buffer"],
            [True, True, False, False, False],
            ["parameter", "parameter", "buffer", "buffer", "buffer"],
        ),
        (
            "onnx",
            ["initializer", "initializer", "initializer, statistic", "initializer, statistic"],
            [None] * 4,
            ["initializer"] * 4,
        ),
    ],
)
def test_explain_data_labels_batchnorm_tensors_truthfully(
    framework: str, labels: list[str], trainable: list, kind: list[str]
) -> None:
    data = explain_data(_bn())["frameworks"][framework]
    assert [t["label"] for t in data["tensors"]] == labels
    assert [t["trainable"] for t in data["tensors"]] == trainable
    assert [t["kind"] for t in data["tensors"]] == kind


def test_batchnorm_counts_are_unchanged_by_the_labels() -> None:
    """The counts are asserted against the real frameworks elsewhere; the labels move none."""
    bn = _bn()
    assert bn.counts("keras") == {"total": 64, "trainable": 32, "non_trainable": 32}
    assert bn.counts("torch") == {"total": 32, "trainable": 32, "non_trainable": 0, "buffers": 33}
    assert bn.counts("onnx") == {"total": 64}
