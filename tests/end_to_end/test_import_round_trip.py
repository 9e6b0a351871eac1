"""The import round trip through PyTorch: every spec under ``specs/``, the native-export
fixtures and the smaller zoo models, exported as the translator exports them (``model.py``
holding ``model.pt``), traced by ``torch.export`` and saved as a ``.pt2``, import back to
specs with the same weighted layers (names, and counts in every framework), the same totals,
the same weights (each tensor's values, up to the order a layout change puts its rows in) and
the same outputs. (The Keras and ONNX round trips live beside their importers' tests, on the
same tables: ``tests/imports.py``.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
from tests.conftest import ROOT, SPECS
from tests.imports import (
    NATIVE,
    ZOO_ROUND_TRIP,
    ZOO_TOO_LARGE,
    assert_same_weights,
    count_totals,
    natural_inputs,
    run_import,
    weighted_layers,
)
from translator.commands.port import random_canonical
from translator.spec.loader import load
from translator.weights.canonical import from_canonical, to_canonical
from translator.weights.files import load_canonical

TORCH = backends.load("torch")
import torch  # noqa: E402  (after the backend, which quiets the framework)

from backends.torch import export as torch_export  # noqa: E402

ATOL = RTOL = 1e-5
# torch.export notes that nn.LSTM assigns its flat weights while traced: its own business.
pytestmark = pytest.mark.filterwarnings("ignore:The tensor attributes:UserWarning")
ZOO = ROOT / "specs" / "zoo"

# Specs whose PyTorch export does not import back yet, each with what stops it (strict: a
# fixed gap turns its case red, and the entry goes).
GAPS: dict[str, str] = {}


def _case(path: Path) -> Any:
    marks = []
    if path.stem in GAPS:
        marks.append(pytest.mark.xfail(reason=GAPS[path.stem], strict=True))
    if path.parent == ZOO and path.stem in ZOO_TOO_LARGE:
        marks.append(pytest.mark.skip(reason=ZOO_TOO_LARGE[path.stem]))
    return pytest.param(path, marks=marks, id=path.stem)


CASES = [
    *(_case(p) for p in [*SPECS, *NATIVE]),
    *(_case(ZOO / f"{name}.yaml") for name in sorted({*ZOO_ROUND_TRIP, *ZOO_TOO_LARGE})),
]


def test_every_zoo_spec_round_trips_or_says_why_not() -> None:
    """A zoo spec is in the round trips (all three frameworks) or skipped with its reason:
    none is left out unsaid."""
    assert not set(ZOO_ROUND_TRIP) & set(ZOO_TOO_LARGE)
    assert sorted({*ZOO_ROUND_TRIP, *ZOO_TOO_LARGE}) == sorted(p.stem for p in ZOO.glob("*.yaml"))


def _exported_program(spec: Path, out: Path) -> tuple[Any, dict[str, Any], list[Any], Path]:
    """The spec's ``model.py`` and ``model.pt`` (random canonical weights), loaded and traced
    by ``torch.export`` on seeded inputs, saved as ``<spec>.pt2``: the module, the canonical
    weights, the inputs (natural layout) and the program's path."""
    graph, folder = load(str(spec)), out / "export"
    # As PyTorch holds them: a reset-before GRU's two biases are one there (summed).
    canonical = to_canonical(
        graph, "torch", from_canonical(graph, "torch", random_canonical(graph, 3))
    )
    folder.mkdir()
    torch_export.export(graph, from_canonical(graph, "torch", canonical), folder)
    found = importlib.util.spec_from_file_location(f"round_trip_{graph.name}", folder / "model.py")
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    model = module.load(str(folder / torch_export.FILE))
    inputs = natural_inputs(graph)
    program = torch.export.export(model, tuple(torch.from_numpy(x) for x in inputs))
    path = out / f"{graph.name}.pt2"
    torch.export.save(program, path)
    return model, canonical, inputs, path


@pytest.mark.parametrize("spec", CASES)
def test_a_spec_round_trips_through_torch_export(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, canonical, inputs, source = _exported_program(spec, tmp_path)
    imported, weights = run_import(source, tmp_path, capsys)
    assert count_totals(capsys, imported) == count_totals(capsys, spec)
    assert weighted_layers(capsys, imported) == weighted_layers(capsys, spec)
    graph = load(str(imported))
    again = load_canonical(graph, weights)
    assert_same_weights(canonical, again)
    with torch.no_grad():
        expected = model(*(torch.from_numpy(x) for x in inputs))
    expected = expected if isinstance(expected, tuple) else (expected,)
    built = TORCH.set_weights(TORCH.build(graph), from_canonical(graph, "torch", again))
    got = TORCH.run(built, dict(zip(graph.inputs, inputs, strict=True)))
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(np.asarray(ours), theirs.numpy(), atol=ATOL, rtol=RTOL)
