"""What the ``import`` tests share: running ``import`` through the command line and reading
``count``'s totals (framework-free: the command loads the framework it needs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from translator.cli import main


def run_import(
    source: Path | str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[Path, Path]:
    """``import SOURCE --out imported.yaml --weights-out imported.npz`` (and ``args``),
    asserted to succeed; the two paths written."""
    spec, weights = tmp_path / "imported.yaml", tmp_path / "imported.npz"
    code = main(["import", str(source), *args, "--out", str(spec), "--weights-out", str(weights)])
    out, err = capsys.readouterr()
    assert code == 0, err + out
    assert f"wrote {spec}" in out
    return spec, weights


def run_partial_import(
    source: Path | str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path, list[str]]:
    """``import SOURCE --out partial.yaml --weights-out partial.npz`` of a model with layers
    no importer claims: asserted to exit 1 having written the partial spec and its report
    (``partial.import-report.md``, said on stderr); the spec, the report and stderr's lines."""
    spec, weights = tmp_path / "partial.yaml", tmp_path / "partial.npz"
    code = main(["import", str(source), "--out", str(spec), "--weights-out", str(weights)])
    out, err = capsys.readouterr()
    assert code == 1, err + out
    report = tmp_path / "partial.import-report.md"
    assert f"  wrote {spec}  partial spec '" in err
    assert f"  wrote {report}  import report: what was not imported, and why" in err
    assert spec.is_file() and report.is_file()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries
    return spec, report, err.splitlines()


def count_totals(capsys: pytest.CaptureFixture[str], *specs: Path) -> list[dict[str, Any]]:
    """``count --format json``'s totals, one per spec."""
    assert main(["count", *map(str, specs), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    return [r["totals"] for r in (found if isinstance(found, list) else [found])]


def evaluated(make: Any) -> Any:
    """A PyTorch model from ``make()`` seeded, at inference, its batch norms' statistics away
    from 0 and 1 (so that they matter)."""
    import torch

    torch.manual_seed(0)
    model = make().eval()
    for module in model.modules():
        if type(module).__name__.startswith("BatchNorm"):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return model
