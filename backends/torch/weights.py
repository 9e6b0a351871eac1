"""Reading and writing the weights of a built PyTorch model, by IR layer and tensor name.

A layer's tensors are its module's ``named_parameters()`` and ``named_buffers()`` (running
statistics and ``num_batches_tracked`` included: they are state the model needs). A saved
state_dict (``.pt``) is keyed ``"<layer>.<tensor>"`` (``lstm.weight_ih_l0``,
``time_distributed.layer.weight``, ``bn.running_mean``): the key scheme export writes and
``load_weights_file`` reads. The state_dict of the translator's own ``SpecModule``
(``"layers.<layer>.<tensor>"``) is accepted too.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backends.base import Built
from translator.errors import WeightsError
from translator.ir import Graph
from translator.weights.canonical import Weights, check_weights

SPEC_MODULE_PREFIX = "layers."


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return dict(module.named_parameters()) | dict(module.named_buffers())


def get_weights(built: Built) -> Weights:
    """Every layer with tensors → {parameter or buffer name: numpy copy}."""
    layers = built.model.layers
    return {
        node.name: {
            name: t.detach().cpu().numpy().copy() for name, t in _state(layers[node.name]).items()
        }
        for node in built.graph.nodes
        if node.weights.get("torch") and node.name in layers
    }


def set_weights(built: Built, weights: Weights) -> Built:
    """Copy ``weights`` in place (all checked against the IR first) and return ``built``."""
    check_weights(built.graph, "torch", weights, "torch weights")
    with torch.no_grad():
        for layer, tensors in weights.items():
            state = _state(built.model.layers[layer])
            for name, value in tensors.items():
                target = state[name]
                target.copy_(torch.from_numpy(np.array(value, dtype=_numpy_dtype(target))))
    return built


def _numpy_dtype(t: torch.Tensor) -> Any:
    return torch.empty((), dtype=t.dtype).numpy().dtype


def state_dict(weights: Weights) -> dict[str, torch.Tensor]:
    """``{layer: {tensor: array}}`` → a state_dict keyed ``"<layer>.<tensor>"``."""
    return {
        f"{layer}.{name}": torch.from_numpy(np.array(value))
        for layer, tensors in weights.items()
        for name, value in tensors.items()
    }


def save_state_dict(weights: Weights, path: str | Path) -> None:
    """Write ``weights`` as a PyTorch state_dict file (``torch.save``)."""
    torch.save(state_dict(weights), path)


def from_state_dict(graph: Graph, state: dict[str, Any], source: str) -> Weights:
    """A state_dict keyed ``"<layer>.<tensor>"`` → ``{layer: {tensor: array}}``.

    Layer names never contain a dot, so the key splits at its first one.
    """
    names = {n.name for n in graph.nodes}
    if SPEC_MODULE_PREFIX.rstrip(".") not in names and all(
        k.startswith(SPEC_MODULE_PREFIX) for k in state
    ):
        state = {k.removeprefix(SPEC_MODULE_PREFIX): v for k, v in state.items()}
    out: Weights = {}
    for key, value in state.items():
        layer, dot, tensor = key.partition(".")
        if not dot or not isinstance(value, torch.Tensor):
            raise WeightsError(source, f"key {key!r} is not '<layer>.<tensor>' holding a tensor")
        out.setdefault(layer, {})[tensor] = value.detach().cpu().numpy().copy()
    return out


def load_weights_file(graph: Graph, path: str | Path) -> Weights:
    """Weights for ``graph`` from a state_dict file (loaded with ``weights_only=True``)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(str(path), f"not a readable PyTorch state_dict ({first})") from None
    if not isinstance(state, dict):
        raise WeightsError(
            str(path), f"holds a {type(state).__name__}, not a state_dict (a dict of tensors)"
        )
    return from_state_dict(graph, state, str(path))


def layer_outputs(built: Built, inputs: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Every layer's output(s) at inference, in the spec's layout (forward hooks)."""
    from backends.torch.model import outputs_of, run

    found: dict[str, list[np.ndarray]] = {}

    def hook(name: str) -> Any:
        def record(module: Any, args: Any, output: Any) -> None:
            # setdefault: a shared module runs again for each share; keep its own (first) call.
            found.setdefault(name, [t.detach().cpu().numpy().copy() for t in outputs_of(output)])

        return record

    model = built.model
    names = [n.name for n in built.graph.layers]
    handles = [model.layers[name].register_forward_hook(hook(name)) for name in names]
    try:
        run(built, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return {name: found[name] for name in names}
