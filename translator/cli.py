"""Command line: ``python -m translator {compare,count,explain,port,export,import,audit,check} ...``.

Spec errors print one ``FILE:LINE:COL: error: ...`` line each and exit 2 with nothing else
written; so do a mistaken argument and an output path that cannot be written
(``translator.outputs``). ``compare`` exits 1 when a backend fails or a difference is
unexplained. Ctrl-C prints ``interrupted`` and exits 130, leaving no partial output file.
``count``, ``explain`` and ``check`` never import a framework.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from translator.arguments import parser
from translator.errors import SpecErrors, TooLarge, TranslatorError, WeightsError, suggestion
from translator.ir import FRAMEWORKS, Graph
from translator.outputs import OutputError
from translator.weights.renames import read_map, renaming

EXIT_OK, EXIT_FAILED, EXIT_SPEC = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C


def load_all(paths: Sequence[str]) -> list[Graph]:
    """Load every spec; all problems of all specs are raised together."""
    from translator.spec.loader import load

    graphs, errors = [], []
    for path in paths:
        try:
            graphs.append(load(path))
        except SpecErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise SpecErrors(errors)
    return graphs


MORE_MEMORY = "or use a machine with more memory (or a larger --max-memory)"


def _render(reports: list, fmt: str) -> None:
    from translator.render import table

    if fmt == "json":
        sys.stdout.write(table.render_json(reports))
    elif fmt == "markdown":
        sys.stdout.write(table.render_markdown(reports))
    else:
        table.render_table(reports)


def _at_depth(reports: list, depth: int | None) -> list:
    from translator.commands.compare import collapse

    return reports if depth is None else [collapse(r, depth) for r in reports]


def largest_build(
    graph: Any, frameworks: tuple[str, ...], asked: str | None, max_memory: int | None = None
) -> Any:
    """What ``compare`` holds at once: the whole model (``full``), or the largest distinct
    layer's small model (``distinct``), as ``translator.ir.memory`` estimates it."""
    from translator.commands.distinct import choose, distinct_groups, mini_graph
    from translator.ir.memory import compare_estimate

    mode, _ = choose(graph, frameworks, asked, max_memory)
    if mode == "full":
        return compare_estimate(graph, frameworks)
    parts = (mini_graph(graph, group) for group in distinct_groups(graph))
    return max((compare_estimate(p, frameworks) for p in parts), key=lambda e: e.total)


def cmd_compare(args: argparse.Namespace) -> int:
    """``compare``: build every spec in each framework, measure, reconcile, render."""
    from translator.commands.compare import compare_report
    from translator.render.progress import progress

    graphs = load_all(args.specs)
    if args.format == "html" and len(graphs) > 1 and not args.out:
        print(
            "error: --format html with several specs needs --out DIR (one page per spec)",
            file=sys.stderr,
        )
        return EXIT_SPEC
    out, plot = _report_paths(args, graphs)  # checked before the long part
    from translator.ir.memory import refuse_beyond

    for graph in graphs:
        way_out = f"measure fewer frameworks (--frameworks), {MORE_MEMORY}"
        estimate = largest_build(graph, args.frameworks, args.materialize, args.max_memory)
        refuse_beyond(graph, estimate, args.max_memory, way_out)
    reports = [
        compare_report(g, args.frameworks, args.seed, args.materialize, args.max_memory)
        for g in progress(graphs, "building")
    ]
    _emit(_at_depth(reports, args.depth), args, out, plot)
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


def _report_paths(args: argparse.Namespace, graphs: list[Graph]) -> tuple[Path | None, Path | None]:
    """``--out DIR`` (with ``--format html``) and ``--plot FILE``, checked; ``OutputError``
    when one cannot be written."""
    from translator.outputs import PLOT_SUFFIXES, check_directory, check_file, refuse

    out = plot = None
    if args.out is not None:
        if args.format != "html":
            raise refuse("--out", args.out, "goes with --format html", "add it, or drop --out")
        out = check_directory("--out", args.out)
        for graph in graphs if out.exists() else []:
            check_file("--out", str(out / f"{graph.name}.html"))
    if args.plot is not None:
        # --plot into the --out directory made at the end: its parent, checked above.
        into_new_out = out is not None and not out.exists() and _same(Path(args.plot).parent, out)
        plot = check_file("--plot", args.plot, PLOT_SUFFIXES, new_parent=into_new_out)
    return out, plot


def _same(one: Path, other: Path) -> bool:
    return os.path.abspath(one) == os.path.abspath(other)


def _emit(reports: list, args: argparse.Namespace, out: Path | None, plot: Path | None) -> None:
    """Render in the chosen format; write the pages and the chart, all or none."""
    from translator.outputs import new_directory, write_whole
    from translator.render.html import render_html, report_files

    if args.format == "html" and out is None:
        sys.stdout.write(render_html(reports[0]))
    elif args.format != "html":
        _render(reports, args.format)
    files = report_files(reports, out, plot)
    with new_directory(out) if out is not None else contextlib.nullcontext():
        write_whole(files)
    for path in files:
        print(f"wrote {path}", file=sys.stderr)


def cmd_count(args: argparse.Namespace) -> int:
    """``count``: the comparison predicted from the IR alone (no framework imported)."""
    from translator.commands.compare import count_report

    reports = [count_report(g, args.frameworks) for g in load_all(args.specs)]
    _render(_at_depth(reports, args.depth), args.format)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """``explain``: every layer's tensors per framework, its formula and correspondences."""
    from translator.commands.explain import explain_data, render_text, select

    (graph,) = load_all([args.spec])
    if args.layer is not None and args.layer not in {n.name for n in graph.layers}:
        names = [n.name for n in graph.layers]
        print(
            f"{args.spec}: error: no layer named {args.layer!r}; {suggestion(args.layer, names, 'layers')}",
            file=sys.stderr,
        )
        return EXIT_SPEC
    nodes = select(graph, args.layer)
    if args.format == "json":
        print(json.dumps([explain_data(n, args.frameworks) for n in nodes], indent=2))
    else:
        print("\n\n".join(render_text(n, args.frameworks) for n in nodes))
    return EXIT_OK


def cmd_port(args: argparse.Namespace) -> int:
    """``port``: carry weights from one framework into the others and measure outputs."""
    from translator.commands.port import port_report, render_text

    if args.weights and len(args.specs) > 1:
        print("error: --weights goes with one spec, not several", file=sys.stderr)
        return EXIT_SPEC
    graphs = load_all(args.specs)
    targets = tuple(fw for fw in args.to or FRAMEWORKS if fw != args.source)
    from translator.ir.memory import port_estimate, refuse_beyond

    for graph in graphs:
        way_out = f"port to fewer frameworks (--to), {MORE_MEMORY}"
        refuse_beyond(graph, port_estimate(graph, args.source, targets), args.max_memory, way_out)
    with renaming(read_map(args.map) if args.map else {}):
        reports = [
            port_report(g, args.source, targets, args.weights, args.atol, args.seed, args.rtol)
            for g in graphs
        ]
    if args.format == "json":
        data = [r.as_dict() for r in reports]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        print("\n\n".join(render_text(r, details=len(reports) == 1) for r in reports))
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


def cmd_export(args: argparse.Namespace) -> int:
    """``export``: write the model for every framework, reload each file and check it."""
    from translator.commands.export import check_out, export_spec, render_text

    check_out(args.out, args.force)  # before the spec, the weights and any framework
    (graph,) = load_all([args.spec])
    from translator.commands.export import EXPORTERS
    from translator.ir.memory import export_estimate, refuse_beyond

    way_out = MORE_MEMORY.removeprefix("or ")
    refuse_beyond(graph, export_estimate(graph, EXPORTERS), args.max_memory, way_out)
    with renaming(read_map(args.map) if args.map else {}):
        report = export_spec(
            graph, args.out, args.weights, args.seed, args.atol, args.force, args.rtol
        )
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(render_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_import(args: argparse.Namespace) -> int:
    """``import``: a saved model → a spec (and weights); exit 1 listing what is unclaimed,
    the rest written as a partial spec next to its report; exit 2 for an unreadable source."""
    from translator.commands.importing import SourceError, import_source, render_text

    try:
        report = import_source(args.source, args.out, args.weights_out, args.input)
    except (SourceError, OSError) as exc:  # the user's file or path, not the translator's
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SPEC
    print(render_text(report), file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_audit(args: argparse.Namespace) -> int:
    """``audit``: what a model file holds, per layer, against the spec; exit 1 when a
    difference is unexplained, 2 (one line ``FILE: error: ...``) for a file it cannot read."""
    from translator.commands.audit import as_dict, audit_file, render_text
    from translator.commands.importing import SourceError

    (graph,) = load_all([args.spec])
    try:
        report = audit_file(graph, args.file)
    except WeightsError as exc:
        from translator.weights.inventory import ACCEPTED_FILES

        said = str(exc).removeprefix(f"{exc.source}: ")
        if "accepted" not in said:  # a format reader's own words: say what audit takes
            said += f"; accepted: {ACCEPTED_FILES}"
        print(f"{exc.source}: error: {said}", file=sys.stderr)
        return EXIT_SPEC
    except SourceError as exc:  # Keras refused the file in safe mode
        said = str(exc).removeprefix(f"{args.file}: ")
        print(f"{args.file}: error: {said}", file=sys.stderr)
        return EXIT_SPEC
    if args.format == "json":
        print(json.dumps(as_dict(report), indent=2))
    else:
        print(render_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_check(args: argparse.Namespace) -> int:
    """``check``: load and validate the specs; errors are one line each."""
    for graph in load_all(args.specs):
        print(f"{graph.file}: ok: {graph.name}, {len(graph.layers)} layers")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """``schema``: print the JSON Schema of specs."""
    from translator.render.docs import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    """``docs``: regenerate ``spec.schema.json`` and ``docs/`` from the registries."""
    from pathlib import Path

    from translator.render.docs import GENERATED

    for relative, render in GENERATED.items():
        path = Path(args.root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {path}")
    return EXIT_OK


COMMANDS = {
    "compare": cmd_compare,
    "count": cmd_count,
    "explain": cmd_explain,
    "port": cmd_port,
    "export": cmd_export,
    "import": cmd_import,
    "audit": cmd_audit,
    "check": cmd_check,
    "schema": cmd_schema,
    "docs": cmd_docs,
}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments, checked (``OneLineParser`` exits 2 with one line on a mistake)."""
    top = parser()
    args = top.parse_args(argv)
    if args.command == "port" and args.to and args.source in args.to:
        others = ",".join(fw for fw in FRAMEWORKS if fw != args.source)
        top.error(
            f"argument --to: {args.source} is the --from framework; name others, like {others}"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code: 0 ok, 1 a failed check or framework, 2 a mistake in
    the arguments, a spec, a weights file or an output path (one line each on stderr), 130
    interrupted (Ctrl-C)."""
    try:
        args = _parse(argv)
        return _run(args)
    except SystemExit as exc:  # from argparse: --help (0) or a usage mistake (2)
        return exc.code if isinstance(exc.code, int) else EXIT_SPEC
    except KeyboardInterrupt:  # what was being written was staged, and is gone
        return interrupted()


def interrupted() -> int:
    """Say ``interrupted`` (what a Ctrl-C prints) and give its exit code. PyTorch's native
    code raises the interrupt itself, and Python's handler can then deliver the same Ctrl-C a
    second time: ``__main__`` ignores SIGINT from then on and leaves through ``os._exit``."""
    print("interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.command](args)
    except SpecErrors as exc:
        for error in exc.errors:
            print(error.render(), file=sys.stderr)
        return EXIT_SPEC
    except (WeightsError, OutputError, TooLarge) as exc:  # the user's file or path: theirs to fix
        print(f"error: {exc}", file=sys.stderr)
        if getattr(args, "verbose", False) and isinstance(exc, WeightsError):
            print("\n".join(exc.details), file=sys.stderr)
        return EXIT_SPEC
    except TranslatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
