"""A PyTorch checkpoint's keys (a state_dict ``.pt``, a ``.safetensors``) → the spec's
PyTorch tensors, on shapes alone, before any data is read; then the tensors made.

A key is matched to ``<layer>.<tensor>`` in three ways, in order:

1. the spec's ``checkpoint:`` section (``Graph.checkpoint``, which ``import`` of a ``.pt2``
   writes): a tensor made of several keys joined along axis 0 (q, k and v into
   ``in_proj_weight``), of keys stored transposed (transformers' Conv1D: GPT-2's ``c_attn``,
   ``c_fc``, ``c_proj``), or known under a second name (a tied head: GPT-2's
   ``lm_head.weight`` is ``transformer.wte.weight``, which ``save_pretrained`` leaves out);
2. the key as it is, ``<layer>.<tensor>`` (``export``'s ``model.pt``);
3. the module-path rule of imported specs: every character other than letters, digits and
   ``_`` made ``_`` (``features.0.weight`` → ``features_0.weight``), when every remaining
   key matches exactly one tensor.

Then both ways, with shapes: every tensor of the spec made, every key of the file read (a
second name's shape checked against the tensor it names), each joined shape the spec's.
No framework is imported here; numpy only where tensors are made.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from translator.errors import WeightsError
from translator.ir import Graph
from translator.ir.graph import Stored
from translator.weights.canonical import Weights, check_weight_shapes
from translator.weights.maps import Shape, ir_names

FRAMEWORK = "torch"  # the checkpoints read here are PyTorch's (the IR's PyTorch names)


@dataclass(frozen=True)
class Source:
    """How one spec tensor is made: these file ``keys`` joined along axis 0, each
    ``transpose``d first."""

    keys: tuple[str, ...]
    transpose: bool = False


Plan = dict[tuple[str, str], Source]  # (layer, IR tensor name) → its source in the file


def arranged(graph: Graph, shapes: dict[str, Shape], source: str) -> Plan:
    """Where each of ``graph``'s PyTorch tensors is in a file holding ``shapes`` (key →
    shape), checked both ways before any data is read; a ``WeightsError`` otherwise."""
    plan: Plan = {}
    given: dict[tuple[str, str], Shape] = {}
    rest = dict(shapes)
    for name, stored in graph.checkpoint.items():
        layer, _, tensor = name.partition(".")
        for key in (*stored.keys, *stored.also):
            rest.pop(key, None)
        found = _recorded(name, stored, shapes, source)
        if found is not None:
            plan[(layer, tensor)], given[(layer, tensor)] = found
    wanted = [
        f"{node.name}.{tensor}"
        for node in graph.nodes
        for tensor in ir_names(node, FRAMEWORK)
        if f"{node.name}.{tensor}" not in graph.checkpoint
    ]
    for key, spec_key in by_layer_names(wanted, list(rest)).items():
        layer, _, tensor = spec_key.partition(".")
        plan[(layer, tensor)], given[(layer, tensor)] = Source((key,)), rest[key]
    try:
        check_weight_shapes(graph, FRAMEWORK, given, source)
    except WeightsError as exc:
        raise _named(exc, graph) from None
    return plan


def _recorded(
    name: str, stored: Stored, shapes: dict[str, Shape], source: str
) -> tuple[Source, Shape] | None:
    """A recorded tensor's source and joined shape, from its keys or else its second names;
    None when the file has neither (reported missing with the rest)."""
    complete = [keys for keys in (stored.keys, stored.also) if keys and set(keys) <= set(shapes)]
    if not complete:
        return None
    made = [(keys, _joined(name, keys, stored.transpose, shapes, source)) for keys in complete]
    (keys, shape), *others = made
    for other, other_shape in others:  # a second name: the same tensor, so the same shape
        if other_shape != shape:
            raise WeightsError(
                source,
                f"'{', '.join(other)}' (another name of '{name}', as '{', '.join(keys)}')"
                f" has shape {other_shape}, expected {shape}",
            )
    return Source(keys, stored.transpose), shape


def _joined(
    name: str, keys: tuple[str, ...], transpose: bool, shapes: dict[str, Shape], source: str
) -> Shape:
    """The shape of ``keys``' tensors (each transposed first) joined along axis 0."""
    parts = [tuple(reversed(shapes[k])) if transpose else tuple(shapes[k]) for k in keys]
    if any(len(p) != len(parts[0]) or p[1:] != parts[0][1:] or not p for p in parts):
        said = ", ".join(f"{k} {s}" for k, s in zip(keys, parts, strict=True))
        raise WeightsError(
            source, f"'{name}' joins tensors whose shapes do not join along axis 0: {said}"
        )
    return (sum(int(p[0]) for p in parts), *parts[0][1:])


def _named(exc: WeightsError, graph: Graph) -> WeightsError:
    """``exc`` with, for a missing tensor the ``checkpoint:`` section records, the file
    keys it is made of (the user's file is named by its own keys)."""
    stored = graph.checkpoint.get(f"{exc.layer}.{exc.tensor}")
    if stored is None or exc.received is not None:
        return exc
    said = str(exc).removeprefix(f"{exc.source}: ")
    keys = ", ".join(stored.keys) + (f" (or {', '.join(stored.also)})" if stored.also else "")
    named = WeightsError(
        exc.source,
        f"{said}; the checkpoint keeps it as {keys}",
        exc.layer,
        exc.tensor,
        exc.expected,
        exc.received,
    )
    named.details = exc.details
    return named


def _plain(key: str) -> str:
    return re.sub(r"\W", "_", key)


def module_layer(key: str, layers: set[str]) -> str | None:
    """The spec layer a key's module path names by the module-path rule, or None."""
    module, dot, _ = key.rpartition(".")
    return _plain(module) if dot and _plain(module) in layers else None


def by_layer_names(wanted: list[str], keys: list[str]) -> dict[str, str]:
    """Each file key → the spec key ``<layer>.<tensor>`` it names: itself when every key is
    one of ``wanted``, else by the module-path rule (``features.0.weight`` →
    ``features_0.weight``) when every key matches exactly one; else itself (the shape check
    then names what does not fit)."""
    if set(keys) <= set(wanted):
        return {k: k for k in keys}
    by_plain = {_plain(k): k for k in wanted}
    matched = {k: by_plain.get(_plain(k), k) for k in keys}
    unique = len(set(matched.values())) == len(keys) and len(by_plain) == len(wanted)
    return matched if unique else {k: k for k in keys}


def made(plan: Plan, read: Callable[[str], Any]) -> Weights:
    """``{layer: {tensor: array}}`` from the plan, ``read`` giving a file key's array (called
    once per key the plan reads, so only those tensors' data is read)."""
    import numpy as np

    out: Weights = {}
    for (layer, tensor), where in plan.items():
        parts = [read(key) for key in where.keys]
        if where.transpose:
            parts = [np.ascontiguousarray(np.asarray(part).T) for part in parts]
        value = np.concatenate(parts) if len(parts) > 1 else parts[0]
        out.setdefault(layer, {})[tensor] = value
    return out
