"""Rendering comparison reports: a rich table for terminals, Markdown, and the contract's JSON.

The table reads like Keras's ``model.summary()`` and torchinfo: one row per layer with its
output shape and one count column per framework, the difference and the rule that explains
it, then totals with trainable / non-trainable / buffers. Numbers are grouped (1,234,567).
"""

from __future__ import annotations

import json
from typing import Any

from translator.commands.compare import LayerRow, Report
from translator.ir import INPUT

LABELS = {"keras": "Keras", "torch": "PyTorch", "onnx": "ONNX"}


def number(value: int | None) -> str:
    """A count with thousands separators; ``n/a`` when the framework has none."""
    return "n/a" if value is None else f"{value:,}"


def signed(value: int) -> str:
    """A difference with its sign (a typographic minus)."""
    return f"+{value:,}" if value > 0 else f"{value:,}".replace("-", "−")


def layer_label(row: LayerRow) -> str:
    """``name (Type)`` as Keras's summary writes it; blocks say how many layers."""
    if row.layers > 1 or row.type == "block":
        return f"{row.name} (block: {row.layers} layers)"
    kind = "InputLayer" if row.type == INPUT else row.type
    return f"{row.name} ({kind})"


def shape_label(row: LayerRow) -> str:
    """The row's output shapes, one per line."""
    from translator.ir import format_shape

    return "\n".join(format_shape(s) for s in row.output_shapes)


def why(row: LayerRow) -> list[str]:
    """The lines of the explanation column: rules, gaps, and anything unexplained."""
    lines = []
    for note in row.explanations:
        deltas = ", ".join(
            f"{LABELS[fw]} {signed(d)}" for fw, d in note.delta.items() if d and fw in row.params
        )
        lines.append(
            f"[{note.rule}] {deltas}: {note.summary}" if deltas else f"[{note.rule}] {note.summary}"
        )
    if row.stored:
        lines.append(f"Shared: {row.stored}")
    for fw, reason in sorted(row.unsupported.items()):
        lines.append(f"{LABELS[fw]} cannot build it: {reason}")
    for fw, left in row.unexplained.items():
        if left:
            lines.append(f"UNEXPLAINED: {LABELS[fw]} {signed(left)}")
    return lines


def memory(count: int, itemsize: int = 4) -> str:
    """Memory of ``count`` float32 values, as Keras's summary prints it (``1.92 KB``)."""
    size = float(count * itemsize)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _row_total(row: LayerRow, fw: str) -> str:
    """The row's total parameter count in ``fw``, or ``n/a`` when it has none."""
    params = row.params[fw]
    return number(params["total"]) if params else "n/a"


def _total(report: Report, fw: str, key: str) -> str:
    counts = report.totals.get(fw)
    if counts is None:
        return "n/a"
    if key not in counts:
        return ""
    if key == "total":
        return f"{number(counts[key])} ({memory(counts[key])})"
    return number(counts[key])


TOTAL_ROWS = (
    ("Total params", "total"),
    ("Trainable params", "trainable"),
    ("Non-trainable params", "non_trainable"),
    ("Buffers (not params)", "buffers"),
)


def _total_rows(report: Report) -> list[tuple[str, str]]:
    """The totals rows that at least one compared framework reports."""
    keys = {k for c in report.totals.values() if c for k in c}
    return [(label, key) for label, key in TOTAL_ROWS if key in keys]


def verdict(report: Report) -> str:
    """One sentence: the totals side by side and whether every difference is explained."""
    parts = []
    base = (report.totals.get("keras") or {}).get("total")
    for fw in report.frameworks:
        total = (report.totals.get(fw) or {}).get("total")
        text = f"{LABELS[fw]} {number(total)}"
        if fw != "keras" and total is not None and base is not None and total != base:
            text += f" ({signed(total - base)})"
        parts.append(text)
    rules = sorted({e.rule for r in report.rows for e in r.explanations if not e.note})
    if report.failures:
        status = f"FAILED: {len(report.failures)} problem(s) below"
    elif report.unexplained_total:
        status = "NOT all differences are explained"
    elif rules:
        status = "every difference explained by " + ", ".join(rules)
    else:
        status = "no differences"
    source = "measured on the real frameworks" if report.measured else "predicted from the IR"
    return " · ".join(parts) + f" — {status} ({source})"


def render_table(reports: list[Report], console: Any = None) -> None:
    """Print one rich table per report."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    console = console or Console(width=None if _is_terminal() else 160)
    for report in reports:
        table = Table(
            title=f"{escape(report.spec)}  [dim]{escape(report.file)}[/dim]",
            title_justify="left",
            show_lines=True,
        )
        table.add_column("Layer (type)", no_wrap=True)
        table.add_column("Output shape", no_wrap=True)
        for fw in report.frameworks:
            table.add_column(LABELS[fw], justify="right", no_wrap=True)
        table.add_column("Difference explained", ratio=1)
        for row in report.rows:
            cells = [_row_total(row, fw) for fw in report.frameworks]
            table.add_row(
                escape(layer_label(row)),
                escape(shape_label(row)),
                *cells,
                escape("\n".join(why(row))),
            )
        for label, key in _total_rows(report):
            table.add_row(
                f"[bold]{label}[/bold]",
                "",
                *(_total(report, fw, key) for fw in report.frameworks),
                "",
            )
        console.print(table)
        if report.materialized is not None:
            console.print(Text(report.materialized.summary()), soft_wrap=True)
        # Text, not markup: failures quote framework messages and file names, shown as is.
        console.print(Text(verdict(report), style="green" if report.ok else "bold red"))
        for failure in report.failures:
            console.print(Text(f"  {failure}", style="red"))
        console.print()


def _is_terminal() -> bool:
    import sys

    return sys.stdout.isatty()


def render_markdown(reports: list[Report]) -> str:
    """GitHub-flavoured Markdown, one section per spec."""
    out = []
    for report in reports:
        labels = [LABELS[fw] for fw in report.frameworks]
        out.append(f"### {report.spec}\n")
        out.append(
            "| Layer (type) | Output shape | " + " | ".join(labels) + " | Difference explained |"
        )
        out.append("|---|---|" + "---:|" * len(labels) + "---|")
        for row in report.rows:
            cells = [_row_total(row, fw) for fw in report.frameworks]
            text = "<br>".join(why(row)).replace("|", "\\|")
            out.append(
                f"| {layer_label(row)} | {shape_label(row).replace(chr(10), '<br>')} | "
                + " | ".join(cells)
                + f" | {text} |"
            )
        for label, key in _total_rows(report):
            out.append(
                f"| **{label}** | | "
                + " | ".join(_total(report, fw, key) for fw in report.frameworks)
                + " | |"
            )
        if report.materialized is not None:
            out.append(f"\n{report.materialized.summary()}")
        out.append(f"\n{verdict(report)}\n")
        out.extend(f"- {failure}" for failure in report.failures)
    return "\n".join(out) + "\n"


def render_json(reports: list[Report]) -> str:
    """The contract's JSON: one object for one spec, a list for several."""
    data: Any = [r.as_dict() for r in reports]
    if len(data) == 1:
        data = data[0]
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
