"""Weights files: the canonical ``.npz`` and every framework's file ``port`` and ``export`` read.

``load_any`` tells a file's framework from its suffix, has that backend read it (no pickle,
no Keras code: each backend's ``load_weights_file`` reads tensors only), checks every tensor
against the IR before converting, and returns the canonical weights. Errors are one line
(``WeightsError``): which file, layer, tensor and shape.
"""

from __future__ import annotations

from pathlib import Path

from translator.errors import WeightsError
from translator.ir import Graph
from translator.weights.canonical import (
    Canonical,
    canonical_shapes,
    check_canonical_shapes,
    check_weights,
    to_canonical,
)
from translator.weights.npz import check_sizes, read_headers, read_member
from translator.weights.safetensors import read_safetensors
from translator.weights.validate import as_float32, summary

# Weights-file suffix → the framework whose loader reads it (".npz": the canonical file).
FILE_TYPES: dict[str, str] = {
    ".weights.h5": "keras",
    ".h5": "keras",
    ".keras": "keras",
    ".pt2": "torch",  # a torch.export program, for a spec imported from it
    ".pt": "torch",
    ".pth": "torch",
    ".onnx": "onnx",
    ".npz": "canonical",
    ".safetensors": "safetensors",  # PyTorch-named tensors, read here without a framework
}


def save_canonical(path: str | Path, canonical: Canonical) -> None:
    """Write the canonical weights as an uncompressed ``.npz``, keys in sorted order."""
    import numpy as np

    with open(path, "wb") as handle:  # a file handle: np.savez would append ".npz" to a name
        np.savez(handle, **{k: canonical[k] for k in sorted(canonical)})


def load_canonical(graph: Graph, path: str | Path, notes: list[str] | None = None) -> Canonical:
    """Read a canonical ``.npz`` and check it against ``graph``: every member's header and
    declared size first (see ``translator.weights.npz``), then only the bytes it needs."""
    source = str(path)
    archive, members = read_headers(path)
    with archive:
        count = len(canonical_shapes(graph))
        if not members and count:  # a spec without weights reads an empty archive fine
            raise WeightsError(
                source, f"empty .npz (no arrays); expected the spec's {count} canonical tensors"
            )
        check_canonical_shapes(graph, {m.key: m.shape for m in members}, source)
        check_sizes(members, source)
        return {
            m.key: as_float32(read_member(archive, m, source), source, m.key, notes)
            for m in members
        }


def file_type(path: str | Path) -> str:
    """``keras``, ``torch``, ``onnx``, ``canonical`` or ``safetensors``, from the suffix."""
    name = str(path).lower()
    for suffix, kind in FILE_TYPES.items():
        if name.endswith(suffix):
            return kind
    raise WeightsError(str(path), f"unknown weights file type; accepted: {', '.join(FILE_TYPES)}")


def readable_file(path: str | Path) -> str:
    """The file's type (see ``file_type``), once it is known to exist."""
    kind = file_type(path)
    if not Path(path).exists():
        raise WeightsError(str(path), "no such weights file")
    if not Path(path).is_file():  # a directory, device or pipe: reading could hang or flood
        raise WeightsError(str(path), "not a regular file (a directory, device or pipe)")
    return kind


def load_any(
    graph: Graph, path: str | Path, notes: list[str] | None = None
) -> tuple[str, Canonical]:
    """Any weights file → (the framework it came from, or ``canonical``; canonical weights).
    Each dtype conversion made on the way is appended to ``notes`` (see ``origin``)."""
    import backends

    kind = readable_file(path)
    if kind == "canonical":
        return kind, load_canonical(graph, path, notes)
    if kind == "safetensors":
        weights = read_safetensors(graph, path, notes)
        check_weights(graph, "torch", weights, str(path))
        return kind, to_canonical(graph, "torch", weights)
    weights = backends.load(kind).load_weights_file(graph, path, notes)
    check_weights(graph, kind, weights, str(path))
    return kind, to_canonical(graph, kind, weights)


def origin(path: str | Path, kind: str, notes: list[str]) -> str:
    """Where weights came from, as ``port`` and ``export`` print it: ``FILE (kind)``, with
    the file's dtype conversions (``FILE (torch; float64 → float32 (2 tensors))``)."""
    said = f"{kind}; {summary(notes)}" if notes else kind
    return f"{path} ({said})"
