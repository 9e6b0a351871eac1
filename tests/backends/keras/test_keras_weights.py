"""Keras weights files: a plain Keras model's ``.weights.h5`` (its MultiHeadAttention is
Keras's class, not the backend's) is read by structure; a file that does not fit is one line
``error: <file>: ...`` naming the dataset and both shapes, exit 2, without Keras's warnings
or its cut-off "Example error message for object" text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import backends
from translator.cli import main
from translator.spec.loader import load_text

SPEC = """
name: attention_head
inputs: [{name: x, shape: [4, 8]}]
layers:
  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4, inputs: [x, x]}
  - {type: Dense, units: 3}
"""
KERAS = backends.load("keras")


def _plain_keras_model() -> keras.Model:
    """The spec as someone would write it in Keras, weights drawn by Keras."""
    keras.utils.set_random_seed(1)
    x = keras.Input((4, 8), name="x")
    y = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    return keras.Model(x, keras.layers.Dense(3)(y))


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "attention_head.yaml"
    path.write_text(SPEC)
    return path


def test_a_plain_keras_models_weights_file_ports(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _plain_keras_model()
    model.save_weights(tmp_path / "w.weights.h5")
    loaded = KERAS.load_weights_file(load_text(SPEC), tmp_path / "w.weights.h5")
    dense = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
    assert np.array_equal(loaded["dense"]["kernel"], dense.kernel.numpy())
    assert set(loaded) == {"multi_head_attention", "dense"}
    argv = ["port", str(spec), "--from", "keras", "--weights", str(tmp_path / "w.weights.h5")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "ok: largest output difference" in captured.out
    assert captured.err == ""


def _rewrite(change: Callable[[h5py.File], None]) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        _plain_keras_model().save_weights(path)
        with h5py.File(path, "r+") as handle:
            change(handle)
        return path

    return write


def _replace(name: str, value: np.ndarray) -> Callable[[h5py.File], None]:
    def change(handle: h5py.File) -> None:
        del handle[name]
        handle[name] = value

    return change


def _garbage(path: Path) -> Path:
    path.write_bytes(b"not hdf5 at all")
    return path


def _keras_without_weights(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    return path


DENSE = "layers/dense/vars/0"
BAD_FILES: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    "wrong_shape": (
        "w.weights.h5",
        _rewrite(_replace(DENSE, np.zeros((8, 4), np.float32))),
        (
            f"does not fit spec 'attention_head' (Keras's layout, by structure): dataset '{DENSE}'"
            " (Keras layer 'dense'): expected shape (8, 3), received (8, 4)"
        ),
    ),
    "complex": (
        "w.weights.h5",
        _rewrite(_replace(DENSE, np.zeros((8, 3), np.complex64))),
        f"tensor '{DENSE}' holds complex numbers",
    ),
    "missing": (
        "w.weights.h5",
        _rewrite(lambda handle: handle.__delitem__(DENSE)),
        f"does not fit spec 'attention_head' (Keras's layout, by structure): missing dataset '{DENSE}'",
    ),
    "garbage": ("w.weights.h5", _garbage, "not a readable HDF5 weights file"),
    "keras_without_weights": (
        "w.keras",
        _keras_without_weights,
        "a .keras archive without 'model.weights.h5'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_keras_file_is_one_line_and_exit_2(
    case: str, spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, build, said = BAD_FILES[case]
    path = build(tmp_path / name)
    assert main(["port", str(spec), "--from", "keras", "--weights", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: {said}"), captured.err
    assert captured.err.count("\n") == 1
