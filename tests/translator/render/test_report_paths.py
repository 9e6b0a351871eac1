"""``compare --format html --out DIR`` and ``--plot FILE`` through the CLI, framework-free:
``compare_report`` is replaced by the IR's own ``count_report`` (the same report), so only
the paths are under test. A path that cannot be written is one line, exit 2, checked before
anything is built; a write that fails leaves nothing behind."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.translator.commands.test_export_paths import snapshot
from translator.cli import main
from translator.commands import compare
from translator.ir import Graph

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
HTML = ["compare", SEED, "--format", "html"]


@pytest.fixture(autouse=True)
def _no_framework(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``compare`` reports from the IR; the list says which specs it was asked to build."""
    built: list[str] = []

    def report(
        graph: Graph,
        frameworks: tuple[str, ...],
        seed: int,
        materialize: str | None = None,
        max_memory: int | None = None,
    ) -> compare.Report:
        built.append(graph.name)
        return compare.count_report(graph, frameworks)

    monkeypatch.setattr(compare, "compare_report", report)
    return built


def _dir(tmp: Path, name: str) -> str:
    (tmp / name).mkdir()
    return str(tmp / name)


def _link(tmp: Path, name: str, target: str = "elsewhere") -> str:
    (tmp / name).symlink_to(tmp / target)
    return str(tmp / name)


def _page_is_a(kind: str) -> Callable[[Path], str]:
    def setup(tmp: Path) -> str:
        (tmp / "pages").mkdir()
        if kind == "dir":
            (tmp / "pages" / "seed_lstm.html").mkdir()
        else:
            (tmp / "pages" / "seed_lstm.html").symlink_to(tmp / "elsewhere.html")
        return str(tmp / "pages")

    return setup


PLOT: dict[str, tuple[Callable[[Path], str], str]] = {
    "empty": (lambda tmp: "", "--plot '': empty path; name a file"),
    "missing directory": (
        lambda tmp: str(tmp / "no" / "chart.png"),
        "--plot '{path}': its directory does not exist; create '{tmp}/no' first",
    ),
    "a directory": (lambda tmp: _dir(tmp, "chart.png"), "--plot '{path}': is a directory"),
    "a text file": (
        lambda tmp: str(tmp / "chart.txt"),
        "--plot '{path}': unknown file type; name a .png, .svg, .pdf file",
    ),
    "no suffix": (lambda tmp: str(tmp / "chart"), "--plot '{path}': unknown file type"),
    "a link": (lambda tmp: _link(tmp, "chart.png"), "--plot '{path}': is a symlink"),
    "a device": (lambda tmp: "/dev/full", "--plot '/dev/full': unknown file type"),
    "a device named .png": (
        lambda tmp: _link(tmp, "full.png", "/dev/full"),
        "--plot '{path}': is a symlink",
    ),
}

OUT: dict[str, tuple[Callable[[Path], str], str]] = {
    "empty": (lambda tmp: "", "--out '': empty path; name a directory"),
    "a file": (
        lambda tmp: (tmp / "f").write_text("mine") and str(tmp / "f"),
        "--out '{path}': not a directory",
    ),
    "missing parent": (
        lambda tmp: str(tmp / "no" / "pages"),
        "--out '{path}': its directory does not exist; create '{tmp}/no' first",
    ),
    "a link": (lambda tmp: _link(tmp, "pages"), "--out '{path}': is a symlink"),
    "a page that is a directory": (
        _page_is_a("dir"),
        "--out '{path}/seed_lstm.html': is a directory",
    ),
    "a page that is a link": (_page_is_a("link"), "--out '{path}/seed_lstm.html': is a symlink"),
}


def _refused(argv: list[str], expected: str, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``argv`` exits 2 with the one line ``expected``, having changed nothing under ``tmp``."""
    before = snapshot(tmp)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"error: {expected}")
    assert snapshot(tmp) == before
    assert not (tmp / "elsewhere").exists()
    assert not (tmp / "elsewhere.html").exists()


@pytest.mark.parametrize("case", list(PLOT))
def test_plot_refuses(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], _no_framework: list[str]
) -> None:
    setup, expected = PLOT[case]
    path = setup(tmp_path)
    argv = ["compare", SEED, "--plot", path]
    _refused(argv, expected.format(path=path, tmp=tmp_path), tmp_path, capsys)
    assert _no_framework == []  # refused before building anything


@pytest.mark.parametrize("case", list(OUT))
def test_html_out_refuses(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], _no_framework: list[str]
) -> None:
    setup, expected = OUT[case]
    path = setup(tmp_path)
    _refused([*HTML, "--out", path], expected.format(path=path, tmp=tmp_path), tmp_path, capsys)
    assert _no_framework == []


def test_out_goes_with_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", SEED, "--out", str(tmp_path / "pages")]
    expected = f"--out '{tmp_path / 'pages'}': goes with --format html; add it, or drop --out"
    _refused(argv, expected, tmp_path, capsys)


@pytest.mark.parametrize("existing", [False, True])
def test_html_pages_are_written(
    existing: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = tmp_path / "pages"
    if existing:
        pages.mkdir()
        (pages / "seed_lstm.html").write_text("an older page")
        (pages / "notes.txt").write_text("mine")
    specs = [SEED, str(ROOT / "specs" / "mnist_cnn.yaml")]
    assert main(["compare", *specs, "--format", "html", "--out", str(pages)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"wrote {pages / 'seed_lstm.html'}",
        f"wrote {pages / 'mnist_cnn.html'}",
    ]
    found = snapshot(tmp_path)
    for page in ("pages/seed_lstm.html", "pages/mnist_cnn.html"):
        assert str(found.pop(page)).startswith("b'<!DOCTYPE html>")
    assert found == ({"pages": "dir", "pages/notes.txt": b"mine"} if existing else {"pages": "dir"})


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_page_write_leaves_nothing(
    existing: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = tmp_path / "pages"
    if existing:
        pages.mkdir()
        (pages / "seed_lstm.html").write_text("an older page")
    before = snapshot(tmp_path)
    real = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        real(self, data[:10])  # a part written, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    assert main([*HTML, "--out", str(pages)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: cannot write '{pages / 'seed_lstm.html'}': No space left on device;"
        " choose a writable place with room"
    )
    assert snapshot(tmp_path) == before  # no page, no partial file, no new directory


@pytest.mark.slow  # matplotlib draws the chart: about a second
@pytest.mark.parametrize(("name", "magic"), [("chart.png", b"\x89PNG"), ("chart.svg", b"<?xml")])
def test_plot_is_written(
    name: str, magic: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", SEED, "--format", "json", "--plot", str(tmp_path / name)]) == 0
    assert capsys.readouterr().err == f"wrote {tmp_path / name}\n"
    assert list(snapshot(tmp_path)) == [name]
    assert (tmp_path / name).read_bytes().startswith(magic)


@pytest.mark.slow  # matplotlib draws the chart: about a second
def test_plot_into_the_new_html_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report"
    argv = [*HTML, "--out", str(report), "--plot", str(report / "chart.svg")]
    assert main(argv) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"wrote {report / 'seed_lstm.html'}",
        f"wrote {report / 'chart.svg'}",
    ]
    assert sorted(snapshot(tmp_path)) == ["report", "report/chart.svg", "report/seed_lstm.html"]
