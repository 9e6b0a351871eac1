"""The ``checkpoint:`` section of a spec: where the source model's own checkpoint (its
``state_dict`` saved with ``torch.save``, or its ``.safetensors``) keeps the PyTorch tensors
it does not keep as ``<layer>.<tensor>`` under the module-path naming rule.

``import`` of a ``.pt2`` writes it for the tensors the spec joins, transposes or ties::

    checkpoint:
      transformer_h_0_attn.in_proj_weight: {keys: [transformer.h.0.attn.c_attn.weight], transpose: true}
      encoder_layer_0_attention.in_proj_bias: {keys: [encoder.layer.0.attention.self.query.bias, ...]}
      transformer_wte.weight: {keys: [transformer.wte.weight], also: [lm_head.weight]}

Each entry names one PyTorch tensor of the spec (``<layer>.<tensor>``, the IR's name) and
the checkpoint keys it is made of: joined along axis 0, each transposed first when
``transpose`` is true (transformers' Conv1D stores a Linear's weight (in, out)); ``also``
lists other names of the same tensor (a tied head's weight). Checked here against the IR:
every entry names a tensor the spec has, ``transpose`` only 2-D ones, each key read once.
"""

from __future__ import annotations

from translator.errors import InvalidArgumentValue, InvalidReference, SpecSyntaxError
from translator.ir import Node
from translator.ir.graph import Stored
from translator.spec.source import Value
from translator.spec.values import kind, mapping

FIELDS = ("keys", "transpose", "also")
ACCEPTED = "'<layer>.<tensor>': {keys: [checkpoint keys], transpose: true|false, also: [keys]}"


def parse_checkpoint(value: Value | None, nodes: dict[str, Node]) -> dict[str, Stored]:
    """The section as ``"<layer>.<tensor>"`` → ``Stored``; a ``SpecError`` for the first
    entry that names no PyTorch tensor of the spec or is malformed."""
    if value is None:
        return {}
    if not isinstance(value.value, dict):
        raise SpecSyntaxError(
            value.loc, f"'checkpoint' must be a mapping, not {kind(value.value)}", ACCEPTED
        )
    found: dict[str, Stored] = {}
    seen: set[str] = set()
    for name, item in value.value.items():
        shape = _tensor_shape(name, item, nodes)
        fields = mapping(item, f"checkpoint '{name}'", FIELDS, ("keys",))
        stored = Stored(
            _keys(fields["keys"], name, "keys", required=True),
            _flag(fields.get("transpose"), name),
            _keys(fields.get("also"), name, "also", required=False),
        )
        if stored.transpose and len(shape) != 2:
            raise InvalidArgumentValue(
                fields["transpose"].loc,
                f"checkpoint '{name}': transpose of a {len(shape)}-D tensor {shape}",
                "transpose: true for 2-D tensors only",
            )
        twice = sorted(seen.intersection((*stored.keys, *stored.also)))
        if twice or len(set(stored.keys + stored.also)) < len(stored.keys + stored.also):
            raise InvalidArgumentValue(
                item.loc,
                f"checkpoint '{name}': key {(twice or list(stored.keys + stored.also))[0]!r}"
                " is read twice",
                "each checkpoint key makes one tensor",
            )
        seen.update(stored.keys + stored.also)
        found[name] = stored
    return found


def _tensor_shape(name: str, item: Value, nodes: dict[str, Node]) -> tuple[int, ...]:
    """The IR shape of the PyTorch tensor ``<layer>.<tensor>`` names."""
    layer, _, tensor = name.partition(".")
    node = nodes.get(layer)
    shapes = {w.name: w.shape for w in node.weights.get("torch", ())} if node else {}
    if tensor not in shapes:
        accepted = (
            f"layer '{layer}' has {', '.join(shapes) or 'no PyTorch tensors'}"
            if node
            else "'<layer>.<tensor>' of a layer with weights"
        )
        raise InvalidReference(
            item.key_loc or item.loc,
            f"checkpoint '{name}' names no PyTorch tensor of the spec",
            accepted,
        )
    return shapes[tensor]


def _keys(value: Value | None, name: str, field: str, required: bool) -> tuple[str, ...]:
    """A list of checkpoint keys (non-empty when ``required``)."""
    if value is None:
        return ()
    items = value.value
    if (
        not isinstance(items, list)
        or (required and not items)
        or not all(isinstance(i.value, str) and i.value for i in items)
    ):
        raise InvalidArgumentValue(
            value.loc,
            f"checkpoint '{name}': '{field}' must be a list of keys. Received: {kind(items)}",
            "a YAML list of state_dict keys ([a.weight, b.weight])",
        )
    return tuple(str(i.value) for i in items)


def _flag(value: Value | None, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value.value, bool):
        raise InvalidArgumentValue(
            value.loc,
            f"checkpoint '{name}': 'transpose' must be true or false. Received: {kind(value.value)}",
            "true or false",
        )
    return value.value
