"""Self-contained HTML reports and PNG charts of a comparison.

An HTML page holds the per-layer table and an inline SVG bar chart of per-layer parameter
counts per framework: no script, no external asset, so it opens anywhere and renders the
same in a headless browser. ``chart`` draws the same chart with matplotlib (PNG, SVG or
PDF). ``report_files`` gathers the pages and the chart a ``compare`` run writes, for
``translator.outputs.write_whole`` to write all or none.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

from translator.commands.compare import Report
from translator.render.table import (
    LABELS,
    _total,
    _total_rows,
    layer_label,
    number,
    shape_label,
    verdict,
    why,
)

COLORS = {"keras": "#d00000", "torch": "#f28e2b", "onnx": "#005ced"}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }
td.shape { white-space: nowrap; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f6f6f6; }
.ok { color: #137333; } .bad { color: #b00020; font-weight: bold; }
.why { max-width: 46rem; font-size: 90%; }
"""


def _bars(report: Report) -> str:
    """An SVG bar chart: one group of bars per layer with weights, one bar per framework."""
    rows = [r for r in report.layers if any(p and p["total"] for p in r.params.values())]
    fws = report.frameworks
    top = max((p["total"] for r in rows for p in r.params.values() if p), default=1) or 1
    label_w, bar_h, width = 260, 12, 420
    height = len(rows) * (bar_h * len(fws) + 10) + 40
    parts = [
        f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 120}" height="{height}" role="img" aria-label="parameters per layer">'
    ]
    y = 10
    for row in rows:
        parts.append(
            f'<text x="0" y="{y + bar_h * len(fws) / 2 + 4}" font-size="12">{html.escape(layer_label(row))}</text>'
        )
        for fw in fws:
            total = (row.params.get(fw) or {}).get("total", 0)
            w = max(1, round(width * total / top)) if total else 0
            parts.append(
                f'<rect class="bar" data-layer="{html.escape(row.name)}" data-framework="{fw}" data-value="{total}" x="{label_w}" y="{y}" width="{w}" height="{bar_h - 2}" fill="{COLORS[fw]}"/>'
            )
            parts.append(
                f'<text x="{label_w + w + 4}" y="{y + bar_h - 3}" font-size="10">{number(total)}</text>'
            )
            y += bar_h
        y += 10
    x = label_w
    for fw in fws:
        parts.append(
            f'<rect x="{x}" y="{y + 4}" width="10" height="10" fill="{COLORS[fw]}"/><text x="{x + 14}" y="{y + 13}" font-size="12">{LABELS[fw]}</text>'
        )
        x += 90
    parts.append("</svg>")
    return "\n".join(parts)


def _table(report: Report) -> str:
    head = "".join(f"<th>{LABELS[fw]}</th>" for fw in report.frameworks)
    out = [
        f"<table id='layers'><tr><th>Layer (type)</th><th>Output shape</th>{head}<th>Difference explained</th></tr>"
    ]
    for row in report.rows:
        cells = "".join(
            f"<td class='n'>{number((row.params[fw] or {}).get('total'))}</td>"
            for fw in report.frameworks
        )
        text = "<br>".join(html.escape(line) for line in why(row))
        shape = html.escape(shape_label(row)).replace("\n", "<br>")
        out.append(
            f"<tr data-layer='{html.escape(row.name)}'><td>{html.escape(layer_label(row))}</td><td class='shape'>{shape}</td>{cells}<td class='why'>{text}</td></tr>"
        )
    for label, key in _total_rows(report):
        cells = "".join(f"<td class='n'>{_total(report, fw, key)}</td>" for fw in report.frameworks)
        out.append(f"<tr class='total'><td>{label}</td><td></td>{cells}<td></td></tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(report: Report) -> str:
    """One self-contained page for one spec."""
    status = "ok" if report.ok else "bad"
    failures = "".join(f"<li class='bad'>{html.escape(f)}</li>" for f in report.failures)
    once = report.materialized
    measured_once = f"<p>{html.escape(once.summary())}</p>" if once is not None else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(report.spec)}: parameters per framework</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(report.spec)}</h1><p><code>{html.escape(report.file)}</code></p>"
        f"<p id='verdict' class='{status}'>{html.escape(verdict(report))}</p>"
        f"{_table(report)}{measured_once}<h2>Parameters per layer</h2>{_bars(report)}"
        f"<ul>{failures}</ul></body></html>\n"
    )


def report_files(reports: list[Report], out: Path | None, plot: Path | None) -> dict[Path, bytes]:
    """What ``compare --format html --out DIR`` and ``--plot FILE`` write: one page per
    spec in ``out``, the chart in ``plot``."""
    files = {out / f"{r.spec}.html": render_html(r).encode() for r in reports} if out else {}
    if plot is not None:
        files[plot] = chart(reports, plot.suffix.lower().removeprefix("."))
    return files


def plot_png(reports: list[Report], path: str) -> None:
    """Draw ``chart`` into ``path`` (its format from the suffix), whole or not at all."""
    from translator.outputs import PLOT_SUFFIXES, check_file, write_whole

    target = check_file("--plot", path, PLOT_SUFFIXES)
    write_whole(report_files(reports, None, target))


def chart(reports: list[Report], fmt: str = "png") -> bytes:
    """A horizontal bar chart of per-layer counts per framework, one panel per spec, as a
    ``fmt`` (png, svg, pdf) file's bytes."""
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    panels = [
        (r, [row for row in r.layers if any(p and p["total"] for p in row.params.values())])
        for r in reports
    ]
    heights = [max(1.5, 0.35 * len(rows) * len(r.frameworks) + 1) for r, rows in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, sum(heights)), squeeze=False, height_ratios=heights
    )
    for ax, (report, rows) in zip(axes[:, 0], panels, strict=True):
        step = len(report.frameworks) + 1
        for i, fw in enumerate(report.frameworks):
            values = [(row.params.get(fw) or {}).get("total", 0) for row in rows]
            ax.barh(
                [j * step + i for j in range(len(rows))], values, color=COLORS[fw], label=LABELS[fw]
            )
        ax.set_yticks(
            [j * step + (len(report.frameworks) - 1) / 2 for j in range(len(rows))],
            [layer_label(r) for r in rows],
        )
        ax.invert_yaxis()
        ax.set_title(report.spec)
        ax.set_xlabel("parameters")
        ax.legend(loc="lower right")
    fig.tight_layout()
    data = io.BytesIO()
    fig.savefig(data, format=fmt, dpi=100)
    plt.close(fig)
    return data.getvalue()
