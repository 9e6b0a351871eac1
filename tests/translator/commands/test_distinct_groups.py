"""Grouping layers for ``compare --materialize distinct`` (framework-free): the key separates
layers that differ in any argument, input shape or input type; the model built per group is
the one layer fed by fresh inputs (with the layers it shares or ties to); the summary line;
the automatic choice."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.port_cases import BREADTH
from translator.cli import main
from translator.commands import distinct
from translator.commands.distinct import (
    Group,
    choose,
    distinct_groups,
    input_dtypes,
    layer_key,
    materialized,
    mini_graph,
)
from translator.ir import FRAMEWORKS, INPUT, Graph
from translator.spec.loader import load, load_text

INPUTS = """
inputs:
  - {name: x, shape: [6, 8]}
  - {name: y, shape: [6, 8]}
  - {name: wide, shape: [6, 9]}
  - {name: long, shape: [7, 8]}
  - {name: img, shape: [12, 12, 3]}
  - {name: ids, shape: [6], dtype: int32}
  - {name: ids64, shape: [6], dtype: int64}
"""

# (case, layer a, layer b, whether a and b are one group): each layer names its inputs.
CASES = [
    (
        "same Dense, other input",
        "{type: Dense, units: 4, inputs: x}",
        "{type: Dense, units: 4, inputs: y}",
        True,
    ),
    ("units", "{type: Dense, units: 4, inputs: x}", "{type: Dense, units: 5, inputs: x}", False),
    (
        "activation",
        "{type: Dense, units: 4, inputs: x}",
        "{type: Dense, units: 4, activation: relu, inputs: x}",
        False,
    ),
    (
        "use_bias",
        "{type: Dense, units: 4, inputs: x}",
        "{type: Dense, units: 4, use_bias: false, inputs: x}",
        False,
    ),
    (
        "input features",
        "{type: Dense, units: 4, inputs: x}",
        "{type: Dense, units: 4, inputs: wide}",
        False,
    ),
    (
        "input steps",
        "{type: Dense, units: 4, inputs: x}",
        "{type: Dense, units: 4, inputs: long}",
        False,
    ),
    (
        "default written out",
        "{type: Dense, units: 4, inputs: x}",
        "{type: Dense, units: 4, use_bias: true, inputs: x}",
        True,
    ),
    (
        "strides",
        "{type: Conv2D, filters: 2, kernel_size: 3, inputs: img}",
        "{type: Conv2D, filters: 2, kernel_size: 3, strides: 2, inputs: img}",
        False,
    ),
    (
        "no weights, rate",
        "{type: Dropout, rate: 0.1, inputs: x}",
        "{type: Dropout, rate: 0.2, inputs: x}",
        False,
    ),
    (
        "return_sequences",
        "{type: LSTM, units: 3, inputs: x}",
        "{type: LSTM, units: 3, return_sequences: true, inputs: x}",
        False,
    ),
    (
        "wrapped units",
        "{type: Bidirectional, layer: {type: GRU, units: 3}, inputs: x}",
        "{type: Bidirectional, layer: {type: GRU, units: 4}, inputs: x}",
        False,
    ),
    (
        "input type",
        "{type: Embedding, input_dim: 9, output_dim: 2, inputs: ids}",
        "{type: Embedding, input_dim: 9, output_dim: 2, inputs: ids64}",
        False,
    ),
    ("merge arity", "{type: Add, inputs: [x, y]}", "{type: Add, inputs: [x, y, x]}", False),
    ("merge, other inputs", "{type: Add, inputs: [x, y]}", "{type: Add, inputs: [y, x]}", True),
]


def _keys(text: str) -> list[tuple[object, ...]]:
    graph = load_text(text)
    by_name = {n.name: n for n in graph.nodes}
    return [layer_key(n, input_dtypes(by_name, n)) for n in graph.layers]


@pytest.mark.parametrize(("case", "a", "b", "same"), CASES, ids=[c[0] for c in CASES])
def test_the_key_separates_any_difference(case: str, a: str, b: str, same: bool) -> None:
    one, other = _keys(f"name: t\n{INPUTS}layers:\n  - {a}\n  - {b}\n")
    assert (one == other) is same


def _group_of(graph: Graph, layer: str) -> Group:
    return next(g for g in distinct_groups(graph) if graph.node(layer) in g.nodes)


def test_a_layer_using_another_s_tensors_is_its_own_group() -> None:
    graph = load_text(BREADTH["breadth_shared_tied"])
    groups = {n.name: g for g in distinct_groups(graph) for n in g.nodes}
    for name in ("conv_b", "rnn_b", "rnn_again", "head", "wte_b", "head_b"):
        assert groups[name].nodes == (graph.node(name),), name


@pytest.mark.parametrize(
    ("layer", "members"),
    [
        ("rnn_again", ["rnn", "rnn_again"]),  # a share of a share applies the original
        ("head_b", ["wte", "head", "head_b"]),  # a share of a tied Dense
        ("diff", ["diff"]),
    ],
)
def test_the_model_built_per_group_holds_what_the_layer_uses(layer: str, members: list) -> None:
    graph = load_text(BREADTH["breadth_shared_tied"])
    mini = mini_graph(graph, _group_of(graph, layer))
    assert [n.name for n in mini.layers] == members
    assert mini.outputs == members
    for node in mini.layers:
        fed = [mini.node(ref) for ref in node.inputs]
        assert all(f.type == INPUT for f in fed)
        assert tuple(f.output_shape for f in fed) == graph.node(node.name).input_shapes


def test_a_fresh_input_has_the_type_the_layer_reads() -> None:
    graph = load_text(BREADTH["breadth_shared_tied"])
    mini = mini_graph(graph, _group_of(graph, "wte"))
    assert [(n.name, n.dtype, n.output_shape) for n in mini.nodes] == [
        ("wte__input_0", "int32", (7,)),
        ("wte", "float32", (7, 5)),
    ]


SUMMARIES = [
    ("gpt2_small", "8 distinct of 89 layers; block 'h': 12 × 7 layers, 5 distinct"),
    ("bert_base", "13 distinct of 117 layers; block 'transformer': 12 × 9 layers, 6 distinct"),
    ("llama2_7b", "9 distinct of 291 layers; block 'layers': 32 × 9 layers, 7 distinct"),
    ("unet_small", "15 distinct of 17 layers"),  # its blocks are not repeated
]


@pytest.mark.parametrize(("spec", "expected"), SUMMARIES, ids=[s[0] for s in SUMMARIES])
def test_the_summary_line(spec: str, expected: str) -> None:
    graph = load(str(ROOT / "specs" / "zoo" / f"{spec}.yaml"))
    line = materialized(graph, distinct_groups(graph), "").summary()
    assert line == f"measured once per distinct layer (--materialize distinct): {expected}"


def _llama() -> Graph:
    return load(str(ROOT / "specs" / "zoo" / "llama2_7b.yaml"))


ALL = FRAMEWORKS
WHY = "75.3 GB of float32 weights in 3 frameworks > 25% of available memory"


@pytest.mark.parametrize(
    ("available", "frameworks", "asked", "mode", "why"),
    [
        (64 * 2**30, ALL, None, "distinct", WHY),
        (
            64 * 2**30,
            ("torch",),
            None,
            "distinct",
            WHY.replace("75.3", "25.1").replace("3 frameworks", "torch"),
        ),
        (400 * 2**30, ALL, None, "full", ""),
        (None, ALL, None, "full", ""),  # unknown: as before
        (400 * 2**30, ALL, "distinct", "distinct", ""),
        (1, ALL, "full", "full", ""),
    ],
)
def test_the_choice(
    monkeypatch: pytest.MonkeyPatch, available, frameworks, asked, mode, why
) -> None:
    monkeypatch.setattr(distinct.memory, "available", lambda: available)
    assert choose(_llama(), frameworks, asked) == (mode, why)


def test_the_llama_spec_counts_as_llama2_7b() -> None:
    totals = {fw: _llama().counts(fw)["total"] for fw in FRAMEWORKS}
    assert totals == dict.fromkeys(FRAMEWORKS, 6_738_415_616)


def test_an_unknown_mode_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(ROOT / "specs" / "seed_lstm.yaml"), "--materialize", "half"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: argument --materialize: invalid choice: 'half'")
