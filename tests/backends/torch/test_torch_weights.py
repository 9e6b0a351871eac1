"""PyTorch state_dict files that do not fit: one line ``error: <file>: ...``, exit 2, no
pickle code run (``weights_only``), keys and shapes checked before any data is copied;
bfloat16 and float64 tensors carried as float32, with a note ``port`` prints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import backends
from tests.conftest import ROOT
from translator.cli import main
from translator.commands.port import random_canonical
from translator.spec.loader import load
from translator.weights.canonical import from_canonical

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
GRAPH = load(SEED)
TORCH = backends.load("torch")


def _state() -> dict[str, torch.Tensor]:
    weights = from_canonical(GRAPH, "torch", random_canonical(GRAPH, seed=0))
    return TORCH.weights.state_dict(weights)


def _with(change: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        state = _state()
        state["lstm.weight_ih_l0"] = change(state["lstm.weight_ih_l0"])
        torch.save(state, path)
        return path

    return write


def _legacy(path: Path) -> Path:
    torch.save(_state(), path, _use_new_zipfile_serialization=False)
    return path


def _not_a_dict(path: Path) -> Path:
    torch.save([torch.zeros(1)], path)
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "complex": (
        _with(lambda t: t.to(torch.complex64)),
        "tensor 'lstm.weight_ih_l0' holds complex numbers (torch.complex64)",
    ),
    "sparse": (_with(lambda t: t.to_sparse()), "tensor 'lstm.weight_ih_l0' is torch.sparse_coo"),
    "wrong_shape": (
        _with(lambda t: torch.zeros(40, 2)),
        "layer 'lstm' tensor 'weight_ih_l0' (torch): expected shape (40, 1), received (40, 2)",
    ),
    "legacy": (_legacy, "not a PyTorch state_dict (a zip archive, as torch.save writes"),
    "not_a_dict": (_not_a_dict, "holds a list, not a state_dict"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_state_dict_is_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build, said = BAD_FILES[case]
    path = build(tmp_path / "w.pt")
    assert main(["port", SEED, "--from", "torch", "--weights", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: {said}"), captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("dtype", "note"), [(torch.bfloat16, "bfloat16"), (torch.float64, "float64")]
)
def test_bfloat16_and_float64_load_as_float32_with_a_note(
    dtype: torch.dtype, note: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = {k: v.to(dtype) for k, v in _state().items()}
    path = tmp_path / "w.pt"
    torch.save(state, path)
    notes: list[str] = []
    loaded = TORCH.load_weights_file(GRAPH, path, notes)
    for key, value in state.items():
        layer, _, name = key.partition(".")
        assert loaded[layer][name].dtype == np.float32
        assert np.array_equal(loaded[layer][name], value.float().numpy())
    assert notes == [f"{note} → float32"] * len(state)
    assert main(["port", SEED, "--from", "torch", "--to", "onnx", "--weights", str(path)]) == 0
    assert f"{path} (torch; {note} → float32 ({len(state)} tensors))" in capsys.readouterr().out
