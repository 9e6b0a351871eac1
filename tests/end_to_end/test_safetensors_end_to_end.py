"""A ``.safetensors`` file written from a real PyTorch model's state_dict ports to Keras and
ONNX, and its outputs agree (the file is read without the safetensors package)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import backends
from translator.cli import main
from translator.spec.loader import load

ROOT = Path(__file__).resolve().parents[2]


def save_safetensors(state: dict[str, np.ndarray], path: Path) -> None:
    """The state_dict as float32 tensors in the safetensors layout (header, then data)."""
    header, data = {}, b""
    for key in sorted(state):
        raw = np.ascontiguousarray(state[key], dtype="<f4").tobytes()
        header[key] = {
            "dtype": "F32",
            "shape": list(state[key].shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


@pytest.mark.parametrize("spec", ["seed_lstm", "mnist_cnn", "bigru_tagger"])
def test_a_torch_state_dict_as_safetensors_ports_everywhere(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ROOT / "specs" / f"{spec}.yaml"
    torch_backend = backends.load("torch")
    built = torch_backend.build(load(str(path)), seed=5)
    state = {
        k: v.detach().numpy()
        for k, v in built.model.layers.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    weights = tmp_path / "model.safetensors"
    save_safetensors(state, weights)
    code = main(["port", str(path), "--from", "torch", "--weights", str(weights)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "model.safetensors (safetensors)" in out
