"""Folding an imported spec's repeated layers into a block with ``repeat``: the folded spec
loads to the same layers, arguments, shapes and weights, its copies numbered as the model's
modules are; anything that is not a clean run of copies stays flat."""

from __future__ import annotations

from typing import Any

import pytest

from translator.commands.importing import spec_text
from translator.spec.folding import fold
from translator.spec.loader import load_text


def _layer(n: int, previous: str) -> list[dict[str, Any]]:
    """One GPT-2-like decoder layer as an importer writes it: numbered module names, the
    residual adds named by the operation's count."""
    p = f"transformer_h_{n}"
    return [
        {"name": f"{p}_ln_1", "type": "LayerNormalization", "inputs": previous},
        {"name": f"{p}_attn", "type": "MultiHeadAttention", "num_heads": 2, "key_dim": 4},
        {"name": f"add_{2 * n + 1}", "type": "Add", "inputs": [f"{p}_attn", previous]},
        {"name": f"{p}_ln_2", "type": "LayerNormalization"},
        {"name": f"{p}_mlp_c_fc", "type": "Dense", "units": 16, "activation": "gelu"},
        {"name": f"{p}_mlp_c_proj", "type": "Dense", "units": 8},
        {
            "name": f"add_{2 * n + 2}",
            "type": "Add",
            "inputs": [f"add_{2 * n + 1}", f"{p}_mlp_c_proj"],
        },
    ]


def _flat(copies: int, **change: Any) -> dict[str, Any]:
    layers = [{"name": "wte", "type": "Embedding", "input_dim": 50, "output_dim": 8}]
    for n in range(copies):
        layers += _layer(n, layers[-1]["name"])
    for index, args in change.items():
        layers[int(index.removeprefix("at"))].update(args)
    layers.append({"name": "ln_f", "type": "LayerNormalization"})
    return {
        "name": "gpt",
        "inputs": [{"name": "ids", "shape": [6], "dtype": "int32"}],
        "layers": layers,
    }


def _fold(spec: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    flat = load_text(spec_text(spec))
    folded, graph = fold(spec, flat, lambda s: load_text(spec_text(s)))
    return folded, graph, flat


def test_copies_fold_into_one_block_numbered_from_zero() -> None:
    folded, graph, flat = _fold(_flat(3))
    assert [layer.get("block", layer["name"]) for layer in folded["layers"]] == [
        "wte",
        "transformer_h",
        "ln_f",
    ]
    instance = folded["layers"][1]
    assert instance == {"block": "transformer_h", "name": "transformer_h", "repeat": 3, "first": 0}
    block = folded["blocks"]["transformer_h"]["layers"]
    assert [layer["name"] for layer in block] == [
        "ln_1",
        "attn",
        "add",
        "ln_2",
        "mlp_c_fc",
        "mlp_c_proj",
        "add_1",
    ]
    assert block[0]["inputs"] == "x" and block[2]["inputs"] == ["attn", "x"]
    weighted = [n.name for n in flat.nodes if n.weights.get("keras")]
    assert [n.name for n in graph.nodes if n.weights.get("keras")] == weighted
    assert graph.node("ln_f").inputs == ("transformer_h_2_add_1",)


# What keeps a spec flat: (description, the change to the flat spec's layers)
STAY_FLAT = {
    "one copy's argument differs": {"at12": {"units": 12}},
    "a copy named out of order": {"at12": {"name": "transformer_h_7_mlp_c_fc"}},
}


@pytest.mark.parametrize("case", sorted(STAY_FLAT))
def test_what_is_not_a_run_of_copies_stays_flat(case: str) -> None:
    spec = _flat(2, **STAY_FLAT[case])
    folded, _, _ = _fold(spec)
    assert folded is spec


def test_a_layer_read_from_outside_the_run_keeps_it_flat() -> None:
    spec = _flat(2)
    spec["outputs"] = ["ln_f", "transformer_h_0_attn"]
    folded, _, _ = _fold(spec)
    assert folded is spec


def test_a_further_input_reaches_every_copy() -> None:
    spec = _flat(2)
    spec["inputs"].append({"name": "memory", "shape": [6, 8]})
    spec["layers"][0]["inputs"] = "ids"
    for layer in spec["layers"]:
        if layer["type"] == "MultiHeadAttention":
            layer["inputs"] = [layer.get("inputs", layer["name"].replace("attn", "ln_1")), "memory"]
    folded, graph, _ = _fold(spec)
    assert folded["blocks"]["transformer_h"]["inputs"] == ["x", "memory"]
    assert folded["layers"][1]["inputs"] == ["wte", "memory"]
    assert graph.node("transformer_h_1_attn").inputs == ("transformer_h_1_ln_1", "memory")
