"""The line a report measured once per distinct layer carries, in every format (framework-free:
the summary is set on an IR report)."""

from __future__ import annotations

import io
import json

from rich.console import Console

from tests.conftest import ROOT
from translator.commands.compare import count_report
from translator.commands.distinct import distinct_groups, materialized
from translator.render.html import render_html
from translator.render.table import render_json, render_markdown, render_table
from translator.spec.loader import load

WHY = "75.3 GB of float32 weights in 3 frameworks > 25% of available memory"
LINE = (
    f"measured once per distinct layer ({WHY}): 9 distinct of 291 layers;"
    " block 'layers': 32 × 9 layers, 7 distinct"
)


def _report():
    graph = load(str(ROOT / "specs" / "zoo" / "llama2_7b.yaml"))
    report = count_report(graph)
    report.materialized = materialized(graph, distinct_groups(graph), WHY)
    return report


def test_the_table_has_the_line_whole_under_it() -> None:
    out = io.StringIO()
    render_table([_report()], Console(file=out, width=120))
    lines = out.getvalue().splitlines()
    assert LINE in lines
    assert lines.index(LINE) == len(lines) - 3  # then the verdict and a blank line


def test_markdown_json_and_html_say_it_too() -> None:
    report = _report()
    assert f"\n{LINE}\n" in render_markdown([report])
    assert json.loads(render_json([report]))["materialize"] == {
        "mode": "distinct",
        "distinct": 9,
        "layers": 291,
        "why": WHY,
    }
    assert "32 × 9 layers, 7 distinct" in render_html(report)


def test_a_report_of_whole_models_says_nothing_more() -> None:
    report = count_report(load(str(ROOT / "specs" / "seed_lstm.yaml")))
    assert "materialize" not in json.loads(render_json([report]))
    assert "measured once" not in render_markdown([report])
