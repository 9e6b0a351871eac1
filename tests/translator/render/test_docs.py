"""Generated files are current, and the JSON Schema accepts every spec and names every layer."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, SPECS
from translator.render.docs import GENERATED, json_schema
from translator.spec.schema import SCHEMAS


@pytest.mark.parametrize("relative", sorted(GENERATED))
def test_generated_file_is_current(relative: str) -> None:
    committed = (ROOT / relative).read_text(encoding="utf-8")
    assert committed == GENERATED[relative](), (
        f"run `python -m translator docs` to refresh {relative}"
    )


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_every_spec_validates_and_points_at_the_schema(spec) -> None:
    text = spec.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../spec.schema.json")
    schema = json.loads((ROOT / "spec.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(text), schema)


@pytest.mark.parametrize("layer_type", [t for t in SCHEMAS if t != "Input"])
def test_every_layer_and_argument_is_in_the_schema(layer_type: str) -> None:
    entry = json_schema()["$defs"][layer_type]
    for arg in SCHEMAS[layer_type].args:
        assert arg.name in entry["properties"]


def test_schema_rejects_a_typo() -> None:
    bad = {
        "name": "m",
        "inputs": [{"name": "x", "shape": [3]}],
        "layers": [{"type": "Dense", "unit": 3}],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_schema())
