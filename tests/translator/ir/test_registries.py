"""Registries refuse duplicates and malformed keys; every schema type has its rules."""

from __future__ import annotations

import pytest

from translator.ir.registries import SHAPES, WEIGHTS
from translator.registry import Registry
from translator.spec.schema import SCHEMAS, TORCH_ALIASES


def test_duplicate_registration_raises() -> None:
    registry: Registry[int] = Registry("test")
    registry.add("Dense", 1)
    with pytest.raises(KeyError, match="registered twice"):
        registry.add("Dense", 2)


def test_key_must_look_like_a_keras_class() -> None:
    with pytest.raises(ValueError, match="not a Keras-style class name"):
        Registry("test").add("dense", 1)


@pytest.mark.parametrize("layer_type", list(SCHEMAS))
def test_every_schema_type_has_shape_and_weight_rules(layer_type: str) -> None:
    assert layer_type in SHAPES
    assert layer_type in WEIGHTS


@pytest.mark.parametrize(("alias", "canonical"), sorted(TORCH_ALIASES.items()))
def test_aliases_point_at_schema_types(alias: str, canonical: str) -> None:
    assert canonical in SCHEMAS
    assert alias not in SCHEMAS


@pytest.mark.parametrize("layer_type", list(SCHEMAS))
def test_schema_entries_are_documented(layer_type: str) -> None:
    schema = SCHEMAS[layer_type]
    assert schema.doc
    for arg in schema.args:
        assert arg.doc, f"{layer_type}.{arg.name} has no doc"
