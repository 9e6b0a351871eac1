"""Size budgets: layers after block expansion (``blocks.MAX_LAYERS``) and YAML values
(``source.MAX_VALUES``), each refused with one line naming the budget, the count reached and
where; a large flat spec is not mistaken for an alias bomb."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from translator.errors import SpecErrors
from translator.spec import blocks, source
from translator.spec.loader import load_text

NESTED = """\
name: m
blocks:
  inner:
    layers:
      - {type: Dense, units: 4}
  outer:
    layers:
      - {block: inner, repeat: 1000}
inputs:
  - {name: x, shape: [4]}
layers:
  - {block: outer, repeat: 1000}
"""


def _flat(layers: int) -> str:
    head = "name: flat\ninputs:\n  - {name: x, shape: [4]}\nlayers:\n"
    return head + "  - {type: Dense, units: 4}\n" * layers


def _fan(levels: int) -> str:
    """Blocks that each list the block below ten times: 10 ** levels layers, no repeat."""
    lines = ["name: m", "blocks:", "  b0: {layers: [{type: Dense, units: 4}]}"]
    for i in range(1, levels + 1):
        lines.append(f"  b{i}: {{layers: [" + ", ".join([f"{{block: b{i - 1}}}"] * 10) + "]}")
    tail = ["inputs: [{name: x, shape: [4]}]", "layers:", f"  - {{block: b{levels}}}"]
    return "\n".join([*lines, *tail]) + "\n"


def _aliases(copies: int) -> str:
    """A list of ten values, then ``copies`` aliases of it: 11 more values each."""
    return (
        "name: m\nblocks: &b [" + "1, " * 9 + "1]\ninputs: [" + ", ".join(["*b"] * copies) + "]\n"
    )


# (id, spec text, (MAX_LAYERS, MAX_VALUES) or None for the real budgets, "LINE:COL", message)
CASES = [
    (
        "nested-repeats",
        NESTED,
        None,
        "12:28",
        (
            "the spec expands to more than 200,000 layers (budget): 1,000,000 with block 'outer'"
            " repeated 1,000 times (1,000 layers each)"
        ),
    ),
    (
        "plain-layers",
        _flat(11),
        (10, None),
        "15:5",
        "the spec expands to more than 10 layers (budget): 11 listed under 'layers'",
    ),
    (
        "nested-instances",
        _fan(3),
        (500, None),
        "9:5",
        "the spec expands to more than 500 layers (budget): 501 at block 'b0' (in 'b3_b2_5_b1_b0')",
    ),
    (
        "plain-after-blocks",
        _fan(2) + "  - {type: Dense, units: 4}\n",
        (100, None),
        "9:5",
        "the spec expands to more than 100 layers (budget): 101 at this layer",
    ),
    (
        "yaml-values",
        _flat(10),
        (None, 40),
        "10:12",
        "the document holds more than 40 YAML values (budget)",
    ),
    (
        "yaml-aliases",
        _aliases(4),
        (None, 40),
        "3:18",
        "YAML aliases expand the document to more than 40 values (an alias bomb?)",
    ),
]


@pytest.mark.parametrize(
    ("text", "budgets", "where", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_budget_refused_at_once_with_one_line(
    text: str,
    budgets: tuple[int | None, int | None] | None,
    where: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layers, values = budgets or (None, None)
    if layers is not None:
        monkeypatch.setattr(blocks, "MAX_LAYERS", layers)
    if values is not None:
        monkeypatch.setattr(source, "MAX_VALUES", values)
    started = time.perf_counter()
    with pytest.raises(SpecErrors) as caught:
        load_text(text, "spec.yaml")
    assert time.perf_counter() - started < 1.0
    (error,) = caught.value.errors
    assert error.render().startswith(f"spec.yaml:{where}: error: {message}; "), error.render()


def _check(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "translator", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result, time.perf_counter() - started


def test_nested_repeats_refused_by_the_cli(tmp_path: Path) -> None:
    spec = tmp_path / "nested.yaml"
    spec.write_text(NESTED)
    result, _ = _check(spec)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        (
            f"{spec}:12:28: error: the spec expands to more than 200,000 layers (budget): 1,000,000"
            " with block 'outer' repeated 1,000 times (1,000 layers each); use fewer repeats or"
            " smaller blocks, or split the model into several specs"
        )
    ]


@pytest.mark.slow  # five to ten seconds
def test_a_flat_spec_of_100000_layers_loads(tmp_path: Path) -> None:
    """No budget mistakes a large spec for an alias bomb; ``check`` takes seconds."""
    spec = tmp_path / "flat.yaml"
    spec.write_text(_flat(100_000))
    result, seconds = _check(spec)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"{spec}: ok: flat, 100000 layers")
    assert seconds < 60
