"""Tensors from weights files: their dtypes checked and made float32 without loss.

Every loader reads a tensor only after its shape was checked against the IR (so memory stays
bounded by what the spec needs); this module then decides its dtype. Accepted: float32 as
it is; float16, bfloat16 and float64 converted to float32 (each conversion named in a note
``port`` and ``export`` print with the file); integers and booleans only where every value
is exactly a float32 (or where the IR expects an integer: ``num_batches_tracked``).
Refused, one line naming the file and tensor: complex numbers (the imaginary part would be
lost), strings, bytes, Python objects, structured records, dates.

No framework is imported here; numpy only inside the functions that need it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from translator.errors import WeightsError

ACCEPTED = (
    "accepted: float32; float16, bfloat16 or float64 (converted to float32);"
    " integers exactly representable as float32"
)
# dtype kind → what it holds, for the refusal (numpy's kinds; "V" is a raw record).
REFUSED_KINDS = {
    "c": "complex numbers (their imaginary part would be lost)",
    "U": "strings",
    "S": "bytes",
    "O": "Python objects",
    "V": "structured records",
    "M": "dates",
    "m": "time spans",
}
# Floats that become float32 with a note (bfloat16 is ml_dtypes' type, kind "V").
WIDER_OR_NARROWER = {"float16", "bfloat16", "float64", "longdouble", "float128"}
FLOAT32_EXACT = 2**24  # every integer of at most this magnitude is exactly a float32
INTEGER_ROLES = {"num_batches_tracked", "count"}  # bookkeeping: integer counts


def check_dtype(dtype: Any, source: str, name: str) -> None:
    """Refuse a dtype no float32 tensor can come from without loss (before reading data)."""
    text = str(dtype)
    kind = getattr(dtype, "kind", "")
    if text in WIDER_OR_NARROWER or (kind and kind in "fiub"):
        return
    holds = f"{text} values" if text.startswith("float") else REFUSED_KINDS.get(kind, text)
    raise WeightsError(source, f"tensor '{name}' holds {holds} ({text}); {ACCEPTED}")


def as_float32(
    array: Any, source: str, name: str, notes: list[str] | None, integer: bool = False
) -> Any:
    """``array`` as float32 (or as int64 where ``integer``), refusing what would lose values;
    each conversion appends ``"<dtype> → float32"`` to ``notes``."""
    import numpy as np

    array = np.asarray(array)
    check_dtype(array.dtype, source, name)
    if integer and array.dtype.kind in "iub":
        return array.astype(np.int64)
    if array.dtype == np.float32:  # (ascontiguousarray alone would make a scalar 1-D)
        return np.ascontiguousarray(array).reshape(array.shape)
    if (
        array.dtype.kind in "iub"
        and array.size
        and np.abs(array.astype(np.int64)).max() > FLOAT32_EXACT
    ):
        raise WeightsError(
            source,
            f"tensor '{name}' holds {array.dtype} values beyond ±2**24 that float32 cannot hold"
            f" exactly; {ACCEPTED}",
        )
    if notes is not None:
        notes.append(f"{array.dtype.name} → float32")
    return np.ascontiguousarray(array.astype(np.float32)).reshape(array.shape)


def summary(notes: list[str]) -> str:
    """The notes of one file as one phrase: ``float64 → float32 (3 tensors)``."""
    counts = Counter(notes)
    return ", ".join(
        f"{note} ({count} tensor{'s' if count > 1 else ''})" for note, count in counts.items()
    )


def float32_weights(
    weights: dict[str, dict[str, Any]],
    roles: dict[tuple[str, str], str],
    source: str,
    notes: list[str] | None,
) -> dict[str, dict[str, Any]]:
    """Every tensor of ``{layer: {tensor: array}}`` through ``as_float32``; ``roles`` (from the
    IR) tells which tensors are integer counts."""
    return {
        layer: {
            name: as_float32(
                value,
                source,
                f"{layer}.{name}",
                notes,
                roles.get((layer, name)) in INTEGER_ROLES,
            )
            for name, value in tensors.items()
        }
        for layer, tensors in weights.items()
    }


def expected_bytes(shapes: list[tuple[int, ...]], itemsize: int = 8) -> int:
    """The most bytes the tensors of ``shapes`` need in any accepted dtype (float64: 8)."""
    total = 0
    for shape in shapes:
        count = 1
        for d in shape:
            count *= d
        total += count * itemsize
    return total
