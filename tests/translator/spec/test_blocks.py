"""Reusable blocks: expansion, naming, parameters and expressions, depth, and their errors."""

from __future__ import annotations

import pytest

from translator.commands.compare import collapse, count_report
from translator.errors import SpecErrors
from translator.spec.loader import load_text

SPEC = """
name: blocky
blocks:
  residual:
    params: {filters: null}
    layers:
      - {type: Conv2D, filters: $filters, kernel_size: 3, padding: same}
      - {name: bn, type: BatchNormalization}
      - {type: Add, inputs: [x, bn]}
  mlp:
    params: {d_model: 8, ratio: 4}
    layers:
      - {type: Dense, units: "${d_model * ratio}", activation: gelu}
      - {type: Dense, units: $d_model}
  stage:
    params: {filters: null}
    layers:
      - {block: residual, name: res, filters: $filters, repeat: 2}
      - {type: Conv2D, filters: "${filters * 2}", kernel_size: 1}
inputs:
  - {name: image, shape: [8, 8, 4]}
layers:
  - {block: residual, name: stage1, filters: 4, repeat: 3}
  - {block: stage, filters: 4}
  - {type: GlobalAveragePooling2D}
  - {block: mlp, name: head, d_model: 6}
  - {type: Dense, units: 2, inputs: head}
"""


def test_expansion_names_and_wiring() -> None:
    graph = load_text(SPEC)
    names = [n.name for n in graph.layers]
    assert names[:3] == ["stage1_1_conv2d", "stage1_1_bn", "stage1_1_add"]
    assert graph.node("stage1_2_add").inputs == ("stage1_1_add", "stage1_2_bn")
    assert graph.node("stage_res_2_conv2d").block == ("stage", "stage_res", "stage_res_2")
    assert graph.node("stage_conv2d").output_shape == (8, 8, 8)
    assert graph.node("head_dense").args["units"] == 24  # ${d_model * ratio} with d_model 6
    assert graph.node("dense").inputs == ("head_dense_1",)  # `inputs: head` is the block's output


DECODER = """
name: decoder_stack
blocks:
  decoder:
    inputs: [x, memory]
    layers:
      - {name: self_attn, type: MultiHeadAttention, num_heads: 2, key_dim: 4, causal: true, inputs: x}
      - {name: self_add, type: Add, inputs: [x, self_attn]}
      - {name: cross_attn, type: MultiHeadAttention, num_heads: 2, key_dim: 4, inputs: [self_add, memory]}
      - {name: cross_add, type: Add, inputs: [self_add, cross_attn]}
inputs:
  - {name: target, shape: [5, 8]}
  - {name: encoded, shape: [7, 8]}
layers:
  - {block: decoder, name: dec, inputs: [target, encoded], repeat: 3}
"""


def test_a_repeated_block_chains_its_first_input_and_shares_the_others() -> None:
    graph = load_text(DECODER)
    assert graph.node("dec_1_self_attn").inputs == ("target",)
    assert graph.node("dec_2_self_attn").inputs == ("dec_1_cross_add",)
    assert graph.node("dec_3_cross_attn").inputs == ("dec_3_self_add", "encoded")
    assert list(graph.outputs) == ["dec_3_cross_add"]


def test_collapse_sums_per_block() -> None:
    report = collapse(count_report(load_text(SPEC)), 0)
    rows = {r.name: r for r in report.rows}
    conv, bn = 4 * 9 * 4 + 4, 4 * 4
    assert rows["stage1"].layers == 9
    assert rows["stage1"].params["keras"]["total"] == 3 * (conv + bn)
    assert rows["stage1"].params["torch"]["total"] == 3 * (conv + bn // 2)
    (note,) = [e for e in rows["stage1"].explanations if e.rule == "batchnorm-stats-are-buffers"]
    assert note.delta == {"torch": -3 * 8} and note.count == 3
    assert rows["stage1"].unexplained == {"torch": 0, "onnx": 0}
    flat = count_report(load_text(SPEC))
    assert sum(r.params["keras"]["total"] for r in report.rows) == flat.totals["keras"]["total"]


BAD = [
    (
        "unknown-block",
        "  - {block: residul, filters: 2}\n",
        "unknown block 'residul'",
        "did you mean 'residual'",
    ),
    ("missing-param", "  - {block: residual}\n", "missing parameter 'filters'", ""),
    (
        "unknown-param",
        "  - {block: residual, filter: 2}\n",
        "has no parameter 'filter'",
        "did you mean 'filters'",
    ),
    ("bad-repeat", "  - {block: residual, filters: 2, repeat: 0}\n", "Received: repeat=0", ""),
    ("bad-expression", "  - {block: expr, k: 2}\n", "cannot evaluate", "parameters: k"),
    ("recursive", "  - {block: loop}\n", "instantiates itself", ""),
    ("outside-reference", "  - {block: leaky}\n", "'y', which is not in the block", ""),
    (
        "bad-first",
        "  - {block: residual, filters: 2, repeat: 2, first: B}\n",
        "invalid first. Received: first='B'",
        "a number from 0 to 1,000,000 or a letter a-z",
    ),
    (
        "letters-past-z",
        "  - {block: residual, filters: 2, repeat: 3, first: y}\n",
        "invalid first. Received: first='y' with repeat=3, past 'z'",
        "a letter that leaves room for every copy",
    ),
    (
        "copy-names-without-n",
        "  - {block: residual, filters: 2, repeat: 2, copy_names: stage}\n",
        "invalid copy_names. Received: copy_names='stage'",
        'a name with one {n} where the copy\'s number goes, e.g. "conv2_block{n}"',
    ),
    (
        "copy-names-a-number",
        "  - {block: residual, filters: 2, repeat: 2, copy_names: 3}\n",
        "invalid copy_names. Received: copy_names=3",
        "e.g.",
    ),
    (
        "copy-names-not-a-name",
        '  - {block: residual, filters: 2, repeat: 2, copy_names: "st-age{n}"}\n',
        "invalid copy_names. Received: copy_names='st-age{n}'",
        "e.g.",
    ),
]
BLOCKS = """
name: m
blocks:
  residual:
    params: {filters: null}
    layers:
      - {type: Dense, units: $filters}
  expr:
    params: {k: 1}
    layers:
      - {type: Dense, units: "${k ** 2}"}
  loop:
    layers:
      - {block: loop}
  leaky:
    layers:
      - {type: Dense, units: 2, inputs: y}
inputs:
  - {name: x, shape: [4]}
layers:
"""


@pytest.mark.parametrize(
    ("instance", "names"),
    [
        (
            '{block: unit, name: conv2_block, repeat: 2, first: 2, copy_names: "conv2_block{n}"}',
            ["conv2_block2_1_conv", "conv2_block2_add", "conv2_block3_1_conv", "conv2_block3_add"],
        ),
        (
            '{block: unit, name: block2, repeat: 3, first: b, copy_names: "block2{n}"}',
            ["block2b_1_conv", "block2b_add", "block2c_1_conv", "block2c_add", "block2d_1_conv"],
        ),
        ("{block: unit, name: h, repeat: 2, first: c}", ["h_c_1_conv", "h_c_add", "h_d_1_conv"]),
        (
            "{block: stage, name: s, repeat: 2}",
            ["s_1_u2_1_conv", "s_1_u3_add", "s_2_u2_1_conv", "s_2_u3_1_conv"],
        ),
    ],
    ids=[
        "numbered from 2, glued",
        "lettered from b",
        "lettered, the default names",
        "nested, inside each enclosing copy",
    ],
)
def test_copies_are_named_as_copy_names_and_first_say(instance: str, names: list[str]) -> None:
    """keras.applications names its blocks' copies ``conv2_block2_...`` and ``block2b_...``:
    ``copy_names`` puts the copy's number (or letter, ``first: b``) where ``{n}`` stands."""
    spec = f"""
name: m
blocks:
  unit:
    layers:
      - {{name: 1_conv, type: Dense, units: 4}}
      - {{name: add, type: Add, inputs: [x, 1_conv]}}
  stage:
    layers:
      - {{block: unit, name: u, repeat: 2, first: 2, copy_names: "u{{n}}"}}
inputs:
  - {{name: x, shape: [4]}}
layers:
  - {instance}
  - {{name: head, type: Dense, units: 2}}
"""
    graph = load_text(spec, "spec.yaml")
    found = [node.name for node in graph.nodes]
    assert all(name in found for name in names), found
    assert graph.node("head").inputs == (names[-1].replace("1_conv", "add"),)


@pytest.mark.parametrize(
    ("layer", "fragment", "hint"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_block_errors(layer: str, fragment: str, hint: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_text(BLOCKS + layer, "spec.yaml")
    line = caught.value.errors[0].render()
    assert line.startswith("spec.yaml:") and fragment in line and hint in line, line
