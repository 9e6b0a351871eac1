"""ONNX BatchNormalization and LayerNormalization on any axis, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

CASES = {
    "bn_dense": ("[4]", "{type: BatchNormalization}"),
    "bn_sequence_last_axis": ("[null, 3]", "{type: BatchNormalization, epsilon: 0.01}"),
    "bn_axis1": ("[3, 5]", "{type: BatchNormalization, axis: 1, momentum: 0.9}"),
    "bn_image_channels_last": ("[4, 4, 3]", "{type: BatchNormalization, axis: 3}"),
    "bn_image_channels_first": ("[3, 4, 5]", "{type: BatchNormalization, axis: 1}"),
    "bn_no_scale": ("[2, 3]", "{type: BatchNormalization, scale: false}"),
    "bn_no_center_no_scale": ("[6]", "{type: BatchNormalization, center: false, scale: false}"),
    "ln_last": ("[null, 4]", "{type: LayerNormalization}"),
    "ln_two_trailing": ("[3, 4]", "{type: LayerNormalization, axis: [1, 2]}"),
    "ln_middle": ("[3, 4, 2]", "{type: LayerNormalization, axis: 2, epsilon: 1e-5}"),
    "ln_first_and_last": ("[3, 4, 2]", "{type: LayerNormalization, axis: [1, -1]}"),
    "ln_no_scale": ("[5]", "{type: LayerNormalization, scale: false}"),
    "ln_no_center": ("[5]", "{type: LayerNormalization, center: false}"),
}


def body(case: str) -> str:
    shape, layer = CASES[case]
    return f"inputs: [{{name: x, shape: {shape}}}]\nlayers: [{layer}]\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_normalization_layer(case: str, check) -> None:
    check(body(case))


def _broadcast(vector: np.ndarray, rank: int, axes: tuple[int, ...], shape) -> np.ndarray:
    full = [1] * rank
    for axis in axes:
        full[axis] = shape[axis]
    return vector.reshape(full)


def reference(node, x: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """Keras's inference-time normalization with the given (ONNX-named) weights."""
    a = node.args
    axes = tuple(
        sorted(i % x.ndim for i in (a["axis"] if isinstance(a["axis"], tuple) else (a["axis"],)))
    )
    if node.type == "BatchNormalization":
        mean, var = weights["input_mean"], weights["input_var"]
        gamma, beta = weights.get("scale", 1.0), weights.get("B", 0.0)
        shaped = [_broadcast(np.asarray(v) * np.ones_like(mean), x.ndim, axes, x.shape)
                  for v in (mean, var, gamma, beta)]  # fmt: skip
        return (x - shaped[0]) / np.sqrt(shaped[1] + a["epsilon"]) * shaped[2] + shaped[3]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + a["epsilon"])
    if "Scale" in weights:
        out = out * _broadcast(weights["Scale"], x.ndim, axes, x.shape)
    if "B" in weights:
        out = out + _broadcast(weights["B"], x.ndim, axes, x.shape)
    return out


@pytest.mark.parametrize(
    "case",
    ["bn_axis1", "bn_image_channels_last", "bn_no_scale", "ln_middle", "ln_first_and_last",
     "ln_no_scale", "ln_two_trailing"],
)  # fmt: skip
def test_normalization_matches_numpy(case: str, load_spec, forward) -> None:
    node = load_spec(body(case)).layers[0]
    rng = np.random.default_rng(5)
    weights = {
        w.name: rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in node.weights["onnx"]
    }
    x = rng.standard_normal((2, *node.input_shape)).astype(np.float32)
    (y,) = forward(body(case), {"x": x}, {node.name: weights})
    np.testing.assert_allclose(y, reference(node, x, weights), rtol=1e-4, atol=1e-5)


def test_batch_norm_carries_epsilon_and_momentum(load_spec, backend) -> None:
    built = backend.build(load_spec(body("bn_axis1")))
    (bn,) = [n for n in built.model.graph.node if n.op_type == "BatchNormalization"]
    attrs = {a.name: a for a in bn.attribute}
    assert attrs["epsilon"].f == pytest.approx(1e-3)
    assert attrs["momentum"].f == pytest.approx(0.9)
    assert attrs["training_mode"].i == 0
