"""``compare --materialize distinct`` on the real frameworks: each distinct layer built once
gives exactly the per-layer measurements and totals of the whole models (zoo models, shared
and tied layers, every conformance case); a LLaMA-shaped spec (4 layers, hidden 512)
compares through the CLI. The 7B spec itself is left to the command in the README (about a
minute and 2.7 GB here)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT
from tests.port_cases import BREADTH, conformance_specs
from translator.cli import main
from translator.commands.compare import compare_report
from translator.ir import Graph
from translator.spec.loader import load, load_text

pytestmark = pytest.mark.frameworks


def _zoo(name: str) -> Graph:
    return load(str(ROOT / "specs" / "zoo" / f"{name}.yaml"))


CASES = {
    "bert_base": lambda: _zoo("bert_base"),
    "gpt2_small": lambda: _zoo("gpt2_small"),  # its head is tied to the token embedding
    "shared_tied": lambda: load_text(BREADTH["breadth_shared_tied"]),
    "bidirectional_merges": lambda: load(str(ROOT / "specs" / "bidirectional_merges.yaml")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_distinct_measures_exactly_what_full_does(case: str) -> None:
    graph = CASES[case]()
    full = compare_report(graph, materialize="full")
    once = compare_report(graph, materialize="distinct")
    assert full.failures == once.failures == []
    assert [r.as_dict(full.frameworks) for r in once.rows] == [
        r.as_dict(full.frameworks) for r in full.rows
    ]
    assert once.totals == full.totals
    assert once.unexplained_total == 0
    assert full.materialized is None and once.materialized is not None


CONFORMANCE = conformance_specs()


@pytest.mark.parametrize("case", sorted(CONFORMANCE))
def test_distinct_equals_full_for_every_layer_type(case: str) -> None:
    """Every conformance case (each layer type, argument sets), PyTorch and ONNX measured
    against the IR's Keras counts too."""
    graph = load_text(CONFORMANCE[case])
    for frameworks in [("keras", "torch", "onnx"), ("torch", "onnx")]:
        full = compare_report(graph, frameworks, materialize="full")
        once = compare_report(graph, frameworks, materialize="distinct")
        assert [r.as_dict(frameworks) for r in once.rows] == [
            r.as_dict(frameworks) for r in full.rows
        ]
        assert (once.totals, once.failures) == (full.totals, full.failures)


LLAMA_SMALL = """
name: llama_small
description: llama2_7b's shape at 4 layers, hidden 512, 8 heads, intermediate 1376.
blocks:
  decoder:
    layers:
      - {name: input_norm, type: RMSNormalization, epsilon: 1e-5, inputs: x}
      - {name: self_attn, type: GroupQueryAttention, head_dim: 64, num_query_heads: 8,
         num_key_value_heads: 8, use_bias: false, causal: true}
      - {name: attn_add, type: Add, inputs: [x, self_attn]}
      - {name: post_norm, type: RMSNormalization, epsilon: 1e-5}
      - {name: gate_proj, type: Dense, units: 1376, use_bias: false, activation: silu}
      - {name: up_proj, type: Dense, units: 1376, use_bias: false, inputs: post_norm}
      - {name: swiglu, type: Multiply, inputs: [gate_proj, up_proj]}
      - {name: down_proj, type: Dense, units: 512, use_bias: false}
      - {name: mlp_add, type: Add, inputs: [attn_add, down_proj]}
inputs:
  - {name: tokens, shape: [8], dtype: int32}
layers:
  - {name: embed_tokens, type: Embedding, input_dim: 1000, output_dim: 512}
  - {block: decoder, name: layers, repeat: 4}
  - {name: norm, type: RMSNormalization, epsilon: 1e-5}
  - {name: lm_head, type: Dense, units: 1000, use_bias: false}
"""
# 4 × (4 × 512² + 3 × 512 × 1376 + 2 × 512) + 2 × 1000 × 512 + 512
LLAMA_SMALL_PARAMS = 4 * (4 * 512**2 + 3 * 512 * 1376 + 2 * 512) + 2 * 1000 * 512 + 512


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_llama_shaped_spec_compares_once_per_distinct_layer(
    tmp_path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    spec = tmp_path / "llama_small.yaml"
    spec.write_text(LLAMA_SMALL, encoding="utf-8")
    assert main(["compare", str(spec), "--materialize", "distinct", "--format", fmt]) == 0
    out = capsys.readouterr().out
    summary = "9 distinct of 39 layers; block 'layers': 4 × 9 layers, 7 distinct"
    if fmt == "table":
        assert f"measured once per distinct layer (--materialize distinct): {summary}" in out
        return
    report = json.loads(out)
    assert report["materialize"] == {"mode": "distinct", "distinct": 9, "layers": 39}
    assert all(not any(layer["unexplained"].values()) for layer in report["layers"])
    assert {fw: t["total"] for fw, t in report["totals"].items()} == {
        fw: LLAMA_SMALL_PARAMS for fw in ("keras", "torch", "onnx")
    }
