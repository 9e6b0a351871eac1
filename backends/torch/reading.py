"""Reading a PyTorch program for import: an untrusted ``.pt2``, checked before
``torch.export.load`` runs, or a factory's module, traced (``trace``).

``torch.export.load`` unpickles a tensor payload marked ``use_pickle`` and, where its first
``weights_only=True`` attempt fails, loads the sample inputs with ``weights_only=False``:
either would run code from the file; so would its fallback to the older export format. So
the archive must be in the current format (an ``archive_format`` member), its members are
checked first (no absolute or parent paths, a total size memory holds), every tensor payload
must be stored raw, and every ``.pt`` member (the sample inputs) must load with
``weights_only=True``.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import torch

from translator.commands.importing import ExampleInput, SourceError
from translator.ir.memory import available

ACCEPTED = "accepted: a .pt2 written by torch.export.save, in its current archive format"


def _pickled(config: dict[str, Any]) -> bool:
    return any(bool(item.get("use_pickle")) for item in config.get("config", {}).values())


def _check_archive(path: Path) -> None:
    """A zip of relative members, of a size memory holds, with every tensor stored raw."""
    if not zipfile.is_zipfile(path):
        raise SourceError(f"{path}: not a zip archive; {ACCEPTED}")
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if not any(m.filename.endswith("/archive_format") for m in members):
            # torch.save's files, and the older export format torch.export.load would
            # unpickle without weights_only, are refused before it runs
            raise SourceError(f"{path}: not a torch.export archive; {ACCEPTED}")
        if any(m.filename.startswith("/") or ".." in m.filename.split("/") for m in members):
            raise SourceError(f"{path}: a member leaves the archive; accepted: relative paths")
        size, limit = sum(m.file_size for m in members), available()
        if limit is not None and size > limit:
            raise SourceError(f"{path}: holds {size} bytes, more than memory has ({limit})")
        for member in members:
            name = member.filename
            if name.endswith("_config.json") and _pickled(json.loads(archive.read(member))):
                raise SourceError(f"{path}: a tensor is pickled; accepted: tensors stored raw")
            if "/sample_inputs/" in name or name.endswith(".pt"):
                # torch.export.load falls back to weights_only=False where this fails
                torch.load(io.BytesIO(archive.read(member)), weights_only=True)


def load(path: str | Path) -> Any:
    """The exported program at ``path``, checked first (see the module doc)."""
    try:
        _check_archive(Path(path))
        return torch.export.load(str(path))
    except SourceError:
        raise
    except Exception as exc:  # torch raises many kinds on a damaged archive
        said = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise SourceError(
            f"{path}: torch.export cannot load it safely ({said}); accepted: a .pt2 written by"
            " torch.export.save, tensors stored raw"
        ) from None


def trace(model: Any, inputs: list[ExampleInput], source: str) -> Any:
    """The program of ``model`` (a factory's ``nn.Module``), exported by ``torch.export`` at
    inference on zeros of the ``--input`` shapes, in ``forward``'s order."""
    if not inputs:
        raise SourceError(
            f"{source}: a PyTorch model needs example inputs to trace; accepted: --input"
            " NAME=SHAPE[:DTYPE] once per forward argument, like --input x=2,3,32,32"
        )
    examples = tuple(torch.zeros(i.shape, dtype=getattr(torch, i.dtype)) for i in inputs)
    try:
        return torch.export.export(model.eval(), examples)
    except Exception as exc:  # torch.export raises many kinds for untraceable code
        said = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise SourceError(f"{source}: torch.export cannot trace the model ({said})") from None
