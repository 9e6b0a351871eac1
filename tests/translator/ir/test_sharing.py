"""Shared layers and tied weights are counted once, and the report says where they live."""

from __future__ import annotations

import pytest

from translator.commands.compare import count_report
from translator.errors import SpecErrors
from translator.spec.loader import load_text

SPEC = """
name: siamese_tied
inputs:
  - {name: a, shape: [10]}
  - {name: b, shape: [10]}
  - {name: tokens, shape: [7], dtype: int32}
layers:
  - {name: enc, type: Dense, units: 4, activation: relu, inputs: a}
  - {name: enc_b, share: enc, inputs: b}
  - {name: diff, type: Subtract, inputs: [enc, enc_b]}
  - {name: wte, type: Embedding, input_dim: 50, output_dim: 6, inputs: tokens}
  - {name: lm_head, type: Dense, units: 50, use_bias: false, tie: wte}
outputs: [diff, lm_head]
"""


def test_shared_and_tied_weights_count_once() -> None:
    graph = load_text(SPEC)
    shared, tied = graph.node("enc_b"), graph.node("lm_head")
    assert (shared.type, shared.shares, shared.args["units"]) == ("Dense", "enc", 4)
    assert all(t == () for t in shared.weights.values())
    assert all(t == () for t in tied.weights.values())
    assert tied.links["tie"].name == "wte"
    report = count_report(graph)
    for fw in ("keras", "torch", "onnx"):
        assert report.totals[fw]["total"] == 44 + 300
    rows = {r.name: r for r in report.rows}
    assert "applies 'enc' again" in rows["enc_b"].stored
    assert "wte.weight" in rows["lm_head"].stored
    assert rows["enc"].stored == ""


BAD = [
    ("share-unknown", "  - {share: enk, inputs: b}\n", "'share' names 'enk'", "did you mean 'enc'"),
    ("share-extra-key", "  - {share: enc, units: 3}\n", "takes only share, name, inputs", ""),
    (
        "share-other-shape",
        "  - {share: enc, inputs: c}\n",
        "shares 'enc', whose weights were made for a different input",
        "",
    ),
    (
        "tie-not-embedding",
        "  - {type: Dense, units: 4, tie: enc}\n",
        "tie names 'enc', a Dense",
        "tie to an Embedding",
    ),
    (
        "tie-wrong-units",
        "  - {type: Dense, units: 9, tie: wte, inputs: wte}\n",
        "needs units=50 and 6 input features",
        "",
    ),
    (
        "tie-unknown",
        "  - {type: Dense, units: 4, tie: wtf}\n",
        "'tie' names 'wtf', not an earlier layer",
        "",
    ),
]
HEAD = """
name: m
inputs:
  - {name: a, shape: [10]}
  - {name: b, shape: [10]}
  - {name: c, shape: [12]}
  - {name: tokens, shape: [7], dtype: int32}
layers:
  - {name: enc, type: Dense, units: 4, inputs: a}
  - {name: wte, type: Embedding, input_dim: 50, output_dim: 6, inputs: tokens}
"""


@pytest.mark.parametrize(
    ("layer", "fragment", "hint"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_sharing_errors(layer: str, fragment: str, hint: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_text(HEAD + layer.replace("tie: enc}", "tie: enc, inputs: enc}"), "spec.yaml")
    line = caught.value.errors[0].render()
    assert fragment in line and hint in line, line
