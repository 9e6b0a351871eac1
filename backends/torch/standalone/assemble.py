"""Assembling a standalone ``model.py`` from the runtime modules beside this one.

The runtime modules (``RUNTIME``) are read as source, never imported here: each top-level
definition is kept with the comment lines just above it, and with the names it uses.
``assemble`` copies, in source order, the definitions a generated network reaches by name
(transitively) and only the imports those copies use, so the file is as short as the model
allows and every line in it is code that tests run. This module itself is not copied.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# Copied in this order, so each definition comes after the ones it builds on.
MODULES = ("layers", "spatial", "resampling", "normalization", "attention", "recurrent")
RUNTIME = tuple(HERE / f"{name}.py" for name in MODULES)
INTERNAL = "backends."  # the runtime modules' imports of each other: one namespace once copied
STDLIB = ("__future__", "math", "typing")  # all a generated file may import besides torch
LINE = 100


@dataclass(frozen=True)
class Call:
    """A constructor call: the runtime callable ``name`` (a class of the runtime, a factory
    such as ``make_activation``, or torch's own as ``nn.X``) and its argument values, each a
    plain value or a nested ``Call``. It describes a layer's module once: ``export`` writes it
    as source, laid out as the formatter lays it out, and the PyTorch backend instantiates it
    (``backends.torch.standalone.describe.instantiate``)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()  # (name, value) in the order written

    @property
    def parts(self) -> tuple[tuple[str, str | Call], ...]:
        """Each argument as ``(prefix, source)``: ``("units=", "10")``, ``("", Call(...))``."""
        positional = [("", _literal(a)) for a in self.args]
        return tuple(positional + [(f"{k}=", _literal(v)) for k, v in self.kwargs])

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k}{v}' for k, v in self.parts)})"

    def lines(self, head: str, indent: str) -> list[str]:
        """``head`` then the call, as lines starting with ``indent``: on one line when it
        fits, else one argument per line (a nested call laid out the same way)."""
        one = f"{indent}{head}{self}"
        if len(one) <= LINE:
            return [one]
        inner = indent + "    "
        out = [f"{indent}{head}{self.name}("]
        for prefix, value in self.parts:
            if isinstance(value, Call):
                out += value.lines(prefix, inner)
                out[-1] += ","
            else:
                out.append(f"{inner}{prefix}{value},")
        return [*out, f"{indent})"]


@dataclass(frozen=True)
class Steps:
    """A layer computed by a few modules in a row, as a PyTorch author writes it: ``main``
    holds the layer's tensors (under the layer's name); ``before`` (explicit padding) and
    ``after`` (the activation) are parameterless modules, each ``(attribute suffix, call)``:
    ``conv_pad = nn.ZeroPad2d(...)``, ``conv = nn.Conv2d(...)``, ``conv_relu = nn.ReLU()``."""

    main: Call
    before: tuple[tuple[str, Call], ...] = ()
    after: tuple[tuple[str, Call], ...] = ()
    # An operator ``model.py`` writes between the inputs instead of a module (``" + "``: a
    # residual add reads ``x + y``); the backend still builds ``main`` to measure it.
    infix: str = ""
    # A torch function ``model.py`` calls on the list of the inputs instead of a module,
    # with its keyword arguments (``call("torch.cat", dim=1)``: a concatenation reads
    # ``torch.cat([x, y], dim=1)``); the backend still builds ``main`` to measure it.
    function: Call | None = None
    # What the layer keeps of the main module's result (``TAKES``): a native recurrent
    # module's output sequence (``lstm(x)[0]``), or its last step (``lstm(x)[0][:, -1]``).
    take: str = ""
    # How the main module is called on the layer's inputs (``FEEDS``), when not on them as
    # they come: ``nn.MultiheadAttention`` takes (query, key, value) where Keras's layer
    # takes [query, value, key], and is told not to compute the attention weights; a
    # recurrent layer going backwards reads its sequence reversed in time.
    feed: str = ""


# ``Steps.take`` → the subscript model.py writes after the main module's call.
TAKES = {"": "", "sequence": "[0]", "last": "[0][:, -1]", "output": "[0]"}
# ``Steps.feed`` → the arguments model.py writes for the main module, from the layer's
# inputs: {first}, or in Keras's attention roles {query}, {key}, {value} (a missing value is
# the query, a missing key the value). ``backends.torch.standalone.describe.fed`` calls the
# same.
FEEDS = {
    "": (),
    "backwards": ("{first}.flip(1)",),
    "attention": ("{query}", "{key}", "{value}", "need_weights=False"),
    "causal attention": (
        "{query}",
        "{key}",
        "{value}",
        "need_weights=False",
        "attn_mask=causal_mask({query}, {key})",
    ),
}


def fed_arguments(feed: str, inputs: list[str]) -> list[str]:
    """The argument expressions of a main module called with ``FEEDS[feed]`` on the layer's
    input expressions (as given when ``feed`` is empty)."""
    if not feed:
        return inputs
    query = inputs[0]
    value = inputs[1] if len(inputs) > 1 else query
    key = inputs[2] if len(inputs) > 2 else value
    roles = {"first": query, "query": query, "key": key, "value": value}
    return [part.format(**roles) for part in FEEDS[feed]]


Description = Call | Steps


def as_steps(description: Description) -> Steps:
    """Any description as ``Steps`` (a single call: no steps around it)."""
    return description if isinstance(description, Steps) else Steps(description)


def steps(main: Call, before: Any = (), after: Any = ()) -> Description:
    """``main`` with the ``(suffix, call)`` steps around it; a plain ``Call`` when none."""
    return Steps(main, tuple(before), tuple(after)) if before or after else main


def call(name: str, *args: Any, **kwargs: Any) -> Call:
    """``name(args..., key=value...)``; written out, every value is a Python literal."""
    return Call(name, args, tuple(kwargs.items()))


def _literal(value: Any) -> str | Call:
    """Python source for ``value``; strings in double quotes, as the formatter writes them."""
    if isinstance(value, Call):
        return value
    if isinstance(value, str) and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return repr(value)


@dataclass(frozen=True)
class Definition:
    """One top-level statement of a runtime module that binds ``name``."""

    name: str
    source: str
    uses: frozenset[str]


@dataclass(frozen=True)
class Binding:
    """One name an import binds: ``import module [as name]`` or ``from module import what
    [as name]``."""

    name: str
    module: str
    what: str | None = None

    def statement(self) -> str:
        if self.what is None:
            plain = self.name == self.module
            return f"import {self.module}" if plain else f"import {self.module} as {self.name}"
        alias = "" if self.name == self.what else f" as {self.name}"
        return f"from {self.module} import {self.what}{alias}"


def names_in(tree: ast.AST) -> frozenset[str]:
    """Every plain name read or written anywhere in ``tree``."""
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


def _bindings(stmt: ast.Import | ast.ImportFrom) -> list[Binding]:
    if isinstance(stmt, ast.Import):
        return [Binding(a.asname or a.name, a.name) for a in stmt.names]
    module = stmt.module or ""
    if module.startswith(INTERNAL):
        return []
    return [Binding(a.asname or a.name, module, a.name) for a in stmt.names]


def _bound_name(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
        return stmt.name
    target = stmt.targets[0] if isinstance(stmt, ast.Assign) else getattr(stmt, "target", None)
    return target.id if isinstance(target, ast.Name) else None


def _with_comments(lines: list[str], stmt: ast.stmt) -> str:
    """The statement's source, decorators and the comment lines right above it included."""
    decorators = getattr(stmt, "decorator_list", [])
    start = min([stmt.lineno, *(d.lineno for d in decorators)]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return "\n".join(lines[start : stmt.end_lineno])


@cache
def runtime() -> tuple[tuple[Definition, ...], tuple[Binding, ...]]:
    """Every definition and import binding of the runtime modules, in source order."""
    definitions: list[Definition] = []
    bindings: list[Binding] = []
    for path in RUNTIME:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for stmt in ast.parse(text).body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                bindings += [b for b in _bindings(stmt) if b not in bindings]
            elif (name := _bound_name(stmt)) is not None:
                definitions.append(Definition(name, _with_comments(lines, stmt), names_in(stmt)))
    return tuple(definitions), tuple(bindings)


def runtime_names() -> frozenset[str]:
    """The names the runtime defines, which generated names must not shadow."""
    return frozenset(d.name for d in runtime()[0])


def _reached(roots: frozenset[str], definitions: dict[str, Definition]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in definitions]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [u for u in definitions[name].uses if u in definitions]
    return seen


def _import_block(bindings: list[Binding]) -> str:
    """isort's order: standard library, then torch; plain imports before ``from`` imports."""
    sections = []
    for is_stdlib in (True, False):
        chosen = [b for b in bindings if (b.module.split(".")[0] in STDLIB) == is_stdlib]
        plain = sorted(b.statement() for b in chosen if b.what is None)
        grouped: dict[str, list[str]] = {}
        for b in chosen:
            if b.what is not None:
                grouped.setdefault(b.module, []).append(b.statement().split(" import ", 1)[1])
        froms = [f"from {m} import {', '.join(sorted(w))}" for m, w in sorted(grouped.items())]
        if plain or froms:
            sections.append("\n".join(plain + froms))
    return "\n\n".join(sections)


def own_classes(network: str) -> list[tuple[str, str]]:
    """The runtime classes ``network`` reaches (what ``model.py`` copies), each with the
    first sentence of its docstring: what it computes that no ``torch.nn`` module does."""
    definitions = runtime()[0]
    by_name = {d.name: d for d in definitions}
    kept = _reached(names_in(ast.parse(network)), by_name)
    out = []
    for d in definitions:
        tree = ast.parse(d.source).body[0]
        if d.name in kept and isinstance(tree, ast.ClassDef):
            text = " ".join((ast.get_docstring(tree) or "").split())
            out.append((d.name, text.split(". ")[0].rstrip(".")))
    return out


def assemble(docstring: str, network: str) -> str:
    """A whole ``model.py``: ``docstring``, the imports, the runtime definitions that
    ``network`` (generated source) reaches, then ``network``."""
    definitions, bindings = runtime()
    by_name = {d.name: d for d in definitions}
    kept = _reached(names_in(ast.parse(network)), by_name)
    copied = [d for d in definitions if d.name in kept]
    used = names_in(ast.parse(network)).union(*(d.uses for d in copied))
    imports = [b for b in bindings if b.name in used]
    body = "\n\n\n".join([*(d.source for d in copied), network.strip("\n")])
    # isort's spacing: two blank lines before a def or class, one before anything else.
    gap = "\n\n\n" if body.startswith(("def ", "class ", "@")) else "\n\n"
    future = "from __future__ import annotations"
    return f'"""{docstring}"""\n\n{future}\n\n{_import_block(imports)}{gap}{body}\n'
