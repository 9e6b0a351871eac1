"""``audit`` without a framework: files whose formats need none (``.safetensors`` headers,
``.pt2`` JSON configs), bad input (exit 2, one line ``FILE: error: ...``, nothing on stdout),
the matching of predicted and held tensors, and the rules' detectors on hand-made rows."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT
from translator.cli import main
from translator.commands.audit import build_rows, match
from translator.exporter_rules import RULE_INDEX, Row, explain_rows
from translator.ir import WeightSpec
from translator.spec.loader import load, load_text
from translator.weights.inventory import FileTensor, Inventory

SEED = ROOT / "specs" / "seed_lstm.yaml"


def seed_tensors(extra: dict[str, tuple[int, ...]] | None = None) -> dict[str, tuple[int, ...]]:
    """``specs/seed_lstm.yaml``'s PyTorch state_dict keys and shapes (plus ``extra``)."""
    graph = load(SEED)
    found = {f"{n.name}.{w.name}": w.shape for n in graph.layers for w in n.weights["torch"]}
    return found | (extra or {})


def write_safetensors(path: Path, tensors: dict[str, tuple[int, ...]]) -> Path:
    header: dict[str, Any] = {}
    offset = 0
    for key, shape in tensors.items():
        size = int(np.prod(shape)) * 4
        header[key] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(offset))
    return path


def write_pt2(path: Path, tensors: dict[str, tuple[int, ...]]) -> Path:
    config = {
        f"layers.{key}": {"tensor_meta": {"dtype": 7, "sizes": [{"as_int": d} for d in shape]}}
        for key, shape in tensors.items()
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("m/data/weights/model_weights_config.json", json.dumps({"config": config}))
    return path


@pytest.mark.parametrize("write", [write_safetensors, write_pt2], ids=["safetensors", "pt2"])
def test_a_complete_file_audits_clean(write: Any, tmp_path: Path, capsys: Any) -> None:
    suffix = ".safetensors" if write is write_safetensors else ".pt2"
    path = write(tmp_path / f"m{suffix}", seed_tensors())
    assert main(["audit", str(SEED), str(path)]) == 0
    out = capsys.readouterr().out
    assert "compared with the spec's PyTorch tensors" in out
    assert out.rstrip().endswith("ok: spec 531, file 531 (0); no differences")


def test_an_unknown_tensor_is_unexplained_and_listed(tmp_path: Path, capsys: Any) -> None:
    path = write_safetensors(tmp_path / "m.safetensors", seed_tensors({"lstm.extra": (3, 7)}))
    assert main(["audit", str(SEED), str(path), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    (lstm,) = [row for row in data["layers"] if row["layer"] == "lstm"]
    assert (lstm["unexplained"], lstm["extra"]) == (21, [{"name": "lstm.extra", "shape": [3, 7]}])
    assert data["ok"] is False


def test_a_missing_tensor_is_unexplained(tmp_path: Path, capsys: Any) -> None:
    tensors = seed_tensors()
    del tensors["lstm.bias_hh_l0"]
    path = write_safetensors(tmp_path / "m.safetensors", tensors)
    assert main(["audit", str(SEED), str(path)]) == 1
    out = capsys.readouterr().out
    assert "UNEXPLAINED lstm: not in the file: bias_hh_l0 (40,)" in out


def _zip_without_config(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("m/other.json", "{}")


BAD_FILES = [
    ("model.bin", lambda p: p.write_bytes(b"x"), "unknown model file type; accepted: .onnx"),
    ("absent.onnx", lambda p: None, "no such file; accepted: .onnx"),
    ("folder.onnx", lambda p: p.mkdir(), "not a regular file; accepted: a model file"),
    ("bad.onnx", lambda p: p.write_bytes(b"\xff" * 64), "not a readable ONNX model"),
    ("bad.safetensors", lambda p: p.write_bytes(b"\x07"), "too short for a .safetensors file"),
    ("bad.pt2", lambda p: p.write_bytes(b"not a zip"), "not a .pt2 archive (a zip); accepted"),
    ("empty.pt2", _zip_without_config, "no weights config; accepted: torch.export.save's file"),
]


@pytest.mark.parametrize(("name", "make", "said"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_input_is_one_line_exit_2(
    name: str, make: Any, said: str, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / name
    make(path)
    assert main(["audit", str(SEED), str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"{path}: error: {said}")


def _row(predicted: list[WeightSpec], held: list[FileTensor]) -> Row:
    row = Row("layer", None, predicted, held)
    match(row)
    return row


W = WeightSpec
T = FileTensor
MATCHES = [
    ("by name", [W("weight", (4, 3), "kernel")], [T("x", (4, 3), named="weight")], 0),
    ("transposed", [W("weight", (4, 3), "kernel")], [T("onnx::MatMul_1", (3, 4))], 0),
    (
        "packed biases",
        [W(n, (8,), "bias") for n in ("bias_ih_l0", "bias_hh_l0")],
        [T("B", (1, 16))],
        0,
    ),
    ("extra", [], [T("mask", (5, 5))], 25),
    ("missing", [W("bias", (6,), "bias")], [], -6),
]


@pytest.mark.parametrize(
    ("predicted", "held", "left"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES]
)
def test_matching_leaves_only_what_differs(
    predicted: list[WeightSpec], held: list[FileTensor], left: int
) -> None:
    assert _row(predicted, held).unexplained == left


TIED = """
name: tied
inputs: [{name: tokens, shape: [4], dtype: int32}]
layers:
  - {name: wte, type: Embedding, input_dim: 10, output_dim: 3}
  - {name: head, type: Dense, units: 10, use_bias: false, tie: wte}
"""


def test_the_tied_copy_and_helpers_are_named_with_their_numbers() -> None:
    graph = load_text(TIED)
    inventory = Inventory("m.onnx", "onnx", "torch", "test")
    inventory.tensors = [
        T("layers.wte.weight", (10, 3), True, "wte", "weight", "name"),
        T("onnx::MatMul_7", (3, 10), True, "head", None, "scope"),
        T("shape", (2,), False, "head", None, "scope"),
    ]
    rows = build_rows(graph, inventory)
    explain_rows(rows, inventory)
    findings = {f.rule: f.delta for f in rows["head"].findings}
    assert findings == {"tied-weights-duplicated": 30, "helper-constants": 2}
    assert "+10 × 3 = +30" in rows["head"].findings[0].text
    assert all(r.unexplained == 0 for r in rows.values())


def test_a_deduplicated_tensor_needs_the_graph_to_say_so() -> None:
    graph = load_text(TIED)
    inventory = Inventory("m.onnx", "onnx", "torch", "test")
    rows = build_rows(graph, inventory)
    explain_rows(rows, inventory)
    assert rows["wte"].unexplained == -30  # nothing read it from elsewhere: not explained
    inventory.borrowed = {"wte": [(10, 3)]}
    rows = build_rows(graph, inventory)
    explain_rows(rows, inventory)
    assert [f.rule for f in rows["wte"].findings] == ["duplicate-initializer-deduplicated"]


def test_every_rule_has_a_worked_example() -> None:
    for rule in RULE_INDEX.values():
        assert "{" not in rule.worked_example(), rule.id
        assert rule.seen and rule.cause and rule.avoid


@pytest.mark.parametrize("suffix", [".onnx", ".safetensors", ".pt2", ".pt", ".keras"])
def test_a_file_far_larger_than_the_spec_is_refused_before_it_is_read(
    suffix: str, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / f"big{suffix}"
    with open(path, "wb") as handle:  # sparse: 80 MB that take no disk
        handle.truncate(80 * 2**20)
    assert main(["audit", str(SEED), str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: error: holds 83,886,080 bytes, more than 2 × the spec's weights need" in err


def test_a_pt2_tensor_without_a_static_shape_is_refused(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "dynamic.pt2"
    config = {"layers.lstm.weight_ih_l0": {"tensor_meta": {"sizes": [{"as_expr": "s0"}]}}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("m/data/weights/model_weights_config.json", json.dumps({"config": config}))
    assert main(["audit", str(SEED), str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"{path}: error: tensor 'layers.lstm.weight_ih_l0' has no static shape;"
        " accepted: static shapes\n"
    )
