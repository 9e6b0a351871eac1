"""Ctrl-C for real: ``python -m translator`` in a subprocess gets SIGINT once it is working
(its framework loaded, or its export half written), and exits 130 with the one line
``interrupted`` on stderr, no traceback, and no partial output left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

VGG = str(ROOT / "specs" / "zoo" / "vgg16.yaml")
MOBILENET = str(ROOT / "specs" / "zoo" / "mobilenet_v2.yaml")
PATIENCE = 300  # seconds: a framework's import on two busy cores


def _library_loaded(name: str) -> Callable[[int, Path], bool]:
    """Ready once the process has mapped a shared library whose name holds ``name``."""

    def ready(pid: int, tmp: Path) -> bool:
        return name in Path(f"/proc/{pid}/maps").read_text()

    return ready


def _staged(name: str) -> Callable[[int, Path], bool]:
    """Ready once the export's staged directory (next to ``--out``) holds ``name``."""

    def ready(pid: int, tmp: Path) -> bool:
        return any((stage / name).exists() for stage in tmp.glob(".out.*.partial"))

    return ready


CASES: dict[str, tuple[list[str], Callable[[int, Path], bool]]] = {
    "compare while building": (["compare", VGG], _library_loaded("libtensorflow")),
    "port while building": (["port", VGG, "--from", "torch"], _library_loaded("libtorch")),
    "export while writing": (["export", MOBILENET, "--out", "{out}"], _staged("model.keras")),
    "export while checking": (["export", MOBILENET, "--out", "{out}"], _staged("weights.npz")),
}


def _wait_until(process: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not ready():
        assert process.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() < deadline, "never got to work"
        time.sleep(0.05)


@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_c_is_one_line_and_exit_130(case: str, tmp_path: Path) -> None:
    argv, ready = CASES[case]
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "translator", *(a.format(out=out) for a in argv)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        _wait_until(process, lambda: ready(process.pid, tmp_path))
        time.sleep(0.3)  # well inside the work
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=PATIENCE)
    finally:
        process.kill()
    assert (process.returncode, stderr) == (130, "interrupted\n")
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # no --out, no staged directory
