"""The command line's arguments: the parser of every command, each option validated by its
``type=`` function, and argparse's errors as one line (``error: argument --atol: ...``)
without a usage block. ``translator.cli`` runs what it parses."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from translator.errors import suggestion
from translator.ir import FRAMEWORKS

if TYPE_CHECKING:
    from translator.commands.importing import ExampleInput

EXIT_USAGE = 2  # a mistaken argument: the exit code of every user mistake
SEED_LIMIT = 2**32  # numpy's and the frameworks' seeds are 32-bit unsigned


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage mistakes are one line ``error: ...`` on stderr, exit 2, with no
    usage block (``--help`` shows it); subcommand parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.exit(EXIT_USAGE, f"error: {line}\n")


def _number(text: str, kind: Callable[[str], float]) -> float | None:
    try:
        return kind(text)
    except ValueError:
        return None


def _tolerance(text: str) -> float:
    value = _number(text, float)
    if value is None or not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; a finite number >= 0, like 1e-5")
    return value


def _max_memory(text: str) -> int:
    from translator.ir.memory import parse_size

    value = parse_size(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; a size like 8G, 512M or 64K")
    return value


def _add_verbose(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--verbose",
        action="store_true",
        help="when --weights does not fit, list every missing and every unused key",
    )
    command.add_argument(
        "--map",
        metavar="FILE",
        help="renames of the --weights file's keys: a YAML mapping old: new (a key ending"
        " in '.' renames a prefix); state dicts and .safetensors",
    )


def _add_max_memory(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--max-memory",
        type=_max_memory,
        metavar="SIZE",
        help="memory the command may use, like 8G or 512M (default: MemAvailable)",
    )


def _seed(text: str) -> int:
    value = _number(text, int)
    if value is None or not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}; an integer from 0 to {SEED_LIMIT - 1}"
        )
    return int(value)


def _depth(text: str) -> int:
    value = _number(text, int)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; an integer >= 0")
    return int(value)


def _frameworks(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for name in names:
        if name not in FRAMEWORKS:
            raise argparse.ArgumentTypeError(
                f"unknown framework {name!r}; {suggestion(name, FRAMEWORKS, 'frameworks')}"
            )
    if not names:
        raise argparse.ArgumentTypeError("name at least one framework")
    return names


MATERIALIZE_HELP = (
    "full: build whole models; distinct: build each distinct layer once and count it for every"
    " layer alike (default: full while the float32 weights of the frameworks compared take"
    " under 25%% of the memory available and whole models fit in --max-memory, else distinct)"
)


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per command, each with its options."""
    top = OneLineParser(prog="translator", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    fw_help = "comma-separated: keras,torch,onnx (default: all)"

    compare = sub.add_parser(
        "compare", help="build every spec in each framework and reconcile the counts"
    )
    compare.add_argument("specs", nargs="+", metavar="SPEC")
    compare.add_argument("--format", choices=("table", "json", "markdown", "html"), default="table")
    compare.add_argument(
        "--out", metavar="DIR", help="with --format html: write DIR/<spec>.html per spec"
    )
    compare.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw the per-layer chart to FILE (.png, .svg, .pdf)",
    )
    compare.add_argument("--frameworks", type=_frameworks, default=FRAMEWORKS, help=fw_help)
    compare.add_argument("--seed", type=_seed, default=0, help="seed of weights and inputs")
    compare.add_argument("--materialize", choices=("distinct", "full"), help=MATERIALIZE_HELP)
    compare.add_argument(
        "--depth",
        type=_depth,
        default=None,
        help="sum layers inside blocks nested deeper than this (default: flat)",
    )
    _add_max_memory(compare)

    count = sub.add_parser(
        "count", help="the same comparison predicted from the IR alone (no framework)"
    )
    count.add_argument("specs", nargs="+", metavar="SPEC")
    count.add_argument("--format", choices=("json", "table", "markdown"), default="json")
    count.add_argument("--frameworks", type=_frameworks, default=FRAMEWORKS, help=fw_help)
    count.add_argument(
        "--depth",
        type=_depth,
        default=None,
        help="sum layers inside blocks nested deeper than this (default: flat)",
    )

    explain = sub.add_parser(
        "explain", help="each layer's tensors per framework, formula and correspondence"
    )
    explain.add_argument("spec", metavar="SPEC")
    explain.add_argument("--layer", help="only this layer")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.add_argument("--frameworks", type=_frameworks, default=FRAMEWORKS, help=fw_help)

    _add_port(sub)
    _add_export(sub)
    _add_import(sub)
    _add_audit(sub)

    check = sub.add_parser(
        "check", help="validate specs only (exit 0, or 2 with one line per problem)"
    )
    check.add_argument("specs", nargs="+", metavar="SPEC")

    sub.add_parser(
        "schema", help="print the JSON Schema of specs (generated from the layer registry)"
    )
    docs = sub.add_parser(
        "docs", help="regenerate spec.schema.json and docs/ from the layer registry"
    )
    docs.add_argument("--root", default=".", help="the repository root")
    return top


def _framework(text: str) -> str:
    names = _frameworks(text)
    if len(names) != 1:
        raise argparse.ArgumentTypeError("name one framework: keras, torch or onnx")
    return names[0]


def _add_port(sub: argparse._SubParsersAction) -> None:
    port = sub.add_parser(
        "port",
        help="carry a model's weights into the other frameworks and check the outputs agree",
    )
    port.add_argument("specs", nargs="+", metavar="SPEC")
    port.add_argument("--from", dest="source", type=_framework, required=True)
    port.add_argument(
        "--to", type=_frameworks, help="comma-separated targets (default: the other two)"
    )
    port.add_argument(
        "--weights",
        metavar="FILE",
        help="source weights: .keras, .weights.h5, a state_dict .pt, .onnx or canonical .npz",
    )
    port.add_argument("--atol", type=_tolerance, default=1e-5, help="absolute tolerance")
    port.add_argument("--rtol", type=_tolerance, default=1e-5, help="relative tolerance (of |ref|)")
    port.add_argument("--format", choices=("table", "json"), default="table")
    port.add_argument("--seed", type=_seed, default=0, help="seed of random weights and inputs")
    _add_verbose(port)
    _add_max_memory(port)


def _add_export(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser(
        "export",
        help="write model.keras, model.onnx, model.pt + model.py and weights.npz, same weights",
    )
    export.add_argument("spec", metavar="SPEC")
    export.add_argument(
        "--out", metavar="DIR", required=True, help="the directory to write (new, or empty)"
    )
    export.add_argument(
        "--force",
        action="store_true",
        help="in an existing --out, replace the files export writes; the others stay",
    )
    export.add_argument(
        "--weights",
        metavar="FILE",
        help="weights: .keras, .weights.h5, a state_dict .pt, .onnx or canonical .npz"
        " (default: random)",
    )
    export.add_argument("--atol", type=_tolerance, default=1e-5, help="absolute tolerance")
    export.add_argument(
        "--rtol", type=_tolerance, default=1e-5, help="relative tolerance (of |ref|)"
    )
    export.add_argument("--format", choices=("table", "json"), default="table")
    export.add_argument("--seed", type=_seed, default=0, help="seed of random weights and inputs")
    _add_verbose(export)
    _add_max_memory(export)


def _example_input(text: str) -> ExampleInput:
    """``NAME=SHAPE[:DTYPE]``, the shape batch first: ``x=2,3,32,32`` or ``ids=2,7:int64``."""
    from translator.commands.importing import INPUT_DTYPES, ExampleInput

    name, _, rest = text.partition("=")
    shape_text, _, dtype = rest.partition(":")
    sizes = [_number(part, int) for part in shape_text.replace("x", ",").split(",")]
    if not name or not sizes or any(s is None or s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}; NAME=SHAPE[:DTYPE], the shape batch first, like x=2,3,32,32"
        )
    if dtype and dtype not in INPUT_DTYPES:
        raise argparse.ArgumentTypeError(
            f"invalid dtype {dtype!r} in {text!r}; accepted: {', '.join(INPUT_DTYPES)}"
        )
    return ExampleInput(name, tuple(int(s) for s in sizes if s is not None), dtype or "float32")


def _add_import(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser(
        "import",
        help="read a model (.keras, .h5, .onnx, .pt2, or package.module:factory) into a spec"
        " and its canonical weights",
        description="Read a model into a spec (and its canonical weights). Exit 0: all of it"
        " imported. Exit 1: some layers no importer claims; they are listed (name, op,"
        " parameters, why) and the rest is written as a partial spec, with a stand-in input"
        " where a kept layer reads an unclaimed one and a '# TODO' comment where each"
        " unclaimed layer belongs, next to SPEC.import-report.md (the same list); the claimed"
        " layers' weights are written when the partial spec loads. Exit 2: a source that"
        " cannot be read or is unsafe; nothing written.",
    )
    imp.add_argument(
        "source",
        metavar="SOURCE",
        help="a saved model: .keras or .h5 (Keras), .onnx, .pt2 (torch.export.save); or"
        " package.module:factory, a function returning a Keras model or a torch.nn.Module",
    )
    imp.add_argument(
        "--out",
        metavar="SPEC.yaml",
        required=True,
        help="the spec to write (a partial one, and SPEC.import-report.md, when layers are"
        " unclaimed)",
    )
    imp.add_argument("--weights-out", metavar="W.npz", help="also write the canonical weights")
    imp.add_argument(
        "--input",
        metavar="NAME=SHAPE[:DTYPE]",
        type=_example_input,
        action="append",
        default=[],
        help="an example input of a factory's PyTorch model, batch first (x=2,3,32,32;"
        " ids=2,7:int64), once per forward argument, in order",
    )


def _add_audit(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser(
        "audit",
        help="reconcile a model file from any exporter against the spec, layer by layer",
    )
    audit.add_argument("spec", metavar="SPEC")
    audit.add_argument(
        "file",
        metavar="FILE",
        help=".onnx (any exporter), .keras, .h5, a state_dict .pt, .safetensors or a .pt2",
    )
    audit.add_argument("--format", choices=("table", "json"), default="table")
