"""docs/adding-a-layer.md stays true: a toy layer type registered from one IR module and three
backend modules (``tests/fixtures/toy_layer/``) goes through count, compare, port and export.

It runs in a fresh process, so the toy type never enters this process's registries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.frameworks


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("toy")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.toy_layer.run_commands", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def test_count_predicts_every_framework(results: dict[str, str]) -> None:
    code, text = results["count"].split(" ", 1)
    assert code == "0"
    report = json.loads(text)
    totals = {fw: report["totals"][fw]["total"] for fw in ("keras", "torch", "onnx")}
    # (6 inputs + 1 bias) × 4 units + 4 inputs × 3 units, in every framework
    assert totals == {"keras": 40, "torch": 40, "onnx": 40}


@pytest.mark.parametrize("command", ["compare", "port-keras", "port-torch", "port-onnx", "export"])
def test_command_succeeds_on_the_toy_type(results: dict[str, str], command: str) -> None:
    assert results[command] == "0"
