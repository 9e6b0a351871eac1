"""The HTML report, rendered by a real headless Chromium: the page shows the per-layer table
with the measured counts and one chart bar per layer and framework."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import ROOT
from translator.commands.compare import compare_report
from translator.render.html import plot_png, render_html
from translator.spec.loader import load

pytestmark = pytest.mark.frameworks

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def seed_report():
    return compare_report(load(str(ROOT / "specs" / "seed_lstm.yaml")))


@pytest.fixture(scope="module")
def browser() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") or os.environ.get("REQUIRE_CHROMIUM"):
            pytest.fail("chromium is missing: `make test` (its chromium target) installs it")
        # A bare `pytest` on a machine without it; `make test` sets REQUIRE_CHROMIUM.
        pytest.skip("chromium is not installed here; `make test` installs it with apt-get")
    return CHROMIUM


class _Cells(HTMLParser):
    """Collects the text of table rows and the chart's bars from the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.bars: list[dict[str, str | None]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "rect" and ("class", "bar") in attrs:
            self.bars.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_headless_chromium_shows_the_table_and_chart(
    seed_report, browser: str, tmp_path: Path
) -> None:
    page = tmp_path / "seed_lstm.html"
    page.write_text(render_html(seed_report), encoding="utf-8")
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    cells = _Cells()
    cells.feed(dom)
    rows = {row[0]: row for row in cells.rows if row}
    assert rows["lstm (LSTM)"][2:5] == ["480", "520", "520"]
    assert "rnn-double-bias" in rows["lstm (LSTM)"][5]
    assert rows["Total params"][2:5] == ["491 (1.92 KB)", "531 (2.07 KB)", "531 (2.07 KB)"]
    values = {(b["data-layer"], b["data-framework"]): b["data-value"] for b in cells.bars}
    assert values[("lstm", "keras")] == "480"
    assert values[("lstm", "torch")] == "520"
    assert values[("time_distributed", "onnx")] == "11"

    shot = tmp_path / "page.png"
    subprocess.run(
        [
            browser,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1000,800",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_plot_png(seed_report, tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"
    plot_png([seed_report], str(chart))
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 5_000
