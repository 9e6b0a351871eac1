"""ONNX Batch-, Layer-, Group-, RMS- and UnitNormalization on any axis, against numpy."""

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
    "gn_sequence": ("[null, 6]", "{type: GroupNormalization, groups: 3}"),
    "gn_vector_epsilon": ("[6]", "{type: GroupNormalization, groups: 2, epsilon: 0.01}"),
    "gn_channels_first": ("[6, 3, 4]", "{type: GroupNormalization, groups: 2, axis: 1}"),
    "gn_image_no_center": ("[3, 4, 4]", "{type: GroupNormalization, groups: 4, center: false}"),
    "gn_one_group_no_scale": ("[3, 4, 4]", "{type: GroupNormalization, groups: 1, scale: false}"),
    "rms_last": ("[null, 6]", "{type: RMSNormalization}"),
    "rms_two_trailing": ("[3, 4, 5]", "{type: RMSNormalization, axis: [2, 3], epsilon: 0.01}"),
    "unit_last": ("[null, 4]", "{type: UnitNormalization}"),
    "unit_two_axes": ("[3, 4, 2]", "{type: UnitNormalization, axis: [1, 2]}"),
    "unit_first": ("[3, 4]", "{type: UnitNormalization, axis: 1}"),
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


def _group(node, x: np.ndarray, axes: tuple[int, ...], w: dict[str, np.ndarray]) -> np.ndarray:
    """Keras: the channel axis split into (groups, channels / groups), each group normalized
    over its channels and every other non-batch axis."""
    (axis,) = axes
    groups = node.args["groups"]
    moved = np.moveaxis(x, axis, -1)
    split = moved.reshape(*moved.shape[:-1], groups, -1)
    over = (*range(1, moved.ndim - 1), moved.ndim)
    mean, var = split.mean(axis=over, keepdims=True), split.var(axis=over, keepdims=True)
    y = ((split - mean) / np.sqrt(var + node.args["epsilon"])).reshape(moved.shape)
    y = y * w.get("scale", 1.0) + w.get("B", 0.0)
    return np.moveaxis(y, -1, axis)


def _rms(node, x: np.ndarray, axes: tuple[int, ...], w: dict[str, np.ndarray]) -> np.ndarray:
    mean_square = (x * x).mean(axis=axes, keepdims=True)
    return (
        x
        / np.sqrt(mean_square + node.args["epsilon"])
        * _broadcast(w["scale"], x.ndim, axes, x.shape)
    )


def _unit(node, x: np.ndarray, axes: tuple[int, ...], w: dict[str, np.ndarray]) -> np.ndarray:
    return x / np.maximum(np.sqrt((x * x).sum(axis=axes, keepdims=True)), 1e-12)


OTHERS = {"GroupNormalization": _group, "RMSNormalization": _rms, "UnitNormalization": _unit}


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
    if node.type in OTHERS:
        return OTHERS[node.type](node, x, axes, weights)
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
     "ln_no_scale", "ln_two_trailing", "gn_sequence", "gn_vector_epsilon", "gn_channels_first",
     "gn_image_no_center", "gn_one_group_no_scale", "rms_last", "rms_two_trailing",
     "unit_last", "unit_two_axes", "unit_first"],
)  # fmt: skip
def test_normalization_matches_numpy(case: str, load_spec, forward) -> None:
    node = load_spec(body(case)).layers[0]
    rng = np.random.default_rng(5)
    weights = {
        w.name: rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in node.weights["onnx"]
    }
    shape = [5 if d is None else d for d in node.input_shape]
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    (y,) = forward(body(case), {"x": x}, {node.name: weights})
    np.testing.assert_allclose(y, reference(node, x, weights), rtol=1e-4, atol=1e-5)


def test_batch_norm_carries_epsilon_and_momentum(load_spec, backend) -> None:
    built = backend.build(load_spec(body("bn_axis1")))
    (bn,) = [n for n in built.model.graph.node if n.op_type == "BatchNormalization"]
    attrs = {a.name: a for a in bn.attribute}
    assert attrs["epsilon"].f == pytest.approx(1e-3)
    assert attrs["momentum"].f == pytest.approx(0.9)
    assert attrs["training_mode"].i == 0


def test_unit_normalization_keeps_a_zero_slice_zero(forward) -> None:
    x = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]], np.float32)
    (y,) = forward(body("unit_first").replace("[3, 4]", "[3]"), {"x": x})
    np.testing.assert_allclose(y, [[0, 0, 0], [0.6, 0, 0.8]], rtol=1e-6)
