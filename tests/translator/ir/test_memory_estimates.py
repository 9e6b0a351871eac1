"""``translator.ir.memory``: compare, port and export refuse, from the IR alone and in well under
a second, a model that would not fit in memory: one line with the figure and the way out, exit
2, no framework imported, nothing written. Runs that go through are in ``tests/end_to_end/``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FRAMEWORK_MODULES, ROOT
from translator.cli import main
from translator.ir import memory
from translator.spec.loader import load

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
BERT = str(ROOT / "specs" / "zoo" / "bert_base.yaml")
DENSE = """name: big_dense
inputs:
  - {name: x, shape: [200000]}
layers:
  - {type: Dense, units: 200000}
"""
EMBEDDING = """name: big_embedding
inputs:
  - {name: tokens, shape: [null], dtype: int32}
layers:
  - {type: Embedding, input_dim: 1000000000, output_dim: 16}
"""
COMMANDS = {
    "compare": ([], "measure fewer frameworks (--frameworks)"),
    "port": (["--from", "keras"], "port to fewer frameworks (--to)"),
    "export": (["--out", "{tmp}/out"], "use a machine with more memory"),
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, float]:
    """``main(argv)``'s exit code, stderr and seconds; fails if it imported a framework."""
    before = {m for m in FRAMEWORK_MODULES if m in sys.modules}
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    assert {m for m in FRAMEWORK_MODULES if m in sys.modules} == before
    out, err = capsys.readouterr()
    assert out == ""
    return code, err, seconds


def _argv(command: str, spec: str, tmp: Path, *extra: str) -> list[str]:
    options = [o.format(tmp=tmp) for o in COMMANDS[command][0]]
    return [command, spec, *options, *extra]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    ("text", "weights"), [(DENSE, "149.0 GB"), (EMBEDDING, "59.6 GB")], ids=["dense", "embedding"]
)
def test_a_model_beyond_memory_is_refused_at_once(
    command: str, text: str, weights: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text(text)
    code, err, seconds = _run(_argv(command, str(spec), tmp_path), capsys)
    assert (code, seconds < 1.0) == (2, True)
    assert err.count("\n") == 1
    assert err.startswith(f"error: {spec}: {command} needs about ")
    assert f"float32 weights of up to {weights}" in err
    assert " available; " in err or " allowed (--max-memory); " in err
    assert COMMANDS[command][1] in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]  # nothing written


@pytest.mark.parametrize("command", list(COMMANDS))
def test_max_memory_refuses_a_small_spec(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err, _ = _run(_argv(command, SEED, tmp_path, "--max-memory", "1M"), capsys)
    assert code == 2
    assert "; 1.0 MB allowed (--max-memory); " in err
    assert "or a larger --max-memory" in err
    assert list(tmp_path.iterdir()) == []


def test_memavailable_is_the_default_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  4096 kB\nMemAvailable:   2048 kB\nMemFree: 1024 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    code, err, _ = _run(["compare", SEED], capsys)
    assert code == 2
    assert "; 2.0 MB available; measure fewer frameworks (--frameworks)" in err


@pytest.mark.parametrize(
    ("meminfo", "expected"),
    [
        ("MemTotal: 8 kB\nMemAvailable:   22237004 kB\n", 22237004 * 1024),
        ("MemTotal: 8 kB\n", None),  # an old kernel's
        (None, None),  # no /proc (not Linux)
    ],
)
def test_available_reads_memavailable(
    meminfo: str | None, expected: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "meminfo"
    if meminfo is not None:
        path.write_text(meminfo)
    monkeypatch.setattr(memory, "MEMINFO", path)
    assert memory.available() == expected


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("8G", 8 * 2**30),
        ("512M", 512 * 2**20),
        ("64k", 64 * 2**10),
        ("1.5T", int(1.5 * 2**40)),
        ("2GiB", 2 * 2**30),
        ("4096", 4096),
        ("0", None),
        ("-1G", None),
        ("8X", None),
        ("G", None),
        ("nan", None),
        ("", None),
    ],
)
def test_parse_size(text: str, size: int | None) -> None:
    assert memory.parse_size(text) == size


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_mistaken_max_memory_is_one_line(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err, _ = _run(_argv(command, SEED, tmp_path, "--max-memory", "lots"), capsys)
    assert code == 2
    assert err == (
        "error: argument --max-memory: invalid value 'lots'; a size like 8G, 512M or 64K\n"
    )


# BERT-base holds about 110 M float32 values (420 MB per framework): each command's estimate
# is its copies of that (compare: of the largest one framework's build, as they build one
# after another), plus activations and the frameworks' own ~1 GB.
@pytest.mark.parametrize(
    ("estimate", "low_gb", "high_gb"),
    [
        (lambda g: memory.compare_estimate(g, ("keras", "torch", "onnx")), 1.5, 3.0),
        (lambda g: memory.compare_estimate(g, ("torch",)), 0.6, 1.0),
        (lambda g: memory.port_estimate(g, "keras", ("torch", "onnx")), 4.5, 7.0),
        (lambda g: memory.port_estimate(g, "torch", ("onnx",)), 2.5, 4.5),
        (lambda g: memory.export_estimate(g, ("keras", "onnx", "torch")), 6.5, 10.0),
    ],
    ids=["compare", "compare-torch", "port", "port-torch-onnx", "export"],
)
def test_bert_base_estimates_are_sensible(estimate, low_gb: float, high_gb: float) -> None:
    graph = load(BERT)
    assert 400 * 2**20 < memory.weight_bytes(graph, "torch") < 460 * 2**20
    assert low_gb * 2**30 < estimate(graph).total < high_gb * 2**30
