"""Every kind of malformed spec gets one ``FILE:LINE:COL: error: ...; ...`` line.

Each case is a spec text, the expected location and fragments of the message; the test also
runs the CLI to check exit code 2, no traceback, and nothing on stdout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from translator.cli import main
from translator.errors import SpecErrors
from translator.spec.loader import load_text

GOOD_HEAD = "name: m\ninputs:\n  - {name: x, shape: [4, 3]}\nlayers:\n"

# (id, spec text, "LINE:COL", fragments that must appear in the message)
CASES = [
    ("yaml-syntax", "name: m\ninputs: [\n", "3:1", ["invalid YAML"]),
    ("empty-file", "", "1:1", ["the file is empty"]),
    ("scalar-document", "just a string\n", "1:1", ["the spec must be a mapping"]),
    (
        "two-documents",
        GOOD_HEAD + "  - {type: Dense, units: 2}\n---\nname: n\n",
        "7:1",
        ["2 YAML documents", "one spec per file"],
    ),
    (
        "python-tag",
        "name: !!python/object/apply:os.system ['echo hi']\n",
        "1:7",
        ["tag", "not allowed"],
    ),
    (
        "unknown-top-key",
        GOOD_HEAD + "  - {type: Dense, units: 2}\nlayer: []\n",
        "6:1",
        ["unknown key 'layer'", "did you mean 'layers'"],
    ),
    ("missing-layers", "name: m\ninputs:\n  - {name: x, shape: [4]}\n", "1:1", ["has no 'layers'"]),
    (
        "bad-name",
        "name: 3d model\n" + GOOD_HEAD[8:] + "  - {type: Dense, units: 2}\n",
        "1:7",
        ["identifier", "Received: '3d model'"],
    ),
    (
        "unknown-type",
        GOOD_HEAD + "  - {type: Dense2, units: 2}\n",
        "5:12",
        ["unknown layer type 'Dense2'", "did you mean 'Dense'"],
    ),
    (
        "unknown-type-alias-typo",
        GOOD_HEAD + "  - {type: Conv2d_, filters: 2}\n",
        "5:12",
        ["unknown layer type", "Conv2d"],
    ),
    (
        "unknown-argument",
        GOOD_HEAD + "  - {type: Dense, units: 2, activaton: relu}\n",
        "5:29",
        ["layer 'dense' (Dense): unknown argument 'activaton'", "did you mean 'activation'"],
    ),
    (
        "missing-argument",
        GOOD_HEAD + "  - {type: Dense}\n",
        "5:12",
        ["missing required argument 'units'"],
    ),
    (
        "zero-units",
        GOOD_HEAD + "  - {type: Dense, units: 0}\n",
        "5:26",
        ["Received: units=0", "integer from 1"],
    ),
    (
        "rotary-odd-head",
        GOOD_HEAD
        + "  - {type: GroupQueryAttention, head_dim: 3, num_query_heads: 2,"
        + " num_key_value_heads: 1, rope_max_wavelength: 10000}\n",
        "5:5",
        ["rotary embeddings pair a head's features; Received: head_dim=3", "give an even head_dim"],
    ),
    ("float-units", GOOD_HEAD + "  - {type: Dense, units: 2.5}\n", "5:26", ["Received: units=2.5"]),
    (
        "string-bool",
        GOOD_HEAD + "  - {type: Dense, units: 2, use_bias: maybe}\n",
        "5:39",
        ["use_bias", "true or false"],
    ),
    (
        "bad-activation",
        GOOD_HEAD + "  - {type: Dense, units: 2, activation: relu7}\n",
        "5:41",
        ["Received: activation='relu7'", "accepted:"],
    ),
    (
        "bad-padding",
        GOOD_HEAD + "  - {type: Conv1D, filters: 2, kernel_size: 2, padding: full}\n",
        "5:57",
        ["padding", "valid, same, causal"],
    ),
    (
        "epsilon-not-number",
        GOOD_HEAD + "  - {type: LayerNormalization, epsilon: tiny}\n",
        "5:41",
        ["epsilon", "a number"],
    ),
    (
        "epsilon-infinite",
        GOOD_HEAD + "  - {type: LayerNormalization, epsilon: .inf}\n",
        "5:41",
        ["epsilon", "finite"],
    ),
    (
        "huge-units",
        GOOD_HEAD + "  - {type: Dense, units: 99999999999}\n",
        "5:26",
        ["Received: units=99999999999"],
    ),
    (
        "dangling-input",
        GOOD_HEAD + "  - {type: Dense, units: 2, inputs: y}\n",
        "5:37",
        ["unknown name 'y'"],
    ),
    (
        "forward-reference",
        GOOD_HEAD
        + "  - {type: Dense, units: 2, inputs: later}\n  - {name: later, type: Dense, units: 2}\n",
        "5:37",
        ["later layer 'later'"],
    ),
    (
        "self-reference",
        GOOD_HEAD + "  - {name: d, type: Dense, units: 2, inputs: d}\n",
        "5:46",
        ["refers to itself or a later layer 'd'"],
    ),
    (
        "duplicate-name",
        GOOD_HEAD + "  - {name: d, type: Dense, units: 2}\n  - {name: d, type: Dense, units: 2}\n",
        "6:12",
        ["the name 'd' is used twice"],
    ),
    (
        "duplicate-key",
        GOOD_HEAD + "  - {type: Dense, units: 2, units: 3}\n",
        "5:29",
        ["key 'units' appears twice"],
    ),
    (
        "merge-shapes",
        GOOD_HEAD
        + "  - {name: a, type: Dense, units: 2}\n  - {name: b, type: Dense, units: 5, inputs: x}\n  - {type: Add, inputs: [a, b]}\n",
        "7:5",
        ["do not broadcast", "(None, 4, 2), (None, 4, 5)"],
    ),
    (
        "merge-one-input",
        GOOD_HEAD + "  - {type: Add}\n",
        "5:5",
        ["takes 2 or more input tensors, got 1"],
    ),
    (
        "kernel-too-large",
        GOOD_HEAD + "  - {type: Conv1D, filters: 2, kernel_size: 9}\n",
        "5:5",
        ["window (9) is larger than the input (4)"],
    ),
    (
        "rnn-needs-sequence",
        "name: m\ninputs:\n  - {name: x, shape: [4]}\nlayers:\n  - {type: LSTM, units: 2}\n",
        "5:5",
        ["expects a sequence input", "Received input shape (None, 4)"],
    ),
    (
        "reshape-size",
        GOOD_HEAD + "  - {type: Reshape, target_shape: [5]}\n",
        "5:5",
        ["holds 5 values, the input 12"],
    ),
    (
        "bidirectional-dense",
        GOOD_HEAD + "  - {type: Bidirectional, layer: {type: Dense, units: 2}}\n",
        "5:41",
        ["Bidirectional cannot wrap Dense", "LSTM"],
    ),
    (
        "strided-dilated-conv",
        GOOD_HEAD
        + "  - {type: Conv1D, filters: 2, kernel_size: 2, strides: 2, dilation_rate: 2}\n",
        "5:5",
        ["strides > 1 together with dilation_rate > 1"],
    ),
    (
        "time-distributed-merge",
        GOOD_HEAD + "  - {type: TimeDistributed, layer: {type: Add}}\n",
        "5:43",
        ["TimeDistributed cannot wrap Add"],
    ),
    (
        "int-into-dense",
        "name: m\ninputs:\n  - {name: t, shape: [4], dtype: int32}\nlayers:\n  - {type: Dense, units: 2}\n",
        "5:5",
        ["integer input", "Embedding"],
    ),
    (
        "float-into-embedding",
        "name: m\ninputs:\n  - {name: t, shape: [4]}\nlayers:\n  - {type: Embedding, input_dim: 9, output_dim: 2}\n",
        "5:5",
        ["(Embedding) gets float32 input", "integer token ids", "int32 or int64"],
    ),
    (
        "first-layer-ambiguous",
        "name: m\ninputs:\n  - {name: a, shape: [4]}\n  - {name: b, shape: [4]}\nlayers:\n  - {type: Dense, units: 2}\n",
        "6:5",
        ["no single previous tensor"],
    ),
    (
        "unknown-output",
        GOOD_HEAD + "  - {type: Dense, units: 2}\noutputs: [dens]\n",
        "6:11",
        ["unknown layer 'dens'", "did you mean 'dense'"],
    ),
    (
        "negative-shape",
        "name: m\ninputs:\n  - {name: x, shape: [-4]}\nlayers:\n  - {type: Dense, units: 2}\n",
        "3:22",
        ["shape", "positive integers"],
    ),
    ("undefined-alias", "name: *x\n", "1:7", ["alias *x is not defined"]),
    (
        "recursive-alias",
        "name: &x [1, *x]\n",
        "1:14",
        ["alias *x refers to a value that contains it"],
    ),
    (
        "duplicate-anchor",
        "name: &x m\ndescription: &x d\n",
        "2:14",
        ["found duplicate anchor 'x'"],
    ),
    (
        "number-too-long",
        "name: m\ninputs: " + "9" * 5000 + "\n",
        "2:9",
        ["the number is too long to read (5,000 characters)"],
    ),
    (
        "layers-not-list",
        "name: m\ninputs:\n  - {name: x, shape: [4]}\nlayers: {type: Dense}\n",
        "4:9",
        ["'layers' must be a non-empty list"],
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_line(text: str, where: str, fragments: list[str]) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_text(text, "spec.yaml")
    first = caught.value.errors[0].render()
    assert first.startswith(f"spec.yaml:{where}: error: "), first
    for fragment in fragments:
        assert fragment in first, first
    assert "\n" not in first


def test_several_problems_are_all_reported() -> None:
    text = GOOD_HEAD + "  - {type: Dense, units: 0}\n  - {type: Lstm, units: 2}\n"
    with pytest.raises(SpecErrors) as caught:
        load_text(text, "spec.yaml")
    lines = [e.render() for e in caught.value.errors]
    assert len(lines) == 2
    assert "units=0" in lines[0]
    assert "did you mean 'LSTM'" in lines[1]


# (id, layers after GOOD_HEAD, the one error each mistake gets, as "LINE:COL: fragment")
CONSEQUENCES = [
    (
        "unknown-type-then-a-chain",
        "  - {type: Dense2, units: 2}\n  - {type: Dense, units: 3}\n  - {type: Dense, units: 1}\n",
        ["5:12: error: unknown layer type 'Dense2'"],
    ),
    (
        "unknown-type-then-named",
        (
            "  - {name: enc, type: Dense2, units: 2}\n  - {name: a, type: Dense, units: 3, inputs: x}\n"
            "  - {type: Concatenate, inputs: [a, enc]}\n  - {type: Dense, units: 1}\n"
        ),
        ["5:23: error: unknown layer type 'Dense2'"],
    ),
    (
        "bad-argument-then-merge",
        "  - {name: d, type: Dense, units: 0}\n  - {type: Add, inputs: [x, d]}\n",
        ["5:35: error: layer 'd' (Dense): invalid value for 'units'"],
    ),
    (
        "unknown-block-then-its-name",
        "  - {block: nope, name: s}\n  - {type: Dense, units: 1, inputs: s}\n",
        ["5:13: error: unknown block 'nope'; accepted blocks: none"],
    ),
    (
        "typo-then-share-and-tie",
        (
            "  - {name: d, type: Dense, units: 2, activaton: relu}\n  - {share: d, inputs: x}\n"
            "  - {type: TimeDistributed, layer: {type: Dense, units: 1, tie: d}}\n"
        ),
        ["5:38: error: layer 'd' (Dense): unknown argument 'activaton'"],
    ),
    (
        "duplicate-name-then-a-chain",
        "  - {name: x, type: Dense, units: 2}\n  - {type: Dense, units: 1}\n",
        ["5:12: error: the name 'x' is used twice"],
    ),
    (
        "shape-error-then-a-chain",
        "  - {type: Reshape, target_shape: [5]}\n  - {type: Flatten}\n  - {type: Dense, units: 1}\n",
        ["5:5: error: layer 'reshape' (Reshape)"],
    ),
    (
        "two-mistakes-in-a-row",
        "  - {type: Dense2, units: 2}\n  - {type: Dense, unit: 3}\n  - {type: Dense, units: 1}\n",
        ["5:12: error: unknown layer type 'Dense2'", "6:19: error: layer 'dense' (Dense): unknown"],
    ),
]


@pytest.mark.parametrize(
    ("layers", "expected"), [c[1:] for c in CONSEQUENCES], ids=[c[0] for c in CONSEQUENCES]
)
def test_one_error_per_mistake(layers: str, expected: list[str]) -> None:
    """Errors that only follow from an earlier one (a layer taking, sharing or tying to a
    layer that has an error) are not reported: one line per mistake."""
    with pytest.raises(SpecErrors) as caught:
        load_text(GOOD_HEAD + layers, "spec.yaml")
    lines = [e.render() for e in caught.value.errors]
    assert len(lines) == len(expected), lines
    for line, fragment in zip(lines, expected, strict=True):
        assert line.startswith(f"spec.yaml:{fragment}"), line


def test_the_cli_prints_one_line_for_one_mistake(tmp_path: Path) -> None:
    """Before: the layers after an unknown type each said they had no input to take."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(GOOD_HEAD + CONSEQUENCES[0][1])
    result = subprocess.run(
        [sys.executable, "-m", "translator", "check", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"{spec}:5:12: error: unknown layer type 'Dense2'; did you mean 'Dense'?"
    ]


def test_scientific_notation_is_a_number() -> None:
    graph = load_text(GOOD_HEAD + "  - {type: LayerNormalization, epsilon: 1e-6}\n")
    assert graph.node("layer_normalization").args["epsilon"] == pytest.approx(1e-6)


def test_alias_bomb_is_refused_quickly() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        prev = chr(ord("a") + level - 1)
        cur = chr(ord("a") + level)
        bomb += f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    with pytest.raises(SpecErrors) as caught:
        load_text(bomb, "bomb.yaml")
    assert "alias bomb" in caught.value.errors[0].render()


def _bomb(levels: int) -> str:
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, levels):
        text += f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]\n"
    return text


EXTRA = {
    "deep-flow-nesting": "name: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-mapping-nesting": "name: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "alias-bomb": _bomb(30),
}


@pytest.mark.slow  # one fresh Python per case
@pytest.mark.parametrize("case", [c[0] for c in CASES] + sorted(EXTRA))
def test_cli_exit_code_2_one_line_fast(case: str, tmp_path: Path) -> None:
    """Every bad input: exit 2, one line on stderr, nothing on stdout, well within a second."""
    text = {**{c[0]: c[1] for c in CASES}, **EXTRA}[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "translator", "check", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert time.perf_counter() - started < 5  # includes starting Python; the load itself is ms
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 1 and all(line.startswith(f"{spec}:") for line in lines), result.stderr
    assert "Traceback" not in result.stderr


def test_non_utf8_file(tmp_path: Path) -> None:
    spec = tmp_path / "binary.yaml"
    spec.write_bytes(b"name: m\n\xff\xfe\x00garbage")
    result = subprocess.run(
        [sys.executable, "-m", "translator", "check", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert textwrap.dedent(result.stderr).startswith(
        f"{spec}:1:1: error: the file is not UTF-8 text"
    )


@pytest.mark.parametrize("kind", ["device", "pipe"])
def test_a_spec_path_that_is_a_device_or_pipe_is_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spec.yaml"
    if kind == "device":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    assert main(["check", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"{path}:1:1: error: not a regular file (a device or pipe); give a spec file"]


def test_check_refuses_an_embedding_on_float_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``compare`` used to crash on it; ``check`` now stops it at the Embedding's line."""
    spec = tmp_path / "float_ids.yaml"
    spec.write_text(
        "name: m\ninputs:\n  - {name: t, shape: [4], dtype: float32}\nlayers:\n"
        "  - {name: emb, type: Embedding, input_dim: 9, output_dim: 2}\n"
    )
    assert main(["check", str(spec)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    expected = (
        f"{spec}:5:5: error: layer 'emb' (Embedding) gets float32 input, but it reads integer"
        " token ids; feed it an input with dtype int32 or int64"
    )
    assert captured.err.splitlines() == [expected]
