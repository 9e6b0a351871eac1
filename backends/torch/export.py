"""Export to PyTorch: ``model.pt``, a state_dict, and ``model.py``, a standalone module.

``EMITTERS`` holds, per spec layer type, its description (registered once, in its family
module ``backends/torch/<family>.py``, with ``@describes``): the constructor call of its
standalone module (``backends/torch/standalone/``) with the IR's arguments, which the
backend builds too; ``standalone.network`` writes the network class around those calls and
``standalone.assemble`` copies in the runtime definitions they use. The module's state_dict
keys are ``"<layer>.<tensor>"``, the scheme ``model.pt`` is written in
(``backends.torch.weights.save_state_dict``). Image and volume inputs and outputs are
channels first (``translator.commands.export.natural_axes``); inside, tensors keep the spec's layout
between layers, exactly as in the backend.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backends.torch.model import DESCRIPTIONS, describe
from backends.torch.standalone.network import class_name, model_source
from backends.torch.weights import state_dict
from translator.errors import InternalError
from translator.ir import Graph
from translator.weights.canonical import Weights

FILE = "model.pt"
SOURCE = "model.py"
NATURAL = True  # inputs and outputs in PyTorch's natural layout (translator.commands.export)
EMITTERS = DESCRIPTIONS  # what export writes per layer type: its one description


def export(graph: Graph, weights: Weights, out: Path) -> list[tuple[Path, str]]:
    """Write ``model.pt`` (``weights`` as a state_dict) and ``model.py`` into ``out``."""
    # Serialized in memory, then written by Python: a failed write (a full disk) is then an
    # OSError, where torch.save's own writer raises a RuntimeError about stream positions.
    buffer = io.BytesIO()
    torch.save(state_dict(weights), buffer)
    (out / FILE).write_bytes(buffer.getvalue())
    (out / SOURCE).write_text(model_source(graph, describe, FILE), encoding="utf-8")
    return [
        (out / FILE, 'PyTorch state_dict, keys "<layer>.<tensor>"'),
        (out / SOURCE, f"standalone PyTorch module {class_name(graph)} (imports only torch)"),
    ]


def run_exported(graph: Graph, out: Path, inputs: list[Any]) -> list[np.ndarray]:
    """Import ``out/model.py`` by path, load ``out/model.pt`` into it and run ``inputs``
    (natural layout, ``graph.inputs`` order)."""
    spec = importlib.util.spec_from_file_location(f"exported_{graph.name}", out / SOURCE)
    if spec is None or spec.loader is None:  # a .py path always has a loader
        raise InternalError(f"cannot import {out / SOURCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load(str(out / FILE))
    with torch.no_grad():
        result = model(*(torch.from_numpy(np.array(x)) for x in inputs))
    return [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]
