"""``.safetensors`` weights, read without a framework: the header checked whole and against
the spec before any data is read, one line for every bad file."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from translator.commands.port import random_canonical
from translator.errors import WeightsError
from translator.spec.loader import load
from translator.weights.canonical import from_canonical
from translator.weights.files import load_any

ROOT = Path(__file__).resolve().parents[3]
GRAPH = load(str(ROOT / "specs" / "seed_lstm.yaml"))
CODES = {np.dtype("<f4"): "F32", np.dtype("<f2"): "F16", np.dtype("<f8"): "F64"}


def write(path: Path, tensors: dict[str, np.ndarray], header: dict[str, Any] | None = None) -> Path:
    """A .safetensors file of ``tensors`` (or of a hand-made ``header`` over their bytes)."""
    entries, data, offset = {}, b"", 0
    for key, value in tensors.items():
        raw = value.tobytes()
        code = "BF16" if value.dtype == np.uint16 else CODES[value.dtype]
        entries[key] = {
            "dtype": code,
            "shape": list(value.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        data, offset = data + raw, offset + len(raw)
    text = json.dumps(header if header is not None else entries).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def torch_tensors(dtype: str = "float32") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Random canonical weights and the same weights named as a PyTorch state_dict."""
    canonical = random_canonical(GRAPH, seed=3)
    weights = from_canonical(GRAPH, "torch", canonical)
    flat = {
        f"{layer}.{name}": np.asarray(value).astype(dtype)
        for layer, tensors in weights.items()
        for name, value in tensors.items()
    }
    return canonical, flat


def test_a_float32_file_gives_the_same_canonical_weights(tmp_path: Path) -> None:
    canonical, flat = torch_tensors()
    kind, loaded = load_any(GRAPH, write(tmp_path / "w.safetensors", flat))
    assert kind == "safetensors"
    assert sorted(loaded) == sorted(canonical)
    for key, value in canonical.items():
        np.testing.assert_array_equal(loaded[key], np.asarray(value, dtype=np.float32))


def test_bfloat16_is_widened_exactly_with_a_note(tmp_path: Path) -> None:
    _, flat = torch_tensors()
    halves = {k: (v.view(np.uint32) >> 16).astype(np.uint16) for k, v in flat.items()}
    notes: list[str] = []
    _, loaded = load_any(GRAPH, write(tmp_path / "w.safetensors", halves), notes)
    assert set(notes) == {"bfloat16 → float32"}
    expected = (halves["lstm.weight_hh_l0"].astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(loaded["lstm/recurrent_kernel"], expected.T)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_other_float_widths_are_converted_with_a_note(tmp_path: Path, dtype: str) -> None:
    _, flat = torch_tensors(dtype)
    notes: list[str] = []
    load_any(GRAPH, write(tmp_path / "w.safetensors", flat), notes)
    assert set(notes) == {f"{dtype} → float32"}


def _header(flat: dict[str, np.ndarray], **change: Any) -> dict[str, Any]:
    """The right header for ``flat`` with one tensor's entry changed."""
    entries, offset = {}, 0
    for key, value in flat.items():
        size = value.nbytes
        entries[key] = {
            "dtype": "F32",
            "shape": list(value.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    entries["lstm.bias_ih_l0"] = {**entries["lstm.bias_ih_l0"], **change}
    return entries


BAD_HEADERS = {
    "complex dtype": ({"dtype": "C64"}, "dtype 'C64' refused"),
    "string shape": ({"shape": ["forty"]}, "whole numbers"),
    "wrong byte count": ({"data_offsets": [0, 12]}, "bytes for shape"),
    "outside the file": ({"data_offsets": [10**9, 10**9 + 160]}, "leave the file"),
    "wrong shape for the spec": ({"shape": [20, 2]}, "expected shape (40,)"),
    "missing fields": ({"data_offsets": None}, "whole numbers"),
}


@pytest.mark.parametrize("change, says", BAD_HEADERS.values(), ids=list(BAD_HEADERS))
def test_a_bad_header_entry_is_one_line(tmp_path: Path, change: dict, says: str) -> None:
    _, flat = torch_tensors()
    path = write(tmp_path / "w.safetensors", flat, _header(flat, **change))
    with pytest.raises(WeightsError) as caught:
        load_any(GRAPH, path)
    text = str(caught.value)
    assert says in text and "\n" not in text and str(path) in text


BAD_FILES = {
    "empty": (b"", "too short"),
    "huge header": (struct.pack("<Q", 2**62) + b"{}", "header in a"),
    "not json": (struct.pack("<Q", 4) + b"nope", "not JSON"),
    "a json list": (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    "no tensors": (struct.pack("<Q", 2) + b"{}", "missing"),
}


@pytest.mark.parametrize("content, says", BAD_FILES.values(), ids=list(BAD_FILES))
def test_a_bad_file_is_one_line(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as caught:
        load_any(GRAPH, path)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_overlapping_tensors_are_refused(tmp_path: Path) -> None:
    _, flat = torch_tensors()
    header = _header(flat)
    header["lstm.bias_hh_l0"]["data_offsets"] = header["lstm.bias_ih_l0"]["data_offsets"]
    with pytest.raises(WeightsError, match="overlap"):
        load_any(GRAPH, write(tmp_path / "w.safetensors", flat, header))
