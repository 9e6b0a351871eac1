"""ONNX weights files that do not fit: one line ``error: <file>: ...``, exit 2, every
initializer's dims checked against the IR and its data's size before any is converted; a
mutated file (truncated, bytes flipped) loads or is refused in one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

import backends
from tests.conftest import ROOT
from translator.cli import main
from translator.commands.port import random_canonical
from translator.errors import WeightsError
from translator.spec.loader import load
from translator.weights.canonical import from_canonical

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
GRAPH = load(SEED)
ONNX = backends.load("onnx")


def _model() -> onnx.ModelProto:
    weights = from_canonical(GRAPH, "onnx", random_canonical(GRAPH, seed=0))
    return ONNX.set_weights(ONNX.build(GRAPH), weights).model


GOOD = _model().SerializeToString()


def _with(change: Callable[[onnx.TensorProto], None]) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        model = _model()
        init = next(i for i in model.graph.initializer if i.name == "lstm.W")
        change(init)
        onnx.save(model, path)
        return path

    return write


def _short_raw(init: onnx.TensorProto) -> None:
    init.raw_data = init.raw_data[:-4]


def _wrong_dims(init: onnx.TensorProto) -> None:
    init.dims[:] = [1, 40, 2]


def _complex(init: onnx.TensorProto) -> None:
    value = numpy_helper.to_array(init).astype(np.complex64)
    init.CopyFrom(numpy_helper.from_array(value, init.name))


def _strings(init: onnx.TensorProto) -> None:
    value = np.full(tuple(init.dims), "w", dtype=object)
    init.CopyFrom(numpy_helper.from_array(value, init.name))


def _external(init: onnx.TensorProto) -> None:
    init.data_location = onnx.TensorProto.EXTERNAL
    init.ClearField("raw_data")
    init.external_data.add(key="location", value="/etc/passwd")


def _garbage(path: Path) -> Path:
    path.write_bytes(b"\xff" * 64)
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "raw_data_short": (
        _with(_short_raw),
        "initializer 'lstm.W' declares dims (1, 40, 1) (160 bytes) but holds 156 bytes",
    ),
    "dims_wrong": (
        _with(_wrong_dims),
        "layer 'lstm' tensor 'W' (onnx): expected shape (1, 40, 1), received (1, 40, 2)",
    ),
    "complex": (_with(_complex), "tensor 'lstm.W' holds complex numbers"),
    "strings": (_with(_strings), "tensor 'lstm.W' holds strings; accepted: float32"),
    "external": (_with(_external), "initializer 'lstm.W' keeps its data elsewhere"),
    "garbage": (_garbage, "not a readable ONNX model"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_onnx_file_is_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build, said = BAD_FILES[case]
    path = build(tmp_path / "w.onnx")
    assert main(["port", SEED, "--from", "keras", "--weights", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: {said}"), captured.err
    assert captured.err.count("\n") == 1


def test_float64_initializers_load_as_float32_with_a_note(tmp_path: Path) -> None:
    model = _model()
    for init in model.graph.initializer:
        if init.name.startswith(("lstm.", "time_distributed.")):
            init.CopyFrom(
                numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name)
            )
    onnx.save(model, tmp_path / "w.onnx")
    notes: list[str] = []
    loaded = ONNX.load_weights_file(GRAPH, tmp_path / "w.onnx", notes)
    assert all(v.dtype == np.float32 for t in loaded.values() for v in t.values())
    assert notes == ["float64 → float32"] * 5


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    how=st.sampled_from(["truncate", "flip"]),
    at=st.integers(min_value=0, max_value=10**6),
    value=st.integers(min_value=1, max_value=255),
)
def test_mutated_onnx_loads_or_is_one_line(tmp_path: Path, how: str, at: int, value: int) -> None:
    at %= len(GOOD)
    data = (
        GOOD[:at] if how == "truncate" else GOOD[:at] + bytes([GOOD[at] ^ value]) + GOOD[at + 1 :]
    )
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    try:
        loaded = ONNX.load_weights_file(GRAPH, path)
    except WeightsError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"{path}: ")
    else:
        assert all(v.dtype == np.float32 for t in loaded.values() for v in t.values())
