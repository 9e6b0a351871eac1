"""HDF5 weights files (Keras's ``.weights.h5``) read by structure, shapes before data.

Keras 3 writes a model's variables as datasets ``layers/<class_snake>/.../vars/<i>`` in the
order it walks the model; which variable a dataset fills is known only by that walk. So the
Keras backend writes a *template* (the spec's model saved the same way) and this module
compares the file's datasets with it, path for path and shape for shape, with h5py, which
gives shapes and dtypes without reading any data. A dataset kept outside the file (external
storage, a virtual dataset) is refused. Errors name the file, the dataset, the Keras layer
and both shapes. h5py is imported inside the functions (``count`` imports nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from translator.errors import WeightsError
from translator.weights.validate import check_dtype

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Dataset:
    """One dataset as its header declares it; ``layer``: the name Keras stored beside it."""

    shape: Shape
    dtype: Any
    layer: str


def structure(path: str | Path, source: str) -> dict[str, Dataset]:
    """Every dataset of an HDF5 file by path, read from headers only."""
    import h5py

    found: dict[str, Dataset] = {}
    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(lambda name, item: _visit(found, name, item, source))
    except WeightsError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(source, f"not a readable HDF5 weights file ({first})") from None
    return found


def _visit(found: dict[str, Dataset], name: str, item: Any, source: str) -> None:
    import h5py

    if not isinstance(item, h5py.Dataset):
        return
    if item.is_virtual or item.external:
        raise WeightsError(
            source, f"dataset '{name}' keeps its data outside the file; accepted: data inside"
        )
    layer = str(item.parent.attrs.get("name", "")) if "name" in item.parent.attrs else ""
    found[name] = Dataset(tuple(int(d) for d in (item.shape or ())), item.dtype, layer)


def differences(found: dict[str, Dataset], template: dict[str, Dataset]) -> list[str]:
    """How the file's datasets differ from the template's, one phrase each."""
    out = []
    for name, want in template.items():
        got = found.get(name)
        where = f"dataset '{name}' (Keras layer '{want.layer}')" if want.layer else f"'{name}'"
        if got is None:
            out.append(f"missing {where}, expected shape {want.shape}")
        elif got.shape != want.shape:
            out.append(f"{where}: expected shape {want.shape}, received {got.shape}")
    out += [
        f"unexpected dataset '{name}' (shape {got.shape})"
        for name, got in found.items()
        if name not in template
    ]
    return out


def by_layer(found: dict[str, Dataset]) -> tuple[dict[str, list[str]], list[str]]:
    """The datasets of each Keras layer, by the name Keras stores beside them, in variable
    order (``.../vars/<i>``), and the names stored in more than one group (ambiguous)."""
    groups: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for path, dataset in found.items():
        group, _, index = path.rpartition("/vars/")
        if dataset.layer and index.isdigit():
            groups.setdefault(dataset.layer, {}).setdefault(group, []).append((int(index), path))
    ambiguous = sorted(name for name, held in groups.items() if len(held) > 1)
    ordered = {
        name: [path for _, path in sorted(next(iter(held.values())))]
        for name, held in groups.items()
        if len(held) == 1
    }
    return ordered, ambiguous


def refuse(source: str, graph_name: str, problems: list[str]) -> WeightsError:
    """The first difference as one line, with how many more there are."""
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return WeightsError(
        source,
        f"does not fit spec '{graph_name}' (Keras's layout, by structure): {problems[0]}{more}",
    )


def check_dtypes(path: str | Path, found: dict[str, Dataset], source: str) -> list[str]:
    """Refuse what float32 cannot hold; the conversions the load will make, as notes.
    Integer datasets are read (their shape was checked) to see that float32 holds them."""
    import h5py

    from translator.weights.validate import as_float32

    notes: list[str] = []
    with h5py.File(path, "r") as handle:
        for name, ds in found.items():
            check_dtype(ds.dtype, source, name)
            if ds.dtype.kind in "iub":
                as_float32(handle[name][()], source, name, notes)
            elif ds.dtype.name != "float32":
                notes.append(f"{ds.dtype.name} → float32")
    return notes
