"""Folding an imported spec's repeated layers into a block with ``repeat``.

A model's repeated structure (a transformer's layers, a stage's units) reaches ``import`` as a
flat list of layers whose names carry the copy's number, as the model's own module paths do:
``transformer_h_0_attn``, ``transformer_h_1_attn``, ... A run of copies folds into one block
and one instance ``{block: transformer_h, name: transformer_h, repeat: 12, first: 0}`` when

- every layer holding weights is named ``<prefix><n>_<rest>``, with one prefix for the run,
  the copy's count ``n`` counting up by one, and the same ``<rest>`` in every copy (so the
  expanded names are the imported ones and a checkpoint's keys still find their layers).
  The count is a number (PyTorch's ``transformer_h_0_attn``; keras.applications'
  ``conv2_block2_1_conv``, ``conv2_block3_1_conv``) or a letter after a digit
  (EfficientNet's ``block2b_expand_conv``, ``block2c_...``); the instance says where it
  goes with ``copy_names: "conv2_block{n}"`` and what it starts from with ``first`` (``2``
  after a stage's first unit, which differs and stays flat; ``b``), each only where the
  loader's default (``<instance>_<n>_``, from 1) would not name the copies so;
- the copies are the same layers with the same arguments, in the same order, wired alike:
  each copy reads the previous copy's last layer (its first input ``x``) and otherwise only
  its own layers or layers before the run (the block's further inputs, the same for every
  copy), and nothing after the run reads a copy's layers but the last one.

Layers without weights (a residual ``Add``, a Dropout) may be renamed: they become
``<prefix>_<n>_<type>`` and what read the last of them reads the instance instead. The folded
spec is kept only when it loads to the same layers, arguments, shapes and weights as the flat
one (``fold``); otherwise the flat spec stands. No framework is imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from translator.errors import SpecErrors
from translator.ir import FRAMEWORKS, Graph
from translator.spec.values import snake_case

# A copy's count inside a name: a number (``_0_``, ``block2_``) or a letter after a digit
# (``block2b_``), with something before it and ``_<rest>`` after it.
NUMBER = re.compile(r"(?<!\d)(\d+)(?=_.)")
LETTER = re.compile(r"(?<=\d)([a-z])(?=_.)")
# In a template, where the count goes: a number, or a letter (a = 0).
AT_NUMBER, AT_LETTER = "{n}", "{a}"
Layer = dict[str, Any]
Token = tuple[str, Any]


def numbered(name: str) -> list[tuple[str, int, str]]:
    """Every way to read ``name`` as a copy's name: (the name up to the count, the count
    made ``{n}`` or ``{a}``; the count; the rest after ``_``). ``conv2_block3_1_conv`` reads
    as ``("conv2_block{n}", 3, "1_conv")``, ``block2b_add`` as ``("block2{a}", 1, "add")``."""
    found = []
    for pattern, at in ((NUMBER, AT_NUMBER), (LETTER, AT_LETTER)):
        for m in pattern.finditer(name):
            count = int(m.group()) if at == AT_NUMBER else ord(m.group()) - ord("a")
            if m.start():
                found.append((name[: m.start()] + at, count, name[m.end() + 1 :]))
    return found


def block_name(template: str) -> str:
    """A run's block and instance name: its template without the count (and the ``_``
    before it): ``transformer_h_{n}`` → ``transformer_h``, ``conv2_block{n}`` → ``conv2_block``."""
    return template.replace(AT_NUMBER, "").replace(AT_LETTER, "").rstrip("_")


def explicit_inputs(spec: dict[str, Any]) -> list[list[str]]:
    """Each layer's inputs as a list of names (a layer without ``inputs`` reads the one before
    it, the first layer the spec's first input)."""
    found: list[list[str]] = []
    previous = spec["inputs"][0]["name"] if spec["inputs"] else ""
    for layer in spec["layers"]:
        given = layer.get("inputs")
        found.append([given] if isinstance(given, str) else list(given or [previous]))
        previous = layer["name"]
    return found


@dataclass(frozen=True)
class Run:
    """Copies ``count`` of ``length`` layers from ``start``, the first numbered ``first``."""

    prefix: str
    first: int
    start: int
    length: int
    count: int

    @property
    def end(self) -> int:
        return self.start + self.length * self.count


class Folder:
    """Finds runs of copies in a flat spec and writes them as blocks."""

    def __init__(self, spec: dict[str, Any], weighted: set[str]) -> None:
        self.spec = spec
        self.layers: list[Layer] = spec["layers"]
        self.inputs = explicit_inputs(spec)
        self.weighted = weighted
        self.names = [layer["name"] for layer in self.layers]

    def chain(self, start: int) -> str:
        """What the copy beginning at ``start`` reads as ``x``: the layer before it."""
        return self.names[start - 1] if start else self.spec["inputs"][0]["name"]

    def tokens(self, index: int, start: int, length: int) -> list[Token]:
        """Layer ``index``'s inputs relative to its copy (``start``, ``length``)."""
        own = {self.names[start + k]: k for k in range(length)}
        out: list[Token] = []
        for ref in self.inputs[index]:
            if ref in own:
                out.append(("in", own[ref]))
            elif ref == self.chain(start):
                out.append(("x", None))
            else:
                out.append(("ext", ref))
        return out

    def same(self, start: int, other: int, length: int, prefix: str, number: int) -> bool:
        """Whether the layers from ``other`` repeat those from ``start`` as copy ``number``."""
        if other + length > len(self.layers):
            return False
        for k in range(length):
            a, b = self.layers[start + k], self.layers[other + k]
            if _args(a) != _args(b) or "share" in b or "tie" in b:
                return False
            if self.tokens(start + k, start, length) != self.tokens(other + k, other, length):
                return False
            if b["name"] in self.weighted and not any(
                p == prefix and n == number and r == _rest(a["name"], prefix)
                for p, n, r in numbered(b["name"])
            ):
                return False
        return True

    def run_at(self, start: int) -> Run | None:
        """The longest run of at least two copies beginning at ``start``, if any."""
        if self.names[start] not in self.weighted or "share" in self.layers[start]:
            return None
        best: Run | None = None
        for prefix, number, _ in numbered(self.names[start]):
            length = self._copy_length(start, prefix, number)
            if length is None:
                continue
            count = 1
            while self.same(start, start + count * length, length, prefix, number + count):
                count += 1
            run = Run(prefix, number, start, length, count)
            if count > 1 and self._closed(run) and (best is None or run.end > best.end):
                best = run
        return best

    def _copy_length(self, start: int, prefix: str, number: int) -> int | None:
        """The distance to the next copy's first weighted layer, every weighted layer on the
        way numbered ``number`` under ``prefix``."""
        for j in range(start + 1, len(self.layers)):
            if self.names[j] not in self.weighted:
                continue
            reads = {(p, n) for p, n, _ in numbered(self.names[j])}
            if (prefix, number + 1) in reads:
                return j - start
            if (prefix, number) not in reads:
                return None
        return None

    def _closed(self, run: Run) -> bool:
        """Nothing outside the run reads inside it but its last layer; further inputs come
        from before the run."""
        inside = set(self.names[run.start : run.end])
        last = self.names[run.end - 1]
        outside = [*range(run.start), *range(run.end, len(self.layers))]
        if any(ref in inside - {last} for i in outside for ref in self.inputs[i]):
            return False
        if any(ref in inside - {last} for ref in _outputs(self.spec)):
            return False
        copy = range(run.start, run.start + run.length)
        extras = {ref for i in copy for kind, ref in self.tokens(i, run.start, run.length)}
        return not extras & inside


def _args(layer: Layer) -> dict[str, Any]:
    return {k: v for k, v in layer.items() if k not in ("name", "inputs")}


def _rest(name: str, prefix: str) -> str | None:
    """``name``'s part after ``<prefix>_<n>_``."""
    return next((r for p, _, r in numbered(name) if p == prefix), None)


def _outputs(spec: dict[str, Any]) -> list[str]:
    given = spec.get("outputs", [])
    return [given] if isinstance(given, str) else list(given)


def _local_names(folder: Folder, run: Run) -> list[str]:
    """Copy 0's layers as the block names them: ``<rest>`` of a name numbered under the
    run's prefix, else the layer's type in snake case (numbered when repeated)."""
    taken: set[str] = set()
    names = []
    for k in range(run.length):
        name = folder.names[run.start + k]
        base = _rest(name, run.prefix) or snake_case(folder.layers[run.start + k]["type"])
        local, n = base, 0
        while local in taken or local == "x":
            n += 1
            local = f"{base}_{n}"
        taken.add(local)
        names.append(local)
    return names


def block_of(folder: Folder, run: Run) -> tuple[dict[str, Any], Layer] | None:
    """The block (its inputs and layers) and its instance for ``run``; None when a further
    input's name is also a layer's name in the block."""
    local = _local_names(folder, run)
    extras: list[str] = []
    layers: list[Layer] = []
    for k in range(run.length):
        index = run.start + k
        refs = []
        for kind, ref in folder.tokens(index, run.start, run.length):
            if kind == "ext" and ref not in extras:
                extras.append(ref)
            refs.append(local[ref] if kind == "in" else "x" if kind == "x" else ref)
        layer: Layer = {"name": local[k], **_args(folder.layers[index])}
        if k == 0 or refs != [local[k - 1]]:
            layer["inputs"] = refs[0] if len(refs) == 1 else refs
        layers.append(layer)
    if set(extras) & set(local):
        return None
    block = {"inputs": ["x", *extras], "layers": layers} if extras else {"layers": layers}
    # The instance reads what the layer before the run is (the previous line of the spec):
    # written only when the block has further inputs.
    name = block_name(run.prefix)
    instance: Layer = {"block": name, "name": name}
    if extras:
        instance["inputs"] = [folder.chain(run.start), *extras]
    instance["repeat"] = run.count
    letters = AT_LETTER in run.prefix
    first = chr(ord("a") + run.first) if letters else run.first
    if first != 1:
        instance["first"] = first
    template = run.prefix.replace(AT_LETTER, AT_NUMBER)
    if template != f"{name}_{AT_NUMBER}":  # the loader's default names: <instance>_<n>
        instance["copy_names"] = template
    return block, instance


def folded(spec: dict[str, Any], weighted: set[str]) -> dict[str, Any] | None:
    """``spec`` with its runs of copies as blocks; None when it has none."""
    folder = Folder(spec, weighted)
    blocks: dict[str, Any] = dict(spec.get("blocks", {}))
    layers: list[Layer] = []
    renamed: dict[str, str] = {}
    index = 0
    while index < len(folder.layers):
        run = folder.run_at(index)
        made = None
        name = block_name(run.prefix) if run is not None else ""
        if run is not None and name and name not in blocks and name not in folder.names:
            made = block_of(folder, run)
        if run is None or made is None:
            layers.append(_reading(folder.layers[index], renamed))
            index += 1
            continue
        blocks[name], instance = made
        layers.append(_reading(instance, renamed))
        last = folder.names[run.end - 1]
        if last not in weighted:  # renamed by the block: what read it reads the instance
            renamed[last] = name
        index = run.end
    if not renamed and len(layers) == len(folder.layers):
        return None
    out = {**spec, "blocks": blocks, "layers": layers}
    if "outputs" in spec:
        out["outputs"] = _renamed(spec["outputs"], renamed)
    return out


def _renamed(refs: Any, renamed: dict[str, str]) -> Any:
    if isinstance(refs, str):
        return renamed.get(refs, refs)
    return [renamed.get(r, r) for r in refs]


def _reading(layer: Layer, renamed: dict[str, str]) -> Layer:
    """``layer`` with its inputs renamed."""
    if "inputs" not in layer or not renamed:
        return layer
    return {**layer, "inputs": _renamed(layer["inputs"], renamed)}


def weighted_layers(graph: Graph) -> set[str]:
    """The layers holding weights in any framework (their names must not change)."""
    return {n.name for n in graph.nodes if any(n.weights.get(fw) for fw in FRAMEWORKS)}


def same_model(flat: Graph, other: Graph) -> bool:
    """Whether ``other`` has ``flat``'s weighted layers (names, types, arguments, shapes,
    weights) and its outputs' shapes."""
    nodes = {n.name: n for n in other.nodes}
    weighted = weighted_layers(flat)
    for node in (n for n in flat.nodes if n.name in weighted):
        twin = nodes.get(node.name)
        if twin is None or (twin.type, twin.args, twin.output_shapes, twin.weights) != (
            node.type,
            node.args,
            node.output_shapes,
            node.weights,
        ):
            return False
    outputs = [s for name in flat.outputs for s in flat.node(name).output_shapes]
    return outputs == [s for name in other.outputs for s in other.node(name).output_shapes]


def fold(spec: dict[str, Any], flat: Graph, load: Any) -> tuple[dict[str, Any], Graph]:
    """``spec`` folded, with its graph, when folding finds copies and the folded spec
    (``load``: its text → its graph) is the same model; else ``spec`` and ``flat``."""
    candidate = folded(spec, weighted_layers(flat))
    if candidate is None:
        return spec, flat
    try:
        graph = load(candidate)
    except SpecErrors:  # folding wrote what the loader refuses: the flat spec stands
        return spec, flat
    return (candidate, graph) if same_model(flat, graph) else (spec, flat)
