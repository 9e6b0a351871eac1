"""The generated part of an exported ``model.py``: the network class and ``load``.

``model_source`` writes a class named after the spec whose ``__init__`` creates one module
per layer (the constructor call ``emit`` gives, see ``backends.torch.export``) and whose
``forward`` wires them in the graph's order, turning PyTorch's natural layout of images
into the spec's at the inputs and back at the outputs (``translator.commands.export``); then hands
it to ``assemble`` with the module docstring. Layer names are kept: they are the
state_dict's keys. A name Python or ``nn.Module`` reserves is reached through ``_modules``.
A shared layer (``{share: enc}``) has no module of its own: ``forward`` calls the original's
again. A Dense tied to an Embedding is handed the Embedding's ``weight`` at every call, so
the matrix is one parameter, under the Embedding.
"""

from __future__ import annotations

import keyword
import textwrap
from collections.abc import Callable
from pathlib import Path

from torch import nn

from backends.torch.standalone.assemble import (
    TAKES,
    Call,
    Description,
    Steps,
    as_steps,
    assemble,
    fed_arguments,
    own_classes,
    runtime_names,
)
from translator.ir import Graph, Node
from translator.ir.layout import fresh_name, spatial_rank, tensor_layouts
from translator.ir.placement import output_converts

Emit = Callable[[Node], Description]
_PROBE = nn.Module()  # its attributes (forward, training, eval, ...) cannot be layer names
GLOBALS = frozenset({"torch", "nn", "F", "math", "Any", "NamedTuple", "load", "annotations"})


def class_name(graph: Graph) -> str:
    """The spec's name in CamelCase (``seed_lstm`` → ``SeedLstm``), unless that is taken."""
    name = "".join(part[:1].upper() + part[1:] for part in graph.name.split("_") if part)
    taken = name in runtime_names() | GLOBALS or keyword.iskeyword(name) or not name
    return f"{name}Model" if taken else name


def _variables(graph: Graph) -> dict[str, str]:
    """Per node, its Python variable in ``forward``: the node's name unless that is a
    keyword or ``self``; then with ``_`` appended (until no other node has that name)."""
    names = {n.name for n in graph.nodes}
    out = {}
    for name in names:
        variable = name
        while keyword.iskeyword(variable) or variable == "self" or variable in names - {name}:
            variable += "_"
        out[name] = variable
    return out


def attribute(name: str) -> str:
    """How the network refers to a layer's module: ``self.<name>``, or through ``_modules``
    when the name is a keyword or an ``nn.Module`` attribute (``eval``, ``training``)."""
    if keyword.iskeyword(name) or hasattr(_PROBE, name):
        return f'self._modules["{name}"]'
    return f"self.{name}"


def _reference(graph: Graph, variables: dict[str, str], name: str) -> str:
    multiple = len(graph.node(name).output_shapes) > 1
    return f"*{variables[name]}" if multiple else variables[name]


def _laid_out(indent: str, opening: str, items: list[str], closing: str) -> list[str]:
    """``opening`` + the items + ``closing`` on one line when it fits in 100 columns, else
    one item per line with a trailing comma, which the formatter keeps as it is."""
    line = f"{indent}{opening}{', '.join(items)}{closing}"
    if len(line) <= 100:
        return [line]
    return [f"{indent}{opening}", *(f"{indent}    {item}," for item in items), indent + closing]


def _moved(expression: str, axes: tuple[int, ...] | None) -> str:
    return expression if axes is None else f"{expression}.permute{axes}"


def _call(graph: Graph, node: Node, variables: dict[str, str], emit: Emit) -> list[str]:
    """The forward lines of ``node``: its module (a share node's: the original's) on its
    inputs (each permuted where the layout pass converts it), then the weight of every layer
    it is linked to (a tied Dense's Embedding); its padding and activation steps around it,
    nested on one line when that fits, else one statement each; one argument per line when
    a call does not fit on one, as the formatter lays it out."""
    owner = graph.node(node.shares) if node.shares else node
    args = _arguments(graph, node, variables)
    around = as_steps(emit(owner))
    target = variables[node.name]
    if around.infix:  # a residual add: ``x + y``
        return _operation(target, around.infix.strip(), args)
    if around.function is not None:  # a concatenation: ``torch.cat([x, y], dim=1)``
        return _function(target, around.function, args)
    befores = [attribute(step_name(graph, owner.name, k)) for k, _ in around.before]
    afters = [attribute(step_name(graph, owner.name, k)) for k, _ in around.after]
    args += [f"{attribute(t.shares or t.name)}.weight" for t in owner.links.values()]
    nested = args[0]
    for step in reversed(befores):
        nested = f"{step}({nested})"
    take = TAKES[around.take]
    called = fed_arguments(around.feed, [nested, *args[1:]])
    line = f"{attribute(owner.name)}({', '.join(called)}){take}"
    for step in afters:
        line = f"{step}({line})"
    if len(f"        {target} = {line}") <= 100:
        return [f"        {target} = {line}"]
    lines: list[str] = []
    first = args[0]
    for step in reversed(befores):
        lines += _laid_out(" " * 8, f"{target} = {step}(", [first], ")")
        first = target
    called = fed_arguments(around.feed, [first, *args[1:]])
    lines += _laid_out(" " * 8, f"{target} = {attribute(owner.name)}(", called, f"){take}")
    for step in afters:
        lines += _laid_out(" " * 8, f"{target} = {step}(", [target], ")")
    return lines


def _operation(target: str, operator: str, args: list[str]) -> list[str]:
    """``target = a + b`` on one line when it fits, else one operand per line inside
    parentheses, as the formatter lays it out."""
    line = f"        {target} = {f' {operator} '.join(args)}"
    if len(line) <= 100:
        return [line]
    operands = [f"            {args[0]}", *(f"            {operator} {a}" for a in args[1:])]
    return [f"        {target} = (", *operands, "        )"]


def _function(target: str, function: Call, args: list[str]) -> list[str]:
    """``target = torch.cat([a, b], dim=1)`` on one line when it fits, else one argument
    per line (the list too, one input per line, when it does not fit on one), each with
    the trailing comma the formatter keeps."""
    keywords = [f"{k}{v}" for k, v in function.parts]
    line = f"        {target} = {function.name}([{', '.join(args)}], {', '.join(keywords)})"
    if len(line) <= 100:
        return [line]
    listed = _laid_out(" " * 12, "[", args, "],")
    return [
        f"        {target} = {function.name}(",
        *listed,
        *(f"{' ' * 12}{k}," for k in keywords),
        "        )",
    ]


def _arguments(graph: Graph, node: Node, variables: dict[str, str]) -> list[str]:
    """The node's input expressions, each permuted where the layout pass converts it (the
    several outputs of one layer handed on as ``*name`` when none moves)."""
    converts = iter(node.placement.converts)
    args = []
    for ref in node.inputs:
        count = len(graph.node(ref).output_shapes)
        moves = [next(converts) for _ in range(count)]
        if count > 1 and all(m is None for m in moves):
            args.append(_reference(graph, variables, ref))
        elif count > 1:
            args += [_moved(f"{variables[ref]}[{i}]", m) for i, m in enumerate(moves)]
        else:
            args.append(_moved(variables[ref], moves[0]))
    return args


def step_name(graph: Graph, layer: str, suffix: str) -> str:
    """The attribute of a step around layer ``layer`` (``conv_relu``, ``conv_pad``), with
    ``_`` appended while a layer of the spec has that name."""
    return fresh_name(graph, f"{layer}_{suffix}")


def _forward(graph: Graph, variables: dict[str, str], emit: Emit) -> list[str]:
    params = ["self", *(f"{variables[n]}: torch.Tensor" for n in graph.inputs)]
    layouts = tensor_layouts(graph)
    returned = [
        (variables[t.name] + (f"[{t.index}]" if t.many else ""), t) for t in layouts.outputs
    ]
    many = len(returned) > 1
    # One element per output: TorchScript reads the annotation and refuses ``...``.
    result = f"tuple[{', '.join(['torch.Tensor'] * len(returned))}]" if many else "torch.Tensor"
    ins = "; ".join(f"{variables[t.name]} {t.describe()}" for t in layouts.inputs)
    outs = "; ".join(f"{t.name} {t.describe()}" for _, t in returned)
    doc = f"Inputs: {ins}. Returns {'a tuple: ' if many else ''}{outs}."
    doc = textwrap.fill(doc, 86, subsequent_indent=" " * 8)
    lines = _laid_out("    ", "def forward(", params, f") -> {result}:")
    lines.append(f'        """{doc}"""')
    for node in graph.layers:
        lines += _call(graph, node, variables, emit)
    converts = output_converts(graph)
    exprs = [_moved(e, axes) for (e, _), axes in zip(returned, converts, strict=True)]
    if len(exprs) == 1 or len(f"        return {', '.join(exprs)}") <= 100:
        return [*lines, f"        return {', '.join(exprs)}"]
    return lines + _laid_out(" " * 8, "return (", exprs, ")")


def _modules(graph: Graph, node: Node, around: Steps) -> list[str]:
    """The ``__init__`` lines creating a layer's modules: its steps before, its own, after."""
    named = [(step_name(graph, node.name, k), c) for k, c in around.before]
    written = around.infix or around.function  # in forward, not a module
    named += [] if written else [(node.name, around.main)]
    named += [(step_name(graph, node.name, k), c) for k, c in around.after]
    lines = [line for name, c in named for line in c.lines(f"{attribute(name)} = ", " " * 8)]
    if node.frozen_params("torch") and not written:  # trainable: false in the spec
        lines.append(f"        {attribute(node.name)}.requires_grad_(False)")
    return lines


def network_source(graph: Graph, emit: Emit, weights: str) -> str:
    """The generated part of ``model.py``: the network class and ``load``."""
    cls = class_name(graph)
    variables = _variables(graph)
    lines = [f"class {cls}(nn.Module):", f'    """{_text(graph, 4)}"""', ""]
    lines += ["    def __init__(self) -> None:", "        super().__init__()"]
    for node in graph.layers:
        if not node.shares:  # a share node calls its original's module
            lines += _modules(graph, node, as_steps(emit(node)))
    lines += ["", *_forward(graph, variables, emit), "", ""]
    lines += [
        f'def load(path: str = "{weights}") -> {cls}:',
        f'    """The ``{cls}`` network with the state_dict saved at ``path`` loaded, in',
        '    inference mode (dropout off, batch normalization on its running statistics)."""',
        f"    model = {cls}()",
        '    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))',
        "    return model.eval()",
    ]
    return "\n".join(lines) + "\n"


def _text(graph: Graph, indent: int) -> str:
    """The spec's name and description, wrapped, safe inside a docstring."""
    text = f"{graph.name}: {graph.description}" if graph.description else graph.name
    text = text.replace("\\", "\\\\").replace('"""', "'''")
    pad = " " * indent
    return textwrap.fill(text, 92 - indent, subsequent_indent=pad).lstrip()


def _usage(graph: Graph, cls: str, weights: str) -> str:
    """The docstring's example: load the weights, call the model (its inputs in a comment,
    one per line when they do not fit on the call's)."""
    inputs = tensor_layouts(graph).inputs
    call = f"    outputs = model(...)  # {', '.join(f'{t.name}: {t.describe()}' for t in inputs)}"
    if len(call) > 100:
        lines = ["    outputs = model(...)  # inputs:"]
        call = "\n".join(lines + [f"    #   {t.name}: {t.describe()}" for t in inputs])
    return f"""    from model import load
    model = load("{weights}")  # {cls}, in inference mode
{call}"""


def model_source(graph: Graph, emit: Emit, weights: str) -> str:
    """The whole ``model.py`` of ``graph``."""
    cls = class_name(graph)
    about = (
        f"A standalone PyTorch module generated by `python -m translator export` from"
        f" {Path(graph.file).name}: it imports nothing but torch. ``{cls}`` holds the weights"
        f' of {weights}, a state_dict keyed "<layer>.<tensor>" (``load_state_dict`` checks every'
        " key and shape)::"
    )
    usage = _usage(graph, cls, weights)
    network = network_source(graph, emit, weights)
    paragraphs = [
        _text(graph, 0),
        textwrap.fill(about, 92),
        usage,
        textwrap.fill(_layout(graph), 92),
    ]
    paragraphs += _own_classes(network)
    return assemble("\n\n".join(paragraphs) + "\n", network)


def _layout(graph: Graph) -> str:
    """The docstring's paragraph on axis orders: sequences are channels first in a spec of
    1-D convolutions (``translator.ir.layout.spatial_rank`` 1), (batch, time, features)
    otherwise."""
    moved = " sequences are (batch, time, features). Between layers, images stay channels first;"
    if spatial_rank(graph) == 1:
        moved = (
            " so are sequences, (batch, channels, time), as nn.Conv1d convolves them. Between"
            " layers, they stay channels first (a recurrent layer, attention or a Linear on"
            " the last axis reads them as (batch, time, features));"
        )
    return (
        "Images and volumes are taken (and given) channels first, as PyTorch convolves them;"
        f"{moved} a tensor changes its axis order only where a layer's result depends on it,"
        " and a Linear after a Flatten of images holds its weight columns in channels-first"
        " order. Every layer is a torch.nn module unless listed below."
    )


def _own_classes(network: str) -> list[str]:
    """The docstring's list of the classes copied in, each with what it computes (no
    ``torch.nn`` module computes it exactly); nothing when every module is torch's."""
    found = own_classes(network)
    if not found:
        return []
    head = "Classes of our own, where no torch.nn module computes the layer exactly:"
    items = [
        textwrap.fill(f"- ``{name}``: {why}.", 92, subsequent_indent="  ") for name, why in found
    ]
    return [head + "\n\n" + "\n".join(items)]
