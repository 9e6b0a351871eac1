"""``export --out``'s refusals through the CLI (framework-free: the path is checked before the
spec is built): one line naming the path and what is accepted, exit 2, nothing written, no
link followed. Successful and failing writes are in ``tests/end_to_end/``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from translator.cli import main

SEED = str(ROOT / "specs" / "seed_lstm.yaml")


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root`` (links not followed): a link's target, a file's bytes."""
    found: dict[str, object] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            else:
                found[key] = path.read_bytes() if path.is_file() else "dir"
    return found


def _file(tmp: Path) -> str:
    (tmp / "taken").write_text("mine")
    return str(tmp / "taken")


def _link_to_dir(tmp: Path) -> str:
    (tmp / "real").mkdir()
    (tmp / "link").symlink_to(tmp / "real")
    return str(tmp / "link")


def _dangling_link(tmp: Path) -> str:
    (tmp / "link").symlink_to(tmp / "nowhere")
    return str(tmp / "link")


def _users_dir(tmp: Path) -> str:
    (tmp / "out").mkdir()
    (tmp / "out" / "model.py").write_text("# the user's own model.py\n")
    return str(tmp / "out")


def _link_among_ours(tmp: Path) -> str:
    (tmp / "out").mkdir()
    (tmp / "out" / "notes.txt").write_text("mine")
    (tmp / "out" / "weights.npz").symlink_to(tmp / "outside.npz")
    return str(tmp / "out")


def _dir_among_ours(tmp: Path) -> str:
    (tmp / "out" / "model.keras").mkdir(parents=True)
    return str(tmp / "out")


CASES: dict[str, tuple[Callable[[Path], str], list[str], str]] = {
    "empty": (lambda tmp: "", [], "--out '': empty path; name a directory"),
    "blank": (lambda tmp: "  ", [], "--out '  ': empty path; name a directory"),
    "a file": (_file, [], "--out '{out}': not a directory; name a directory"),
    "a link to a directory": (_link_to_dir, ["--force"], "--out '{out}': is a symlink;"),
    "a dangling link": (_dangling_link, [], "--out '{out}': is a symlink;"),
    "missing parent": (
        lambda tmp: str(tmp / "no" / "out"),
        [],
        "--out '{out}': its directory does not exist; create '{tmp}/no' first",
    ),
    "the user's directory": (
        _users_dir,
        [],
        (
            "--out '{out}': directory exists and is not empty; pass --force to replace the"
            " export's own files in it (model.keras, model.onnx, model.onnx.data, model.pt,"
            " model.py, weights.npz)"
            " and keep the others, or name a new directory"
        ),
    ),
    "a link among ours": (_link_among_ours, ["--force"], "--out '{out}/weights.npz': is a symlink"),
    "a directory among ours": (
        _dir_among_ours,
        ["--force"],
        "--out '{out}/model.keras': not a regular file; move it away first",
    ),
    "the root": (lambda tmp: "/", ["--force"], "--out '/': the root directory"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_export_refuses_an_out(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup, extra, expected = CASES[case]
    out = setup(tmp_path)
    before = snapshot(tmp_path)
    assert main(["export", SEED, "--out", out, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("error: " + expected.format(out=out, tmp=tmp_path))
    assert snapshot(tmp_path) == before  # nothing written, nothing followed
    assert not (tmp_path / "outside.npz").exists()
