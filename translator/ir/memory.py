"""What ``compare``, ``port`` and ``export`` need in memory, estimated from the IR alone.

Every tensor's shape per framework is known without building anything (``node.weights``),
so a command can refuse a model too large for this machine in well under a second, before
a framework is imported or a byte of weights allocated. The estimate is float32 weights
(PyTorch buffers included) times the copies a command holds at once, plus every layer's
output for the probe batch. ``available`` is ``MemAvailable`` from ``/proc/meminfo``, or
the user's ``--max-memory``.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import re
from dataclasses import dataclass
from pathlib import Path

from translator.errors import TooLarge
from translator.ir.graph import FRAMEWORKS, Graph
from translator.ir.sample import BATCH, STEPS

FLOAT32 = 4  # bytes per value: weights and activations are float32
MEMINFO = Path("/proc/meminfo")
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}

# Copies of a framework's weights alive while it builds and runs a model (beside the
# weights handed to it, counted by each command):
#   keras: each initializer's value, then the variable it fills;
#   torch: the parameters, filled in place;
#   onnx: the model, then onnxruntime's initializers (and its folded constants, such as a
#   tied embedding's transpose), and the file it reads, written and read tensor by tensor.
BUILD_COPIES = {"keras": 2, "torch": 1, "onnx": 3}
# What a framework takes before any model, rounded up from the peak resident size of
# ``backends.load(fw)`` on Linux (TensorFlow under Keras, PyTorch, onnx with onnxruntime).
RUNTIME = {"keras": 700 * 2**20, "torch": 300 * 2**20, "onnx": 100 * 2**20}


@dataclass(frozen=True)
class Estimate:
    """One command's need: ``copies`` of each framework's float32 weights, plus activations."""

    command: str
    copies: dict[str, int]  # framework (or "canonical") → copies held at once
    weights: dict[str, int]  # framework (or "canonical") → bytes of one copy
    activations: int  # bytes
    runtime: int  # bytes: the frameworks imported

    @property
    def total(self) -> int:
        held = sum(n * self.weights[fw] for fw, n in self.copies.items())
        return held + self.activations + self.runtime

    def describe(self) -> str:
        """``7 copies of float32 weights of about 160.0 GB (keras 2, torch 1, onnx 4)``."""
        count = sum(self.copies.values())
        largest = max(self.weights[fw] for fw in self.copies)
        parts = ", ".join(f"{fw} {n}" for fw, n in self.copies.items())
        return (
            f"{count} copies of float32 weights of up to {readable(largest)} ({parts})"
            f" + {readable(self.activations)} of activations"
            f" + {readable(self.runtime)} for the frameworks themselves"
        )


def weight_bytes(graph: Graph, framework: str) -> int:
    """One framework's tensors (PyTorch buffers included) as float32."""
    count = sum(w.size for n in graph.nodes for w in n.weights.get(framework, ()))
    return count * FLOAT32


def canonical_bytes(graph: Graph) -> int:
    """The canonical weights as float32 (``translator.weights.canonical``'s layout)."""
    from translator.weights.canonical import canonical_shapes

    return sum(math.prod(s) for s in canonical_shapes(graph).values()) * FLOAT32


def activation_bytes(graph: Graph, runs: int) -> int:
    """Every layer's outputs for the probe batch (free sizes at ``STEPS``), ``runs`` times:
    a rough bound, as port keeps every layer's outputs of every framework."""
    values = sum(
        BATCH * math.prod(STEPS if d is None else d for d in shape)
        for node in graph.nodes
        for shape in node.output_shapes
    )
    return values * FLOAT32 * runs


def _estimate(graph: Graph, command: str, copies: dict[str, int], runs: int) -> Estimate:
    weights = {fw: weight_bytes(graph, fw) for fw in FRAMEWORKS}
    if "canonical" in copies:
        weights["canonical"] = canonical_bytes(graph)
    runtime = sum(RUNTIME[fw] for fw in copies if fw in RUNTIME)
    return Estimate(command, copies, weights, activation_bytes(graph, runs), runtime)


def compare_estimate(graph: Graph, frameworks: tuple[str, ...]) -> Estimate:
    """``compare`` builds the frameworks one after another, Keras last (TensorFlow keeps what
    it allocated), and releases each model before the next (``release``): the largest one
    framework's build is held at once, beside every framework's runtime."""
    largest = max(frameworks, key=lambda fw: BUILD_COPIES[fw] * weight_bytes(graph, fw))
    estimate = _estimate(graph, "compare", {largest: BUILD_COPIES[largest]}, 1)
    runtime = sum(RUNTIME[fw] for fw in frameworks)
    return Estimate("compare", estimate.copies, estimate.weights, estimate.activations, runtime)


def port_estimate(graph: Graph, source: str, targets: tuple[str, ...]) -> Estimate:
    """``port`` keeps the source's weights and model, the canonical weights, and each
    target's weights and model."""
    copies = {fw: 1 + BUILD_COPIES[fw] for fw in (source, *targets)}
    copies["canonical"] = 1
    return _estimate(graph, "port", copies, 1 + len(targets))


def export_estimate(graph: Graph, frameworks: tuple[str, ...]) -> Estimate:
    """``export`` keeps the canonical weights; per framework, its weights, the model it
    writes and the model reloaded from the file; and the PyTorch reference model."""
    copies = {fw: 2 + BUILD_COPIES[fw] for fw in frameworks}
    copies["torch"] = copies.get("torch", 0) + 1 + BUILD_COPIES["torch"]  # the reference
    copies["canonical"] = 1
    return _estimate(graph, "export", copies, 1 + len(frameworks))


def release() -> None:
    """Give the memory of the models just dropped back to the system: collect the reference
    cycles (Keras layers sit in some), then ``trim``."""
    gc.collect()
    trim()


def trim() -> None:
    """Have glibc return its freed heap pages. Without it, memory that protobuf and
    onnxruntime freed in blocks of a few MB stays with the process, and a later allocation
    larger than any of them (a model's bytes, the next framework's tensors) adds to it."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def available() -> int | None:
    """``MemAvailable`` in bytes; None where ``/proc/meminfo`` does not say (not Linux)."""
    try:
        text = MEMINFO.read_text(encoding="ascii")
    except OSError:
        return None
    found = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def parse_size(text: str) -> int | None:
    """``8G``, ``512M``, ``1.5T``, ``4096`` (bytes; K, M, G, T are powers of 1024), or None."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if found is None:
        return None
    size = float(found.group(1)) * UNITS[found.group(2).upper()]
    return int(size) if math.isfinite(size) and size >= 1 else None


def readable(size: float) -> str:
    """Bytes as ``161.3 GB`` (powers of 1024, as ``--max-memory`` reads them)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024:
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} PB"


def refuse_beyond(graph: Graph, estimate: Estimate, max_memory: int | None, way_out: str) -> None:
    """Raise ``TooLarge`` when ``estimate`` exceeds ``max_memory`` (bytes) or, without it,
    the memory available (none known: no limit)."""
    limit = available() if max_memory is None else max_memory
    if limit is None or estimate.total <= limit:
        return
    what = "available" if max_memory is None else "allowed (--max-memory)"
    raise TooLarge(
        f"{graph.file}: {estimate.command} needs about {readable(estimate.total)}"
        f" ({estimate.describe()}); {readable(limit)} {what}; {way_out}"
    )
