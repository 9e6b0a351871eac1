"""Real writes of ``export --out`` and ``compare --plot``: ``--force`` replaces only the
export's own files; a write the system refuses (a file-size limit, as a full disk would:
``RLIMIT_FSIZE`` in the subprocess) is one line, exit 2, and leaves everything as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.translator.commands.test_export_paths import snapshot
from translator.cli import main

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
OWN = ("model.keras", "model.onnx", "model.pt", "model.py", "weights.npz")


def test_force_replaces_our_files_and_keeps_the_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "model.onnx").write_text("an older export")
    argv = ["export", SEED, "--out", str(out), "--format", "json", "--force", "--seed", "3"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(f["path"] for f in report["files"]) == sorted(str(out / n) for n in OWN)
    found = snapshot(tmp_path)
    assert sorted(found) == sorted(["out", "out/notes.txt", *(f"out/{n}" for n in OWN)])
    assert found["out/notes.txt"] == b"mine"
    assert found["out/model.onnx"] != b"an older export"


def _limited(argv: list[str], limit: int) -> subprocess.CompletedProcess[str]:
    """``python -m translator argv`` unable to write a file longer than ``limit`` bytes (the
    limit set in the child itself: no ``preexec_fn`` in a test process with threads)."""
    code = (
        "import resource, runpy, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        f"sys.argv = ['translator', *{argv!r}]\n"
        "runpy.run_module('translator', run_name='__main__', alter_sys=True)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_export_write_leaves_nothing(existing: bool, tmp_path: Path) -> None:
    out = tmp_path / "out"
    if existing:  # an earlier export, and a file of the user's
        assert main(["export", SEED, "--out", str(out)]) == 0
        (out / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    result = _limited(["export", SEED, "--out", str(out), "--force", "--seed", "5"], 10_000)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: cannot write '{out}': File too large; choose a writable place with room\n"
    )
    assert snapshot(tmp_path) == before  # no model.keras, no half directory


def test_a_failed_plot_write_leaves_nothing(tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"
    result = _limited(["compare", SEED, "--format", "json", "--plot", str(chart)], 2_000)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: cannot write '{chart}': File too large; choose a writable place with room\n"
    )
    assert json.loads(result.stdout)["spec"] == "seed_lstm"  # the report itself was shown
    assert list(tmp_path.iterdir()) == []
