"""``.safetensors`` files, read without the safetensors package and without a framework.

The format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw little-endian data. Tensors
are keyed as a PyTorch ``state_dict`` (``<layer>.<tensor>``, the scheme ``model.pt`` uses,
or a model's own keys for a spec imported from it: see ``translator.weights.checkpoint``).
The header is checked whole (dtypes, shapes, byte ranges inside the file and without
overlaps) and against the IR's PyTorch tensors before any data is read; then each tensor's
own bytes are read, and nothing else, so memory stays bounded by the spec's weights.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from translator.errors import WeightsError
from translator.ir import Graph
from translator.weights.canonical import Weights, weight_roles
from translator.weights.checkpoint import arranged, made
from translator.weights.renames import renamed
from translator.weights.validate import float32_weights

# The format's own limit on the header (the reference implementation refuses larger ones).
MAX_HEADER = 100 * 2**20
# safetensors dtype → numpy dtype (little endian); BF16 is widened by hand, numpy has none.
DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
}
SIZES = {name: int(code[-1]) for name, code in DTYPES.items()}


@dataclass(frozen=True)
class Entry:
    """One tensor of the header: its key, dtype, shape and byte range in the data."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _header(handle: Any, size: int, source: str) -> dict[str, Any]:
    """The JSON header, its length checked against the file before it is read."""
    if size < 8:
        raise WeightsError(source, "too short for a .safetensors file (no header length)")
    length = int.from_bytes(handle.read(8), "little")
    if length > min(MAX_HEADER, size - 8):
        raise WeightsError(source, f"declares a {length:,}-byte header in a {size:,}-byte file")
    try:
        header = json.loads(handle.read(length).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(source, f"its header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise WeightsError(source, "its header is not a JSON object of tensors")
    return header


def _entry(key: str, value: Any, source: str) -> Entry:
    """One header item as an ``Entry``, or one line saying what is wrong with it."""
    if not isinstance(value, dict) or not {"dtype", "shape", "data_offsets"} <= set(value):
        raise WeightsError(source, f"tensor '{key}': needs dtype, shape and data_offsets")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if dtype not in DTYPES:
        accepted = ", ".join(DTYPES)
        raise WeightsError(source, f"tensor '{key}': dtype {dtype!r} refused; accepted: {accepted}")
    if not _naturals(shape) or not _naturals(offsets) or len(offsets) != 2:
        raise WeightsError(source, f"tensor '{key}': shape and data_offsets must be whole numbers")
    begin, end = offsets
    if end - begin != math.prod(shape) * SIZES[dtype]:
        raise WeightsError(
            source,
            f"tensor '{key}': {end - begin:,} bytes for shape {tuple(shape)} of {dtype}"
            f" ({math.prod(shape) * SIZES[dtype]:,} needed)",
        )
    return Entry(key, dtype, tuple(shape), begin, end)


def _naturals(values: Any) -> bool:
    return isinstance(values, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    )


def _entries(header: dict[str, Any], data_size: int, source: str) -> list[Entry]:
    """Every tensor of the header, byte ranges inside the data and not overlapping."""
    entries = sorted(
        (_entry(k, v, source) for k, v in header.items() if k != "__metadata__"),
        key=lambda e: (e.begin, e.end),
    )
    last = 0
    for e in entries:
        if e.begin < last or e.end > data_size:
            raise WeightsError(source, f"tensor '{e.key}': its bytes overlap or leave the file")
        last = e.end
    return entries


def _array(handle: Any, start: int, e: Entry) -> tuple[Any, str | None]:
    """One tensor's bytes as an array (bfloat16 widened to float32 exactly)."""
    import numpy as np

    handle.seek(start + e.begin)
    raw = np.frombuffer(handle.read(e.end - e.begin), dtype=DTYPES[e.dtype]).reshape(e.shape)
    if e.dtype == "BF16":  # the upper half of a float32: widen by shifting, no rounding
        return (raw.astype(np.uint32) << 16).view(np.float32), "bfloat16 → float32"
    return raw.copy(), None


def read_safetensors(graph: Graph, path: str | Path, notes: list[str] | None = None) -> Weights:
    """PyTorch-named weights for ``graph`` from a ``.safetensors`` file: its keys matched to
    the spec's tensors and every shape checked (``translator.weights.checkpoint``) before
    any data is read; then only the tensors the spec needs are read."""
    source = str(path)
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        header = _header(handle, size, source)
        start = handle.tell()
        entries = {renamed(e.key): e for e in _entries(header, size - start, source)}
        plan = arranged(graph, {key: e.shape for key, e in entries.items()}, source)

        def read(key: str) -> Any:
            value, note = _array(handle, start, entries[key])
            if note is not None and notes is not None:
                notes.append(note)
            return value

        raw = made(plan, read)
    return float32_weights(raw, weight_roles(graph, "torch"), source, notes)


def read_entries(path: str | Path) -> list[Entry]:
    """Every tensor's key, dtype, shape and byte range, from the header alone (checked whole
    as ``read_safetensors`` checks it; no tensor data is read)."""
    source = str(path)
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        header = _header(handle, size, source)
        return _entries(header, size - handle.tell(), source)
