"""The command line's arguments (framework-free): a mistaken value is one line ``error:
argument ...`` on stderr, exit 2, no usage block, before any spec is read or framework loaded;
an interrupted command prints ``interrupted`` and exits 130."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from translator import cli
from translator.cli import main

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
PORT = ["port", SEED, "--from", "keras"]
EXPORT = ["export", SEED, "--out", "never-written"]
COMPARE = ["compare", SEED]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([*PORT, "--atol", "nan"], "argument --atol: invalid value 'nan'; a finite number >= 0"),
        ([*PORT, "--atol", "-1"], "argument --atol: invalid value '-1'; a finite number >= 0"),
        ([*PORT, "--atol", "inf"], "argument --atol: invalid value 'inf'; a finite number >= 0"),
        ([*PORT, "--atol", "tiny"], "argument --atol: invalid value 'tiny'; a finite number >= 0"),
        ([*EXPORT, "--atol=-1e-9"], "argument --atol: invalid value '-1e-9'"),
        ([*PORT, "--rtol", "nan"], "argument --rtol: invalid value 'nan'; a finite number >= 0"),
        ([*PORT, "--rtol", "-1"], "argument --rtol: invalid value '-1'; a finite number >= 0"),
        ([*PORT, "--rtol", "inf"], "argument --rtol: invalid value 'inf'; a finite number >= 0"),
        ([*EXPORT, "--rtol", "lax"], "argument --rtol: invalid value 'lax'; a finite number >= 0"),
        ([*EXPORT, "--rtol=-1e-9"], "argument --rtol: invalid value '-1e-9'"),
        ([*PORT, "--seed", "-1"], "argument --seed: invalid value '-1'; an integer from 0 to"),
        ([*PORT, "--seed", "2**70"], "argument --seed: invalid value '2**70'; an integer from 0"),
        ([*PORT, "--seed", str(2**70)], f"argument --seed: invalid value '{2**70}'"),
        ([*PORT, "--seed", str(2**32)], f"argument --seed: invalid value '{2**32}'"),
        ([*PORT, "--seed", "1.5"], "argument --seed: invalid value '1.5'"),
        ([*COMPARE, "--seed", "-1"], "argument --seed: invalid value '-1'"),
        ([*EXPORT, "--seed", "-3"], "argument --seed: invalid value '-3'"),
        ([*COMPARE, "--depth", "-1"], "argument --depth: invalid value '-1'; an integer >= 0"),
        (["count", SEED, "--depth", "-1"], "argument --depth: invalid value '-1'"),
        (["count", SEED, "--depth", "one"], "argument --depth: invalid value 'one'"),
        ([*PORT, "--to", "keras"], "argument --to: keras is the --from framework; name others"),
        ([*PORT, "--to", "torch,keras"], "argument --to: keras is the --from framework"),
        (["port", SEED, "--from", "onnx", "--to", "onnx"], "argument --to: onnx is the --from"),
        ([*PORT, "--to", "tf"], "argument --to: unknown framework 'tf'"),
        (["port", SEED], "the following arguments are required: --from"),
        (["count", SEED, "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["count", SEED, "--colour"], "unrecognized arguments: --colour"),
        (["count", SEED, "--colour\nx"], "unrecognized arguments: --colour\\nx"),
        (["bogus"], "argument command: invalid choice: 'bogus'"),
        ([], "the following arguments are required: command"),
    ],
)
def test_a_mistaken_argument_is_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {expected}")


@pytest.mark.parametrize(
    ("argv", "name", "value"),
    [
        ([*PORT, "--atol", "0"], "atol", 0.0),
        ([*PORT, "--atol", "1e-3"], "atol", 1e-3),
        (PORT, "rtol", 1e-5),
        ([*PORT, "--rtol", "0"], "rtol", 0.0),
        ([*EXPORT, "--rtol", "1e-3"], "rtol", 1e-3),
        (EXPORT, "atol", 1e-5),
        ([*PORT, "--seed", "0"], "seed", 0),
        ([*PORT, "--seed", str(2**32 - 1)], "seed", 2**32 - 1),
        ([*PORT, "--to", "torch,onnx"], "to", ("torch", "onnx")),
        (["count", SEED, "--depth", "0"], "depth", 0),
        ([*EXPORT, "--force"], "force", True),
        (EXPORT, "force", False),
    ],
)
def test_a_good_argument_is_taken(argv: list[str], name: str, value: object) -> None:
    assert getattr(cli._parse(argv), name) == value


def test_help_still_shows_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["port", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: translator port")


@pytest.mark.parametrize("command", ["check", "count", "export"])
def test_an_interrupt_is_one_line_and_exit_130(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, command, interrupted)
    argv = {"check": ["check", SEED], "count": ["count", SEED], "export": EXPORT}[command]
    assert main(argv) == 130
    assert capsys.readouterr().err == "interrupted\n"
