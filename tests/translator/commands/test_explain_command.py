"""``explain`` without frameworks: real formulas, aligned columns, truthful labels."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SPECS, ZOO
from translator.ir import Node
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
