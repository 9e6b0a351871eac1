"""Every spec in specs/, built for real in Keras, PyTorch and ONNX.

For each spec and each framework: the model builds and runs a forward pass with the output
shapes the IR predicts, the tensors measured on the real objects equal the IR's prediction
tensor by tensor (``compare_report`` records any difference as a failure), and every
difference between frameworks is explained by a rule.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SPECS
from translator.commands.compare import compare_report
from translator.spec.loader import load

pytestmark = pytest.mark.frameworks


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_spec_builds_measures_and_reconciles(spec) -> None:
    report = compare_report(load(str(spec)))
    assert report.failures == []
    for row in report.rows:
        for fw, counts in row.params.items():
            assert counts is not None, f"{row.name}: {fw} did not build it: {row.unsupported}"
        assert all(v == 0 for v in row.unexplained.values()), (row.name, row.unexplained)
    assert report.ok


def test_seed_json_from_the_cli() -> None:
    """The contract's JSON for the seed, with the numbers of the seed question."""
    result = subprocess.run(
        [sys.executable, "-m", "translator", "compare", "specs/seed_lstm.yaml", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["spec"] == "seed_lstm"
    assert data["frameworks"] == ["keras", "torch", "onnx"]
    lstm, td = data["layers"]
    assert (lstm["name"], lstm["type"]) == ("lstm", "LSTM")
    assert lstm["params"] == {
        "keras": {"total": 480, "trainable": 480, "non_trainable": 0},
        "torch": {"total": 520, "trainable": 520, "non_trainable": 0, "buffers": 0},
        "onnx": {"total": 520},
    }
    (rule,) = lstm["explanations"]
    assert rule["rule"] == "rnn-double-bias"
    assert rule["delta"] == {"torch": 40, "onnx": 40}
    assert "bias_hh" in rule["text"]
    assert lstm["unexplained"] == {"torch": 0, "onnx": 0}
    assert td["params"]["keras"]["total"] == 11
    assert data["totals"] == {
        "keras": {"total": 491, "trainable": 491, "non_trainable": 0},
        "torch": {"total": 531, "trainable": 531, "non_trainable": 0, "buffers": 0},
        "onnx": {"total": 531},
    }


def test_batchnorm_buffers_are_explained() -> None:
    report = compare_report(load(str(ROOT / "specs" / "resnet_block.yaml")))
    bn = next(r for r in report.rows if r.name == "bn_a")
    assert bn.params["keras"] == {"total": 64, "trainable": 32, "non_trainable": 32}
    assert bn.params["torch"] == {"total": 32, "trainable": 32, "non_trainable": 0, "buffers": 33}
    assert bn.params["onnx"] == {"total": 64}
    assert [e.rule for e in bn.explanations] == ["batchnorm-stats-are-buffers"]
    assert bn.unexplained == {"torch": 0, "onnx": 0}
