"""At scale, through the CLI with the real frameworks: an ONNX model past protobuf's 2 GB is
written, checked and run with its tensors in ``model.onnx.data`` (forced here on small specs by
lowering ``EXTERNAL_ABOVE``); a model that fits in ``--max-memory`` goes through, and the
automatic mode measures distinct layers when whole models would not; compare of the zoo's
transformers peaks within 1 GiB plus two copies of their weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

import backends
import backends.onnx.export as onnx_export
from tests.conftest import ROOT
from translator.cli import largest_build, main
from translator.commands.distinct import choose
from translator.ir import FRAMEWORKS, memory
from translator.ir.sample import sample_inputs
from translator.spec.loader import load

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


# Peak resident memory of a whole compare: at most 1 GiB (the three frameworks themselves)
# plus two copies of one framework's float32 weights, as the frameworks build one after
# another and each model is released before the next.
FRUGAL_SLACK = 2**30
FRUGAL_COPIES = 2
# Runs a command and prints its peak RSS. Linux keeps a process's peak across exec, and a child
# forked from the test process starts with the suite's memory: so the command is started from
# this small process instead, whose own size is all it inherits.
PEAK_OF_CHILD = (
    "import resource, subprocess, sys;"
    "code = subprocess.call(sys.argv[1:], stderr=subprocess.DEVNULL);"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
    "sys.exit(code)"
)


@pytest.mark.parametrize("name", ["bert_base", "gpt2_small"])
def test_compare_of_a_zoo_transformer_stays_within_its_memory_budget(
    name: str, tmp_path: Path
) -> None:
    spec = ROOT / "specs" / "zoo" / f"{name}.yaml"
    graph = load(str(spec))
    weights = max(memory.weight_bytes(graph, fw) for fw in FRAMEWORKS)
    out = tmp_path / "report.json"
    argv = [sys.executable, "-m", "translator", "compare", str(spec), "--format", "json"]
    with out.open("wb") as handle:
        done = subprocess.run(
            [sys.executable, "-c", PEAK_OF_CHILD, *argv],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.PIPE,
            check=False,
        )
    assert done.returncode == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["totals"] == {fw: graph.counts(fw) for fw in FRAMEWORKS}
    peak = int(done.stderr.decode().split()[-1]) * 1024  # kilobytes on Linux
    budget = FRUGAL_SLACK + FRUGAL_COPIES * weights
    assert peak <= budget, f"{name}: peak {peak / 2**30:.2f} GiB > {budget / 2**30:.2f} GiB"


def test_auto_mode_measures_distinct_layers_when_whole_models_pass_max_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    frameworks = ("torch", "onnx")
    graph = load(MNIST)
    whole = memory.compare_estimate(graph, frameworks).total
    parts = largest_build(graph, frameworks, "distinct").total
    assert parts < whole
    limit = (parts + whole) // 2  # room for the largest distinct layer, not the whole model
    argv = ["compare", MNIST, "--frameworks", ",".join(frameworks), "--format", "json"]
    assert main([*argv, "--max-memory", str(limit)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["materialize"]["mode"] == "distinct"
    assert report["materialize"]["why"] == (
        f"whole models need about {memory.readable(whole)} > --max-memory {memory.readable(limit)}"
    )
    assert main([*argv, "--max-memory", str(whole)]) == 0
    assert "materialize" not in json.loads(capsys.readouterr().out)  # whole models fit


@pytest.mark.parametrize(
    ("max_memory", "asked", "mode"),
    [
        (None, None, "full"),
        (2**40, None, "full"),
        (2**20, None, "distinct"),
        (2**20, "full", "full"),  # asked for: kept (compare then refuses what does not fit)
        (2**40, "distinct", "distinct"),
    ],
)
def test_the_automatic_choice_honours_max_memory(
    max_memory: int | None, asked: str | None, mode: str
) -> None:
    assert choose(load(MNIST), FRAMEWORKS, asked, max_memory)[0] == mode


@pytest.mark.parametrize(
    "spec",
    [MNIST, SEED, str(ROOT / "specs" / "zoo" / "unet_small.yaml")],  # unet: Resize's rewrite
    ids=["mnist_cnn", "seed_lstm", "unet_small"],
)
def test_an_onnx_model_written_tensor_by_tensor_is_the_model_built_in_memory(
    spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = load(spec)
    onnx_backend = backends.load("onnx")
    monkeypatch.setattr(onnx_export, "STREAM_ABOVE", 2**31)
    in_memory = onnx_backend.build(graph, seed=3)
    monkeypatch.setattr(onnx_export, "STREAM_ABOVE", 0)
    streamed = onnx_backend.build(graph, seed=3)
    assert streamed.model == in_memory.model
    inputs = sample_inputs(graph, 0)
    for got, expected in zip(
        onnx_backend.run(streamed, inputs), onnx_backend.run(in_memory, inputs), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
