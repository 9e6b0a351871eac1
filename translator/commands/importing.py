"""The ``import`` command: a framework's model → a spec (and its canonical weights).

``import_source`` tells the source's framework from its suffix (``SOURCES``: Keras, ONNX,
PyTorch's ``torch.export`` programs), has that backend's importer
(``backends.<fw>.importing.import_file``) read the model into an
``Imported`` (the spec as a mapping, the layers no importer claimed, and how to read the
weights once the spec is loaded). When a layer is unclaimed, it is listed (name, class,
parameter count, why), the claimed layers are written as a partial spec next to a report
(``translator.commands.partial``) and the command exits 1.
The spec is loaded back (``translator check``'s loader) before a byte is written; files are
written to a temporary name and then renamed, so a failure leaves nothing half-written.
A SOURCE ``package.module:factory`` is called, and the model it returns goes to the importer
of its framework (``import_object``; a PyTorch model traced on ``--input`` example shapes).

No framework is imported here: the backend loads lazily, numpy and yaml inside functions.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from translator.errors import InternalError, Location, SpecErrors, TranslatorError
from translator.ir import Graph
from translator.outputs import PARTIALS, fresh_file
from translator.spec.folding import fold
from translator.spec.schema import ACTIVATION, FROM_SPEC, SCHEMAS, Arg, Ints, Padding

if TYPE_CHECKING:
    from translator.commands.partial import Notes

# Source-file suffix → the framework whose importer reads it.
SOURCES: dict[str, str] = {".keras": "keras", ".h5": "keras", ".onnx": "onnx", ".pt2": "torch"}


# An imported spec is written channels_last (Keras's default); a layer that differs says so.
SPEC_DATA_FORMAT = "channels_last"
_HERE = Location("<imported model>")  # the schema's checks want a location; reasons are kept


class SourceError(TranslatorError, ValueError):
    """A source model the user gave that cannot be imported: a missing file, an unknown
    suffix, a file its framework refuses (Keras's safe mode: a Lambda layer). One line; the
    CLI exits 2. Template: ``{source}: {what}; {what is accepted}``."""


@dataclass(frozen=True)
class Unclaimed:
    """A layer (or operation) of the source model that no importer claimed; ``shape`` (batch
    aside) and ``dtype`` of its output where the importer knows them (a partial spec's
    stand-in input, see ``translator.commands.partial``)."""

    name: str
    cls: str
    params: int
    reason: str
    shape: tuple[int | None, ...] | None = None
    dtype: str = "float32"


@dataclass
class Imported:
    """What a backend importer read: the spec (a mapping ready for YAML), the layers it could
    not claim, and a function giving the weights ``{layer: {IR tensor name: array}}`` for the
    graph the spec loads into."""

    framework: str
    spec: dict[str, Any]
    unclaimed: list[Unclaimed] = field(default_factory=list)
    weights: Callable[[Graph], Any] | None = None


@dataclass
class ImportReport:
    """The outcome: which files were written, and which layers were not claimed (then the
    files are a partial spec and its report)."""

    source: str
    framework: str
    layers: int
    written: list[tuple[str, str]] = field(default_factory=list)
    unclaimed: list[Unclaimed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said after the files (a partial import)

    @property
    def ok(self) -> bool:
        return not self.unclaimed


def plain(value: Any) -> Any:
    """Tuples → lists, recursively (YAML and the schema take lists)."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _collapsed(arg: Arg, value: Any) -> Any:
    """``[3, 3]`` → ``3`` for a per-axis argument whose axes agree (readable specs)."""
    if isinstance(arg.kind, Ints | Padding) and isinstance(value, list) and value:
        flat = [value[0]] * len(value) == value
        if flat and (isinstance(value[0], int) or value[0][0] == value[0][1]):
            return value[0] if isinstance(value[0], int) else value[0][0]
    return value


def _is_default(type_: str, arg: Arg, value: Any) -> bool:
    """Whether ``value`` is the schema default, both read by the argument's own type (which
    raises ``SpecError`` for a value the schema does not accept)."""
    default = SPEC_DATA_FORMAT if arg.default is FROM_SPEC else arg.default
    if arg.required:  # never left out; still a value the schema must accept
        arg.kind.coerce(value, _HERE, type_, arg.name)
        return False
    if value is None and default is None:  # the kinds take no None; the loader keeps it
        return True
    ours = arg.kind.coerce(value, _HERE, type_, arg.name)
    theirs = default if default is None else arg.kind.coerce(default, _HERE, type_, arg.name)
    return bool(ours == theirs)


def spec_name(text: str, fallback: str, taken: set[str]) -> str:
    """A spec name from a source's name, then taken: other characters than letters, digits
    and ``_`` made ``_`` (``features.0`` → ``features_0``), ``layer_`` before a leading
    digit, ``fallback`` when nothing is left; numbered (``_1``, ``_2``) when taken."""
    base = re.sub(r"\W", "_", text).strip("_") or fallback
    base = base if not base[0].isdigit() else f"layer_{base}"
    name, count = base, 0
    while name in taken:
        count += 1
        name = f"{base}_{count}"
    taken.add(name)
    return name


def wrapper_args(type_: str, values: dict[str, Any]) -> dict[str, Any]:
    """``written_args`` of a wrapper (Bidirectional, TimeDistributed), its wrapped layer
    (``values["layer"]``, a spec layer already written) kept as it is."""
    found = written_args(type_, {k: v for k, v in values.items() if k != "layer"})
    return {**found, "layer": values["layer"]} if "layer" in values else found


def written_args(type_: str, values: dict[str, Any]) -> dict[str, Any]:
    """The schema's arguments of ``type_`` found in ``values`` (a framework's own names
    are the schema's), each kept only where it differs from the schema default; for every
    importer, whatever its framework."""
    found: dict[str, Any] = {}
    for arg in SCHEMAS[type_].args:
        if arg.name not in values:
            continue
        value = plain(values[arg.name])
        if arg.kind is ACTIVATION and value == "linear":
            value = None  # Keras's name for "no activation", the schema's null
        if not _is_default(type_, arg, value):
            found[arg.name] = _collapsed(arg, value)
    return found


def imported_weights(imported: Imported, graph: Graph, path: str, accepted: str) -> Any:
    """The weights in the model file ``path`` for ``graph``, a spec imported from it:
    ``imported`` is that file imported again (deterministically, so with the same layer
    names), and each layer's tensors are taken once the layers with weights are found the
    same in both; else a ``WeightsError`` naming the first layer that differs."""
    from translator.errors import WeightsError
    from translator.spec.loader import load_text

    framework = imported.framework
    spec = imported.spec
    if imported.unclaimed:  # a partial import: its weights fit the partial spec it writes
        from translator.commands.partial import complete

        spec = complete(spec, imported.unclaimed).spec
    try:
        again = load_text(spec_text(spec), path)
    except SpecErrors:  # the file imports to no valid spec (a damaged one): nothing fits
        again = None
    layers = {} if again is None else {n.name: n.weights.get(framework) for n in again.nodes}
    for node in graph.nodes:
        if node.weights.get(framework) and layers.get(node.name) != node.weights.get(framework):
            raise WeightsError(
                path,
                f"layer '{node.name}' is not in the spec this file imports to; accepted: a"
                f" spec imported from it (translator import), or {accepted}",
            )
    return imported.weights(again) if imported.weights and again else {}


def source_framework(source: str | Path) -> str:
    """The framework that reads ``source``, from its suffix; the file must exist."""
    path = Path(source)
    framework = SOURCES.get(path.suffix.lower())
    if framework is None:
        accepted = ", ".join(f"{suffix} ({fw})" for suffix, fw in sorted(SOURCES.items()))
        raise SourceError(f"{source}: cannot import this file type; accepted: {accepted}")
    if not path.is_file():
        raise SourceError(f"{source}: no such file; give a saved model ({', '.join(SOURCES)})")
    return framework


# ``package.module:factory``: a Python callable returning a model, as SOURCE.
CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# A class (or a base of it) from this module prefix → the framework that imports its models.
MODEL_CLASSES: tuple[tuple[str, str], ...] = (("torch.nn", "torch"), ("keras", "keras"))
INPUT_DTYPES = ("float32", "int32", "int64")


@dataclass(frozen=True)
class ExampleInput:
    """``--input NAME=SHAPE[:DTYPE]``: an example input for tracing a callable's model (the
    whole shape, batch first)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


def read_source(source: str | Path, inputs: list[ExampleInput] | None = None) -> Imported:
    """The backend importer's reading of ``source`` (importing the framework): a saved
    model's file, or ``package.module:factory``."""
    import backends

    if CALLABLE.match(str(source)) and not Path(source).exists():
        return read_callable(str(source), inputs or [])
    framework = source_framework(source)
    backends.load(framework)
    return importlib.import_module(f"backends.{framework}.importing").import_file(source)


def _model_framework(source: str, model: Any) -> str:
    """The framework whose importer takes ``model``, from its classes' modules."""
    for cls in type(model).__mro__:
        for prefix, framework in MODEL_CLASSES:
            if cls.__module__ == prefix or cls.__module__.startswith(f"{prefix}."):
                return framework
    raise SourceError(
        f"{source}: the factory returned a {type(model).__name__}; accepted: a Keras model or"
        " a torch.nn.Module"
    )


def read_callable(source: str, inputs: list[ExampleInput]) -> Imported:
    """Call ``package.module:factory`` and import the model it returns (a PyTorch module is
    traced by ``torch.export`` on zeros of the ``--input`` shapes)."""
    import backends

    module_name, _, factory_name = source.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
        model = factory()
    except Exception as exc:  # the user's code: any error is theirs, said in one line
        said = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise SourceError(
            f"{source}: cannot make the model ({type(exc).__name__}: {said}); accepted:"
            " package.module:factory, a function of no arguments returning a model"
        ) from None
    framework = _model_framework(source, model)
    backends.load(framework)
    reader = importlib.import_module(f"backends.{framework}.importing").import_object
    return reader(model, inputs, source)


def spec_text(spec: dict[str, Any], notes: Notes | None = None) -> str:
    """The spec as YAML: top-level keys in block style, each input and layer on one line;
    ``notes`` (a partial import's) as comments at the top, before inputs and layers by name,
    and after the last layer."""
    import yaml

    def one_line(value: Any) -> str:
        dumped = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6)
        return str(dumped).strip().removesuffix("...").strip()  # a scalar's document end

    def items(values: list[Any], indent: str) -> list[str]:
        before = notes.before if notes else {}
        found = []
        for item in values:
            found += [f"{indent}{line}" for line in before.get(str(item.get("name")), [])]
            found.append(f"{indent}- {one_line(item)}")
        return found

    lines = [*(notes.header if notes else []), f"name: {spec['name']}"]
    for key in ("description", "data_format"):
        if key in spec:
            lines.append(f"{key}: {one_line(spec[key])}")
    if spec.get("blocks"):
        lines.append("blocks:")
        for name, block in spec["blocks"].items():
            lines.append(f"  {name}:")
            if "inputs" in block:
                lines.append(f"    inputs: {one_line(block['inputs'])}")
            lines.append("    layers:")
            lines += [f"      - {one_line(layer)}" for layer in block["layers"]]
    for key in ("inputs", "layers"):
        lines.append(f"{key}:")
        lines += items(spec[key], "  ")
    lines += [f"  {line}" for line in (notes.after_layers if notes else [])]
    if "outputs" in spec:
        lines.append(f"outputs: {one_line(spec['outputs'])}")
    if spec.get("checkpoint"):  # the model's own keys, where not "<layer>.<tensor>"
        lines.append("checkpoint:")
        lines += [f"  {key}: {one_line(where)}" for key, where in spec["checkpoint"].items()]
    return "\n".join(lines) + "\n"


def _graph(text: str, out: Path) -> Graph:
    """The spec loaded back; a spec the loader refuses is the importer's bug."""
    from translator.spec.loader import load_text

    try:
        return load_text(text, str(out))
    except SpecErrors as exc:
        raise InternalError(f"the imported spec does not load: {exc.errors[0].render()}") from exc


def _loader(out: str) -> Callable[[dict[str, Any]], Graph]:
    """Spec → its graph, as ``out`` (for ``fold``, which keeps what loads the same)."""
    from translator.spec.loader import load_text

    return lambda spec: load_text(spec_text(spec), out)


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(temporary path)`` beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = fresh_file(path)  # the umask's permissions; a Ctrl-C removes it (translator.__main__)
    try:
        write(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    finally:
        PARTIALS.discard(Path(temp))


def _canonical(imported: Imported, graph: Graph) -> dict[str, Any]:
    from translator.weights.canonical import to_canonical

    if imported.weights is None:
        raise InternalError(f"the {imported.framework} importer gave no weights reader")
    return to_canonical(graph, imported.framework, imported.weights(graph))


def import_source(
    source: str,
    out: str,
    weights_out: str | None = None,
    inputs: list[ExampleInput] | None = None,
) -> ImportReport:
    """Import ``source`` into the spec ``out`` (and ``weights_out``, canonical ``.npz``);
    ``inputs`` are a callable's example inputs."""
    from translator.weights.files import save_canonical

    imported = read_source(source, inputs)
    report = ImportReport(source, imported.framework, len(imported.spec.get("layers", [])))
    if imported.unclaimed:
        from translator.commands.partial import write_partial

        report.unclaimed = imported.unclaimed
        return write_partial(imported, report, out, weights_out)
    spec, graph = fold(imported.spec, _graph(spec_text(imported.spec), Path(out)), _loader(out))
    text = spec_text(spec)
    canonical = _canonical(imported, graph) if weights_out else {}
    _write_atomically(Path(out), lambda temp: temp.write_text(text, encoding="utf-8"))
    report.written.append((out, f"spec '{graph.name}', {len(graph.layers)} layers"))
    if weights_out:
        _write_atomically(Path(weights_out), lambda temp: save_canonical(temp, canonical))
        report.written.append((weights_out, 'canonical weights, keys "<layer>/<role>"'))
    return report


def render_text(report: ImportReport) -> str:
    """The report for a terminal: the files written, and every unclaimed layer."""
    if report.ok:
        lines = [f"{report.source}: imported from {report.framework}"]
        lines += [f"  wrote {path}  {what}" for path, what in report.written]
        return "\n".join(lines)
    lines = [
        (
            f"{report.source}: partly imported: {len(report.unclaimed)} layer(s) no importer"
            " claims (a partial spec and a report written)"
        )
    ]
    width = max(len(u.name) for u in report.unclaimed)
    cls = max(len(u.cls) for u in report.unclaimed)
    lines += [
        f"  {u.name:<{width}}  {u.cls:<{cls}}  {u.params:>10,} params  {' '.join(u.reason.split())}"
        for u in report.unclaimed
    ]
    total = sum(u.params for u in report.unclaimed)
    lines.append(f"  {total:,} parameters in unclaimed layers")
    lines += [f"  wrote {path}  {what}" for path, what in report.written]
    lines += [f"  {note}" for note in report.notes]
    return "\n".join(lines)
