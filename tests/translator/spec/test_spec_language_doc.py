"""Every complete spec in ``docs/spec-language.md`` loads, and names its layers as the page
says."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from translator.spec.loader import load_text

PAGE = (ROOT / "docs" / "spec-language.md").read_text()
SPECS = {
    text.split("\n", 1)[0].removeprefix("name: "): text
    for text in re.findall(r"```yaml\n(name: .*?)```", PAGE, re.S)
}
# spec → layer names the page promises
NAMES = {
    "two_residual_units": ["unit1_conv2d", "unit1_bn", "unit1_add", "residual_add"],
    "tiny_decoder_stack": ["h_1_attn", "h_3_mlp_add", "ln_f"],
    "siamese": ["encoder", "encoder_right"],
    "tied_lm": ["wte", "lm_head"],
    "resnet_stage": ["conv2_block2_1_conv", "conv2_block3_out", "pool"],
    "numbered_stack": ["stem_fc", "stem_proj", "layers_0_fc", "layers_1_proj"],
}


def test_the_page_has_the_examples() -> None:
    assert set(NAMES) <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_example_loads(name: str) -> None:
    graph = load_text(SPECS[name], f"docs/spec-language.md#{name}")
    nodes = [node.name for node in graph.nodes]
    assert all(layer in nodes for layer in NAMES.get(name, [])), nodes


def test_a_frozen_instance_freezes_its_layers() -> None:
    graph = load_text(SPECS["numbered_stack"])
    frozen = {node.name for node in graph.nodes if not node.trainable}
    assert frozen == {"stem_fc", "stem_proj"}
