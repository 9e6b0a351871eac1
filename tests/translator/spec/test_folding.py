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


def _resnet_unit(p: str, previous: str, shortcut: bool) -> list[dict[str, Any]]:
    """A bottleneck unit named ``p``, as keras.applications names them (ResNet50's
    ``conv2_block1``, EfficientNet's ``block2a``); the first of a stage has a shortcut."""
    layers: list[dict[str, Any]] = []
    if shortcut:
        layers += [
            {"name": f"{p}_0_conv", "type": "Conv2D", "filters": 8, "kernel_size": 1},
            {"name": f"{p}_0_bn", "type": "BatchNormalization"},
        ]
    into = f"{p}_0_bn" if shortcut else previous
    return [
        *layers,
        {
            "name": f"{p}_1_conv",
            "type": "Conv2D",
            "filters": 4,
            "kernel_size": 1,
            "inputs": previous,
        },
        {"name": f"{p}_1_bn", "type": "BatchNormalization"},
        {"name": f"{p}_1_relu", "type": "Activation", "activation": "relu"},
        {"name": f"{p}_2_conv", "type": "Conv2D", "filters": 8, "kernel_size": 1},
        {"name": f"{p}_add", "type": "Add", "inputs": [into, f"{p}_2_conv"]},
        {"name": f"{p}_out", "type": "Activation", "activation": "relu"},
    ]


def _resnet(units: list[str], shortcut_first: bool = True) -> dict[str, Any]:
    """A stem, a stage of units named ``units``, a pooling."""
    layers: list[dict[str, Any]] = [
        {"name": "stem", "type": "Conv2D", "filters": 8, "kernel_size": 1}
    ]
    for k, unit in enumerate(units):
        layers += _resnet_unit(unit, layers[-1]["name"], shortcut_first and k == 0)
    layers += [{"name": "pool", "type": "GlobalAveragePooling2D"}]
    return {"name": "resnet", "inputs": [{"name": "image", "shape": [8, 8, 3]}], "layers": layers}


RESNET = [f"conv2_block{n}" for n in (1, 2, 3, 4)]
EFFICIENTNET = [f"block2{c}" for c in "abcd"]


@pytest.mark.parametrize(
    ("units", "shortcut_first", "instance"),
    [
        (RESNET, True, {"repeat": 3, "first": 2, "copy_names": "conv2_block{n}"}),
        (RESNET, False, {"repeat": 4, "copy_names": "conv2_block{n}"}),
        (EFFICIENTNET, True, {"repeat": 3, "first": "b", "copy_names": "block2{n}"}),
        (EFFICIENTNET, False, {"repeat": 4, "first": "a", "copy_names": "block2{n}"}),
    ],
    ids=[
        "numbered, the first apart",
        "numbered, all alike",
        "lettered, the first apart",
        "lettered",
    ],
)
def test_keras_applications_copies_fold_by_the_count_inside_their_names(
    units: list[str], shortcut_first: bool, instance: dict[str, Any]
) -> None:
    """keras.applications counts a stage's units inside a name (ResNet50's
    ``conv2_block2_1_conv``, DenseNet's ``conv2_block2_0_bn``, EfficientNet's ``block2b_...``):
    the units alike fold, a first unit that differs (a projection shortcut) stays before the
    instance, and the folded spec expands to the flat one's names."""
    folded, graph, flat = _fold(_resnet(units, shortcut_first))
    name = instance["copy_names"].removesuffix("{n}")
    kept = [layer.get("block", layer["name"]) for layer in folded["layers"]]
    assert kept == [
        "stem",
        *[f"{units[0]}_{r}" for r in RESNET_FIRST if shortcut_first],
        name,
        "pool",
    ]
    assert folded["layers"][-2] == {"block": name, "name": name, **instance}
    local = [layer["name"] for layer in folded["blocks"][name]["layers"]]
    assert local == ["1_conv", "1_bn", "1_relu", "2_conv", "add", "out"]
    assert [n.name for n in graph.nodes] == [n.name for n in flat.nodes]
    assert graph.node("pool").inputs == (f"{units[-1]}_out",)
    assert f"copy_names: '{name}{{n}}'" in spec_text(folded)


# The first unit's layers as the flat spec keeps them, the shortcut first.
RESNET_FIRST = ["0_conv", "0_bn", "1_conv", "1_bn", "1_relu", "2_conv", "add", "out"]


def test_units_that_differ_in_an_argument_stay_flat() -> None:
    """EfficientNet's stochastic depth grows from unit to unit (its Dropout's rate): no two
    units alike, nothing folds."""
    spec = _resnet(RESNET, shortcut_first=False)
    convs = [layer for layer in spec["layers"] if layer["name"].endswith("_1_conv")]
    for k, layer in enumerate(convs):
        layer["filters"] = 4 + k
    folded, _, _ = _fold(spec)
    assert folded is spec
