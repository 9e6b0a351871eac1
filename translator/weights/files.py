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
from translator.weights.canonical import Canonical, check_canonical, check_weights, to_canonical

# Weights-file suffix → the framework whose loader reads it (".npz": the canonical file).
FILE_TYPES: dict[str, str] = {
    ".weights.h5": "keras",
    ".h5": "keras",
    ".keras": "keras",
    ".pt": "torch",
    ".pth": "torch",
    ".onnx": "onnx",
    ".npz": "canonical",
}


def save_canonical(path: str | Path, canonical: Canonical) -> None:
    """Write the canonical weights as an uncompressed ``.npz``, keys in sorted order."""
    import numpy as np

    with open(path, "wb") as handle:  # a file handle: np.savez would append ".npz" to a name
        np.savez(handle, **{k: canonical[k] for k in sorted(canonical)})


def load_canonical(graph: Graph, path: str | Path) -> Canonical:
    """Read a canonical ``.npz`` and check it against ``graph``."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            canonical = {k: np.array(data[k]) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise WeightsError(str(path), f"not a readable .npz weights file ({exc})") from None
    check_canonical(graph, canonical, str(path))
    return canonical


def file_type(path: str | Path) -> str:
    """``keras``, ``torch``, ``onnx`` or ``canonical``, from the file's suffix."""
    name = str(path).lower()
    for suffix, kind in FILE_TYPES.items():
        if name.endswith(suffix):
            return kind
    raise WeightsError(str(path), f"unknown weights file type; accepted: {', '.join(FILE_TYPES)}")


def readable_file(path: str | Path) -> str:
    """The file's type (see ``file_type``), once it is known to exist."""
    kind = file_type(path)
    if not Path(path).is_file():
        raise WeightsError(str(path), "no such weights file")
    return kind


def load_any(graph: Graph, path: str | Path) -> tuple[str, Canonical]:
    """Any weights file → (the framework it came from, or ``canonical``; canonical weights)."""
    import backends

    kind = readable_file(path)
    if kind == "canonical":
        return kind, load_canonical(graph, path)
    weights = backends.load(kind).load_weights_file(graph, path)
    check_weights(graph, kind, weights, str(path))
    return kind, to_canonical(graph, kind, weights)
