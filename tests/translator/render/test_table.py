"""Reports rendered from IR counts (no framework): table, Markdown, JSON."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from tests.conftest import ROOT
from translator.commands.compare import count_report
from translator.render.table import memory, render_json, render_markdown, render_table
from translator.spec.loader import load

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
TAGGER = str(ROOT / "specs" / "bigru_tagger.yaml")


def test_memory_like_keras() -> None:
    assert memory(491) == "1.92 KB"
    assert memory(0) == "0.00 B"
    assert memory(25_636_712) == "97.80 MB"


def test_table_groups_numbers_and_names_the_rule() -> None:
    out = io.StringIO()
    render_table([count_report(load(TAGGER))], Console(file=out, width=200))
    text = out.getvalue()
    assert "320,000" in text  # 5000 × 64 embeddings
    assert "Total params" in text and "Buffers (not params)" in text
    assert "every difference explained" in text or "no differences" in text


def test_seed_table_answers_the_question() -> None:
    out = io.StringIO()
    render_table([count_report(load(SEED))], Console(file=out, width=200))
    text = out.getvalue()
    assert "[rnn-double-bias] PyTorch +40, ONNX +40" in text
    assert "Keras 491 · PyTorch 531 (+40) · ONNX 531 (+40)" in text


def test_markdown() -> None:
    text = render_markdown([count_report(load(SEED))])
    assert "| Layer (type) | Output shape | Keras | PyTorch | ONNX | Difference explained |" in text
    assert "| lstm (LSTM) | (None, None, 10) | 480 | 520 | 520 |" in text


def test_json_one_object_or_a_list() -> None:
    one = json.loads(render_json([count_report(load(SEED))]))
    assert one["spec"] == "seed_lstm"
    many = json.loads(render_json([count_report(load(SEED)), count_report(load(TAGGER))]))
    assert [m["spec"] for m in many] == ["seed_lstm", "bigru_tagger"]


# Text from frameworks and file names that rich would read as markup if not escaped.
MARKUP = ["[red]x[/red]", "[bold]loud", "closing [/] tag", "a[i] = b[j]"]


@pytest.mark.parametrize("text", MARKUP)
def test_failure_lines_show_markup_literally(text: str) -> None:
    report = count_report(load(SEED))
    report.failures.append(f"keras: Keras failed: {text}")
    out = io.StringIO()
    render_table([report], Console(file=out, width=200))
    lines = out.getvalue().splitlines()
    assert f"  keras: Keras failed: {text}" in lines
    assert "[red]  " not in out.getvalue()


@pytest.mark.parametrize("text", MARKUP)
def test_explanation_cells_and_title_show_markup_literally(text: str) -> None:
    report = count_report(load(SEED))
    report.file = f"specs/{text}.yaml"
    lstm = next(row for row in report.rows if row.name == "lstm")
    lstm.unsupported["onnx"] = text
    out = io.StringIO()
    render_table([report], Console(file=out, width=250))
    assert f"seed_lstm  specs/{text}.yaml" in out.getvalue()
    assert f"ONNX cannot build it: {text}" in out.getvalue()
