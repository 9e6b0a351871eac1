"""Reading and writing the weights of a built PyTorch model, by IR layer and tensor name.

A layer's tensors are its module's ``named_parameters()`` and ``named_buffers()`` (running
statistics and ``num_batches_tracked`` included: they are state the model needs). A saved
state_dict (``.pt``) is keyed ``"<layer>.<tensor>"`` (``lstm.weight_ih_l0``,
``time_distributed.layer.weight``, ``bn.running_mean``): the key scheme export writes and
``load_weights_file`` reads; a model's own state_dict ports a spec imported from it (see
``translator.weights.checkpoint``). The state_dict of the translator's own ``SpecModule``
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
from translator.errors import InternalError, WeightsError
from translator.ir import Graph
from translator.ir.placement import in_spec_order
from translator.weights.canonical import (
    Weights,
    check_weights,
    weight_roles,
)
from translator.weights.checkpoint import arranged, made
from translator.weights.maps import ir_names
from translator.weights.renames import renamed
from translator.weights.validate import ACCEPTED, check_dtype, expected_bytes, float32_weights

NAME = "torch"
SLACK = 2**20  # bytes a state_dict holds besides its tensors: its pickled index

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


def from_state_dict(
    graph: Graph, state: dict[str, Any], source: str, notes: list[str] | None = None
) -> Weights:
    """A state_dict → ``{layer: {tensor: array}}``: its keys matched to the spec's tensors
    (``<layer>.<tensor>``, the module-path rule, or the spec's ``checkpoint:`` section: see
    ``translator.weights.checkpoint``) and every shape checked before any tensor's data is
    copied; sparse and quantized tensors refused, bfloat16 made float32 (with a note), the
    rest as ``as_float32`` says."""
    state = {renamed(str(k)): v for k, v in state.items()}  # --map, when given
    names = {n.name for n in graph.nodes}
    if SPEC_MODULE_PREFIX.rstrip(".") not in names and all(
        k.startswith(SPEC_MODULE_PREFIX) for k in state
    ):
        state = {k.removeprefix(SPEC_MODULE_PREFIX): v for k, v in state.items()}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(source, f"key {key!r} holds a {type(value).__name__}, not a tensor")
        _check_tensor(value, source, key)
    plan = arranged(graph, {k: tuple(v.shape) for k, v in state.items()}, source)
    out = made(plan, lambda key: _to_numpy(state[key], notes))
    return float32_weights(out, weight_roles(graph, NAME), source, notes)


def _check_tensor(value: torch.Tensor, source: str, key: str) -> None:
    """A dense, unquantized tensor of a dtype a float32 weight can come from."""
    if value.layout != torch.strided:
        raise WeightsError(
            source, f"tensor '{key}' is {value.layout} (sparse); accepted: dense tensors"
        )
    if value.is_quantized:
        raise WeightsError(source, f"tensor '{key}' is quantized; {ACCEPTED}")
    if value.is_complex():
        raise WeightsError(
            source, f"tensor '{key}' holds complex numbers ({value.dtype}); {ACCEPTED}"
        )
    if value.dtype != torch.bfloat16:
        check_dtype(torch.empty((), dtype=value.dtype).numpy().dtype, source, key)


def _to_numpy(value: torch.Tensor, notes: list[str] | None) -> np.ndarray:
    """A copy in numpy (which has no bfloat16: those become float32, without loss)."""
    value = value.detach().cpu()
    if value.dtype == torch.bfloat16:
        if notes is not None:
            notes.append("bfloat16 → float32")
        value = value.float()
    return value.numpy().copy()


def _check_archive(path: Path, graph: Graph) -> None:
    """A zip (``torch.save``'s format) whose members together are no larger than the spec's
    tensors need, so that loading it stays within bounded memory."""
    source = str(path)
    if not zipfile.is_zipfile(path):
        raise WeightsError(
            source, "not a PyTorch state_dict (a zip archive, as torch.save writes since 1.6)"
        )
    limit = expected_bytes([s for n in graph.nodes for s in ir_names(n, NAME).values()]) + SLACK
    with zipfile.ZipFile(path) as archive:
        size = sum(i.file_size for i in archive.infolist())
    if size > limit:
        raise WeightsError(
            source, f"holds {size} bytes, more than the spec's weights need ({limit})"
        )


def load_weights_file(graph: Graph, path: str | Path, notes: list[str] | None = None) -> Weights:
    """Weights for ``graph`` from a state_dict file: its size bounded first, then loaded
    with ``weights_only=True`` (no pickle code runs) and memory-mapped (no data read until
    every key and shape was checked)."""
    path = Path(path)
    if path.suffix.lower() == ".pt2":  # a torch.export program: the spec is the one it imports to
        from backends.torch.importing import import_file
        from translator.commands.importing import imported_weights

        found = imported_weights(import_file(path), graph, str(path), "a state_dict .pt")
        return float32_weights(found, weight_roles(graph, NAME), str(path), notes)
    try:
        _check_archive(path, graph)
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(str(path), f"not a readable PyTorch state_dict ({first})") from None
    if not isinstance(state, dict):
        raise WeightsError(
            str(path), f"holds a {type(state).__name__}, not a state_dict (a dict of tensors)"
        )
    return from_state_dict(graph, state, str(path), notes)


def layer_outputs(built: Built, inputs: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Every layer's output(s) at inference (padding and activation steps included), in the
    spec's layout."""
    from backends.torch.model import run

    model = built.model
    model.recorded = {}
    try:
        run(built, inputs)
        found = model.recorded
    finally:
        model.recorded = None
    graph = built.graph
    return {n.name: in_spec_order(graph, n, found[n.name]) for n in graph.layers}


def program_weights(
    state: dict[str, Any],
    sources: dict[str, str],
    joined: dict[str, dict[str, list[str]]],
    graph: Graph,
    transposed: dict[str, set[str]] | None = None,
) -> Weights:
    """``{layer: {IR tensor name: array}}`` for a spec imported from a PyTorch program whose
    tensors are ``state``: each IR PyTorch tensor is the program's ``<module path>.<tensor>``
    (``sources``: layer → module path; the IR names are PyTorch's own), or the program's
    tensors ``joined`` names, concatenated (q, k and v into ``in_proj_weight``); those
    ``transposed`` names are stored (in, out) in the program and transposed first."""
    out: Weights = {}
    for node in graph.nodes:
        for weight in node.weights.get(NAME, ()):
            keys = joined.get(node.name, {}).get(weight.name)
            keys = keys or [f"{sources[node.name]}.{weight.name}"]
            if any(key not in state for key in keys):
                raise InternalError(f"layer '{node.name}' needs {keys}, not in the program")
            parts = [state[key].detach().cpu() for key in keys]
            if weight.name in (transposed or {}).get(node.name, ()):
                parts = [part.T for part in parts]  # transformers' Conv1D: weight (in, out)
            value = torch.cat(parts) if len(parts) > 1 else parts[0]  # (a 0-d one: a count)
            out.setdefault(node.name, {})[weight.name] = np.asarray(value.numpy()).copy()
    return out


def checkpoint_section(
    state: dict[str, torch.Tensor],
    sources: dict[str, str],
    joined: dict[str, dict[str, list[str]]],
    graph: Graph,
    transposed: dict[str, set[str]],
) -> dict[str, dict[str, Any]]:
    """The spec's ``checkpoint:`` entries (``translator.spec.checkpoint``) for a spec
    imported from a program whose parameters and persistent buffers (its state_dict, the
    model's own) are ``state``: each PyTorch tensor not kept as ``<module path>.<tensor>``
    (joined, transposed, or one of several names of a tied tensor) → its keys."""
    names: dict[tuple[int, tuple[int, ...]], list[str]] = {}
    for key, tensor in state.items():  # a tied tensor: one storage, several keys
        names.setdefault(_where(tensor), []).append(key)
    section: dict[str, dict[str, Any]] = {}
    for node in graph.nodes:
        for weight in node.weights.get(NAME, ()):
            own = f"{sources[node.name]}.{weight.name}"
            keys = joined.get(node.name, {}).get(weight.name) or [own]
            tied = [] if len(keys) > 1 or keys[0] not in state else names[_where(state[keys[0]])]
            keys = [own] if own in tied else keys  # its module's own name first
            also = [k for k in tied if k not in keys]
            flipped = weight.name in transposed.get(node.name, ())
            if keys != [own] or flipped or also:
                entry: dict[str, Any] = {"keys": keys}
                entry |= {"transpose": True} if flipped else {}
                section[f"{node.name}.{weight.name}"] = entry | ({"also": also} if also else {})
    return section


def _where(tensor: torch.Tensor) -> tuple[int, tuple[int, ...]]:
    return tensor.data_ptr(), tuple(tensor.shape)
