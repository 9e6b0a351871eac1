"""At scale, through the CLI with the real frameworks: an ONNX model past protobuf's 2 GB is
written, checked and run with its tensors in ``model.onnx.data`` (forced here on small specs by
lowering ``EXTERNAL_ABOVE``); a model that fits in ``--max-memory`` goes through."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

import backends.onnx.export as onnx_export
from tests.conftest import ROOT
from translator.cli import main

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
MNIST = str(ROOT / "specs" / "mnist_cnn.yaml")


@pytest.fixture
def external(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ONNX model counts as large: its tensors of 1 KB or more go to external data."""
    monkeypatch.setattr(onnx_export, "EXTERNAL_ABOVE", 0)


@pytest.mark.parametrize("spec", [MNIST, SEED])
def test_export_writes_external_data_and_reloads_it(
    spec: str, external: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["export", spec, "--out", str(out), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["rtol"] == 1e-5
    assert {d["framework"] for d in report["outputs"]} == {"keras", "onnx", "torch"}
    assert str(out / "model.onnx.data") in [f["path"] for f in report["files"]]
    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    outside = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert outside and all(not t.raw_data for t in outside)
    onnx.checker.check_model(str(out / "model.onnx"), full_check=True)
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    feeds = {
        i.name: np.zeros([2 if not isinstance(d, int) else d for d in i.shape], np.float32)
        for i in session.get_inputs()
    }
    assert all(np.all(np.isfinite(o)) for o in session.run(None, feeds))


def test_a_second_export_without_external_data_removes_the_old_data_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    monkeypatch.setattr(onnx_export, "EXTERNAL_ABOVE", 0)
    assert main(["export", MNIST, "--out", str(out)]) == 0
    assert (out / "model.onnx.data").exists()
    monkeypatch.setattr(onnx_export, "EXTERNAL_ABOVE", 2**31)
    assert main(["export", MNIST, "--out", str(out), "--force"]) == 0
    assert not (out / "model.onnx.data").exists()
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", MNIST, "--frameworks", "onnx"],
        ["port", MNIST, "--from", "onnx", "--to", "torch"],
        ["port", SEED, "--from", "torch", "--to", "onnx"],
    ],
    ids=["compare", "port-from-onnx", "port-to-onnx"],
)
def test_large_onnx_models_build_and_run_through_a_file(
    argv: list[str], external: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0, capsys.readouterr()


def test_an_onnx_weights_file_with_external_data_stays_refused(
    external: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["export", MNIST, "--out", str(out)]) == 0
    capsys.readouterr()
    argv = ["port", MNIST, "--from", "torch", "--weights", str(out / "model.onnx")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "keeps its data elsewhere; accepted: data inside" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", SEED, "--frameworks", "torch"],
        ["port", SEED, "--from", "torch", "--to", "onnx"],
        ["export", SEED, "--out", "{tmp}/out"],
    ],
    ids=["compare", "port", "export"],
)
def test_max_memory_of_64g_lets_a_small_spec_through(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.format(tmp=tmp_path) for a in argv]
    assert main([*args, "--max-memory", "64G"]) == 0
    assert "error" not in capsys.readouterr().err
