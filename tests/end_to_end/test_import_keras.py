"""``import`` from Keras, through the command line: every spec under ``specs/`` exported to
``model.keras`` and imported back counts exactly as the original in every framework and its
weights reproduce the original model's outputs; keras.applications models count as Keras
counts them; shared layers come back as ``share:``; a Lambda layer is refused in one line,
and a layer no importer claims is listed with its parameter count, the rest written as a
partial spec (a stand-in input where a kept layer reads an unclaimed one) and a report.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import backends
from tests.conftest import ROOT, SPECS
from tests.imports import (
    NATIVE,
    ZOO_ROUND_TRIP,
    ZOO_TOO_LARGE,
    assert_same_weights,
    count_totals,
    run_import,
    run_partial_import,
    weighted_layers,
)
from translator.cli import main
from translator.commands.port import random_canonical
from translator.ir.sample import sample_inputs
from translator.spec.loader import load
from translator.weights.canonical import from_canonical, to_canonical
from translator.weights.files import load_any, load_canonical

KERAS = backends.load("keras")
import keras  # noqa: E402  (after the backend: it sets Keras's backend and quiets TensorFlow)

from backends.keras import export as keras_export  # noqa: E402

ZOO = ROOT / "specs" / "zoo"
ATOL = 1e-5  # float32 through the same kernels: the differences seen are below 1e-6


def yaml_layers(spec: Path) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = yaml.safe_load(spec.read_text(encoding="utf-8"))["layers"]
    return layers


def _outputs(model: Any, feed: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(t) for t in keras.tree.flatten(model(feed, training=False))]


def _assert_reproduces(original: Any, spec: Path, weights: Path) -> None:
    """Our Keras model of the imported spec, holding the imported weights, gives the
    original model's outputs on the same input."""
    graph = load(str(spec))
    built = KERAS.set_weights(
        KERAS.build(graph), from_canonical(graph, "keras", load_canonical(graph, weights))
    )
    inputs = sample_inputs(graph, 0)
    expected = _outputs(original, [inputs[name] for name in graph.inputs])
    got = KERAS.run(built, inputs)
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=ATOL, rtol=0)


def _exported(spec: Path, out: Path) -> Path:
    graph = load(str(spec))
    weights = from_canonical(graph, "keras", random_canonical(graph, 3))
    out.mkdir()
    keras_export.export(graph, weights, out)
    return out / keras_export.FILE


# Fixtures whose model.keras does not round-trip, each with its reason.
NOT_HERE = {
    "transposes": pytest.mark.skip(
        reason="TensorFlow's CPU kernels refuse a dilated Conv2DTranspose: the exported"
        " model.keras cannot run here (Conv2DBackpropInput)"
    ),
}
# Every spec under specs/, the native-export fixtures, and the zoo's smaller models
# (tests/imports.py says why not the others).
ROUND_TRIP = [
    *(pytest.param(p, id=p.stem, marks=NOT_HERE.get(p.stem, ())) for p in [*SPECS, *NATIVE]),
    *(pytest.param(ZOO / f"{name}.yaml", id=name) for name in ZOO_ROUND_TRIP),
    *(
        pytest.param(ZOO / f"{name}.yaml", id=name, marks=pytest.mark.skip(reason=why))
        for name, why in ZOO_TOO_LARGE.items()
    ),
]


@pytest.mark.parametrize("spec", ROUND_TRIP)
def test_exported_spec_imports_back(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _exported(spec, tmp_path / "export")
    imported, weights = run_import(source, tmp_path, capsys)
    original, again = count_totals(capsys, spec, imported)
    assert again == original
    assert weighted_layers(capsys, imported) == weighted_layers(capsys, spec)
    # What _exported wrote, as Keras holds it (a recurrent layer's two biases summed in one).
    graph = load(str(spec))
    written = from_canonical(graph, "keras", random_canonical(graph, 3))
    held = to_canonical(graph, "keras", written)
    assert_same_weights(held, load_canonical(load(str(imported)), weights))
    model = keras.saving.load_model(source, compile=False)
    _assert_reproduces(model, imported, weights)


def test_port_of_the_imported_spec_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _exported(next(s for s in SPECS if s.stem == "two_input_model"), tmp_path / "x")
    imported, weights = run_import(source, tmp_path, capsys)
    args = ["port", str(imported), "--weights", str(weights), "--from", "keras"]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def _save(model: Any, path: Path) -> Path:
    if path.suffix == ".h5":
        with warnings.catch_warnings():  # Keras calls .h5 "legacy" when it writes one
            warnings.simplefilter("ignore", UserWarning)
            model.save(path)
    else:
        model.save(path)
    return path


APPLICATIONS: dict[str, Callable[[], Any]] = {
    "convnext_tiny": lambda: keras.applications.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3)),
    "densenet121": lambda: keras.applications.DenseNet121(weights=None, input_shape=(32, 32, 3)),
    "efficientnet_b0": lambda: keras.applications.EfficientNetB0(
        weights=None, input_shape=(32, 32, 3)
    ),
    "efficientnet_v2_b0": lambda: keras.applications.EfficientNetV2B0(
        weights=None, input_shape=(32, 32, 3)
    ),
    "inception_v3": lambda: keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3)),
    "inception_resnet_v2": lambda: keras.applications.InceptionResNetV2(
        weights=None, input_shape=(75, 75, 3)
    ),
    "mobilenet_v2": lambda: keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3)),
    "mobilenet_v3_small": lambda: keras.applications.MobileNetV3Small(
        weights=None, input_shape=(32, 32, 3)
    ),
    "nasnet_mobile": lambda: keras.applications.NASNetMobile(weights=None, input_shape=(32, 32, 3)),
    "resnet50": lambda: keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3)),
    "resnet50_v2": lambda: keras.applications.ResNet50V2(weights=None, input_shape=(32, 32, 3)),
    # Without its 120M-parameter head: the same convolutions, a file a tenth the size.
    "vgg16": lambda: keras.applications.VGG16(
        weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max"
    ),
    "xception": lambda: keras.applications.Xception(weights=None, input_shape=(71, 71, 3)),
}
# The families whose imported spec is also run, with the imported weights, against the
# original model: one of each kind of construct the importer reads (keras.ops arithmetic,
# nested models, LayerScale, stochastic-depth Dropout, preprocessing layers).
REPRODUCED = {"convnext_tiny", "efficientnet_b0", "mobilenet_v2", "mobilenet_v3_small"}


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_keras_application_counts_as_keras(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = APPLICATIONS[name]()
    source = _save(model, tmp_path / f"{name}.keras")
    spec, weights = run_import(source, tmp_path, capsys)
    (totals,) = count_totals(capsys, spec)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert totals["keras"] == {
        "total": model.count_params(),
        "trainable": trainable,
        "non_trainable": model.count_params() - trainable,
    }
    if name in REPRODUCED:
        _assert_reproduces(model, spec, weights)


def test_resnet50_folds_its_stages_into_repeated_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """keras.applications' ResNet50 names its units ``conv2_block2_1_conv``: each stage's
    units after the first (which has a projection shortcut) fold into one block with
    ``repeat``, and the folded spec counts exactly and takes the imported weights."""
    model = APPLICATIONS["resnet50"]()
    spec, weights = run_import(_save(model, tmp_path / "resnet50.keras"), tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    for stage, repeat in ((2, 2), (3, 3), (4, 5), (5, 2)):
        block = f"conv{stage}_block"
        instance = (
            f"  - {{block: {block}, name: {block}, repeat: {repeat}, first: 2,"
            f" copy_names: '{block}{{n}}'}}\n"
        )
        assert instance in text
    assert "  - {name: conv3_block1_1_conv, type: Conv2D, filters: 128, kernel_size: 1," in text
    (totals,) = count_totals(capsys, spec)
    assert totals["keras"]["total"] == model.count_params()
    graph = load(str(spec))
    assert sorted(n.name for n in graph.nodes) == sorted(
        [graph.inputs[0], *(layer.name for layer in model.layers[1:])]
    )
    assert len(load_canonical(graph, weights)) == len(model.weights)


def _shared_model() -> Any:
    left, right = keras.Input((6,), name="left"), keras.Input((6,), name="right")
    encode = keras.layers.Dense(4, activation="tanh", name="encode")
    merged = keras.layers.Concatenate(name="both")([encode(left), encode(right)])
    return keras.Model([left, right], keras.layers.Dense(1, name="score")(merged), name="siamese")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_layer_called_twice_is_shared(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _shared_model()
    spec, weights = run_import(_save(model, tmp_path / f"siamese{suffix}"), tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert "{name: encode_1, share: encode, inputs: right}" in text
    assert "{name: both, type: Concatenate, inputs: [encode, encode_1]}" in text
    (totals,) = count_totals(capsys, spec)
    assert totals["keras"]["total"] == model.count_params() == 6 * 4 + 4 + 8 + 1
    _assert_reproduces(model, spec, weights)


def test_a_factory_returning_a_keras_model_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, weights = tmp_path / "siamese.yaml", tmp_path / "siamese.npz"
    source = "tests.end_to_end.test_import_keras:_shared_model"
    assert main(["import", source, "--out", str(spec), "--weights-out", str(weights)]) == 0
    assert capsys.readouterr().out.startswith(f"{source}: imported from keras\n")
    assert "{name: encode_1, share: encode, inputs: right}" in spec.read_text(encoding="utf-8")


def test_a_plain_chain_needs_no_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = keras.Input((5, 3), name="series")
    y = keras.layers.LSTM(4, return_sequences=True, name="lstm")(x)
    y = keras.layers.TimeDistributed(keras.layers.Dense(2, name="inner"), name="per_step")(y)
    model = keras.Model(x, y, name="chain")
    spec, _ = run_import(_save(model, tmp_path / "chain.keras"), tmp_path, capsys)
    assert spec.read_text(encoding="utf-8") == (
        "name: chain\n"
        "inputs:\n"
        "  - {name: series, shape: [5, 3]}\n"
        "layers:\n"
        "  - {name: lstm, type: LSTM, units: 4, return_sequences: true}\n"
        "  - {name: per_step, type: TimeDistributed, layer: {name: inner, type: Dense, units: 2}}\n"
    )


def test_a_sequential_model_imports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = keras.Sequential(
        [keras.Input((6,), name="features"), keras.layers.Dense(3, name="hidden")], name="seq"
    )
    spec, weights = run_import(_save(model, tmp_path / "seq.keras"), tmp_path, capsys)
    assert spec.read_text(encoding="utf-8").splitlines()[0] == "name: seq"
    _assert_reproduces(model, spec, weights)


def _arithmetic_model() -> Any:
    x = keras.Input((4, 3), name="x")
    y = keras.layers.Dense(3, name="dense")(x)
    hard = keras.layers.ReLU(6.0, name="relu6")(y + 3.0) * (1.0 / 6.0)  # MobileNetV3's gate
    mixed = (2.0 - hard) * y - x  # a number on the left, then two tensors
    return keras.Model(x, keras.ops.maximum(mixed, x), name="arithmetic")


def test_keras_ops_arithmetic_imports_as_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _arithmetic_model()
    spec, weights = run_import(_save(model, tmp_path / "ops.keras"), tmp_path, capsys)
    # Keras numbers operations across the process (add, add_1, ...): read them in call order.
    layers = [
        {k: v for k, v in layer.items() if k not in ("name", "inputs")}
        for layer in yaml_layers(spec)
    ]
    assert layers == [
        {"type": "Dense", "units": 3},
        {"type": "Rescaling", "scale": 1.0, "offset": 3.0},  # y + 3
        {"type": "ReLU", "max_value": 6.0},
        {"type": "Rescaling", "scale": 1.0 / 6.0},  # * (1 / 6)
        {"type": "Rescaling", "scale": -1.0, "offset": 2.0},  # 2 - hard
        {"type": "Multiply"},
        {"type": "Subtract"},
        {"type": "Maximum"},
    ]
    _assert_reproduces(model, spec, weights)


def test_inception_resnets_scaled_residual_imports_as_rescaling_and_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """keras.applications InceptionResNetV2's ``CustomScaleLayer`` (``x + branch * 0.17``):
    the branch goes through a Rescaling, then an Add; the model's output reproduced."""
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    x = keras.Input((4,), name="x")
    branch = keras.layers.Dense(4, name="branch")(x)
    model = keras.Model(x, CustomScaleLayer(0.17, name="block35_1")([x, branch]))
    spec, weights = run_import(_save(model, tmp_path / "scaled.keras"), tmp_path, capsys)
    assert yaml_layers(spec)[1:] == [
        {"name": "block35_1_scale", "type": "Rescaling", "scale": 0.17},
        {"name": "block35_1", "type": "Add", "inputs": ["x", "block35_1_scale"]},
    ]
    _assert_reproduces(model, spec, weights)


def _attention_model() -> Any:
    x, memory = keras.Input((5, 8), name="x"), keras.Input((3, 6), name="memory")
    attended = keras.layers.MultiHeadAttention(2, 4, name="self_attn")(x, x, use_causal_mask=True)
    cross = keras.layers.MultiHeadAttention(2, 3, value_dim=5, use_bias=False, name="cross")
    grouped = keras.layers.GroupQueryAttention(4, 4, 2, name="grouped")
    return keras.Model([x, memory], grouped(cross(attended, memory), attended), name="attn")


def test_keras_attention_layers_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """MultiHeadAttention (causal from the call's use_causal_mask; cross-attention with other
    value heads) and GroupQueryAttention: self-attention's repeated inputs left out."""
    model = _attention_model()
    spec, weights = run_import(_save(model, tmp_path / "attention.keras"), tmp_path, capsys)
    assert yaml_layers(spec) == [
        {"name": "self_attn", "type": "MultiHeadAttention", "num_heads": 2, "key_dim": 4,
         "causal": True, "inputs": "x"},
        {"name": "cross", "type": "MultiHeadAttention", "num_heads": 2, "key_dim": 3,
         "value_dim": 5, "use_bias": False, "inputs": ["self_attn", "memory"]},
        {"name": "grouped", "type": "GroupQueryAttention", "head_dim": 4, "num_query_heads": 4,
         "num_key_value_heads": 2, "inputs": ["cross", "self_attn"]},
    ]  # fmt: skip
    _assert_reproduces(model, spec, weights)


def test_an_attention_mask_input_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, mask = keras.Input((5, 8), name="x"), keras.Input((5, 5), name="mask", dtype="bool")
    attended = keras.layers.MultiHeadAttention(2, 4, name="attn")(x, x, attention_mask=mask)
    source = _save(keras.Model([x, mask], attended), tmp_path / "masked.keras")
    assert main(["import", str(source), "--out", str(tmp_path / "s.yaml")]) == 1
    assert (
        "called with attention_mask: a spec's attention takes no masks" in capsys.readouterr().err
    )


def test_a_division_is_listed_not_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = keras.Input((3,), name="x")
    model = keras.Model(x, keras.layers.Dense(2, name="dense")(x) / 3.0)
    code = main(
        ["import", str(_save(model, tmp_path / "div.keras")), "--out", str(tmp_path / "s.yaml")]
    )
    err = capsys.readouterr().err
    assert code == 1 and "a keras.ops operation no importer claims; accepted: Add," in err
    # The division made the output: the partial spec ends with the layer before it.
    assert (
        (tmp_path / "s.yaml")
        .read_text(encoding="utf-8")
        .endswith(
            "  - {name: dense, type: Dense, units: 2}\n"
            "  # TODO: true_divide (TrueDivide, 0 parameters) not imported: a keras.ops operation"
            " no importer claims; accepted: Add, Maximum, Minimum, Multiply, Subtract\n"
        )
    )


def test_nested_models_are_inlined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stem = keras.Sequential(
        [
            keras.layers.Dense(4, name="stem_dense"),
            keras.layers.LayerNormalization(name="stem_norm"),
        ],
        name="stem",
    )
    inner_in = keras.Input((4,), name="inner_in")
    head = keras.Model(inner_in, keras.layers.Dense(2, name="head_dense")(inner_in), name="head")
    x = keras.Input((5,), name="x")
    model = keras.Model(x, head(stem(x)), name="nested")
    spec, weights = run_import(_save(model, tmp_path / "nested.keras"), tmp_path, capsys)
    names = [layer["name"] for layer in yaml_layers(spec)]
    assert names == ["stem_dense", "stem_norm", "head_dense"]
    _assert_reproduces(model, spec, weights)
    # The model's own file, nested as it is, fits the flat spec by the layer names it holds.
    source = tmp_path / "nested.keras"
    kind, from_source = load_any(load(str(spec)), source)
    assert kind == "keras"
    for key, value in load_canonical(load(str(spec)), weights).items():
        np.testing.assert_array_equal(from_source[key], value)


def test_frozen_layers_import_as_trainable_false(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A frozen layer (``trainable=False``) comes back as ``trainable: false``, and the spec
    counts its weights as Keras does: non-trainable."""
    x = keras.Input((5, 3), name="series")
    y = keras.layers.Dense(4, name="frozen", trainable=False)(x)
    y = keras.layers.BatchNormalization(name="bn", trainable=False)(y)
    inner = keras.layers.Dense(2, name="inner", trainable=False)
    y = keras.layers.TimeDistributed(inner, name="per_step")(y)
    model = keras.Model(x, keras.layers.Dense(2, name="head")(y), name="frozen")
    spec, weights = run_import(_save(model, tmp_path / "frozen.keras"), tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert "{name: frozen, type: Dense, units: 4, trainable: false}" in text
    assert "{name: bn, type: BatchNormalization, trainable: false}" in text
    assert "layer: {name: inner, type: Dense, units: 2, trainable: false}" in text
    (totals,) = count_totals(capsys, spec)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == 2 * 2 + 2  # the head alone
    assert totals["keras"] == {
        "total": model.count_params(),
        "trainable": trainable,
        "non_trainable": model.count_params() - trainable,
    }
    _assert_reproduces(model, spec, weights)


def test_an_adapted_normalization_imports_with_its_statistics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``adapt`` fills mean, variance and count; the spec carries mean and variance (the
    count is unused at inference) and reproduces the outputs."""
    x = keras.Input((4, 3), name="series")
    per_feature = keras.layers.Normalization(name="per_feature")
    rng = np.random.default_rng(0)
    per_feature.adapt(rng.normal(2.0, 3.0, (64, 4, 3)).astype("float32"))
    grid = keras.layers.Normalization(axis=(1, 2), invert=True, name="grid")
    given = keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.5], name="given")
    model = keras.Model(x, given(grid(per_feature(x))), name="normalized")
    grid.adapt(rng.normal(size=(16, 4, 3)).astype("float32"))
    spec, weights = run_import(_save(model, tmp_path / "normalized.keras"), tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert "{name: per_feature, type: Normalization}" in text
    assert "{name: grid, type: Normalization, axis: [1, 2], invert: true}" in text
    assert (
        "{name: given, type: Normalization, mean: [1.0, 2.0, 3.0], variance: [4.0, 1.0, 0.5]}"
        in text
    )
    (totals,) = count_totals(capsys, spec)
    assert totals["keras"] == {
        "total": model.count_params(),
        "trainable": 0,
        "non_trainable": 3 + 3 + 1 + 12 + 12 + 1,
    }
    _assert_reproduces(model, spec, weights)


def test_a_lambda_layer_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = keras.Input((4,), name="x")
    doubled = keras.layers.Lambda(lambda t: t * 2, name="double")(x)
    source = _save(keras.Model(x, keras.layers.Dense(2)(doubled)), tmp_path / "lambda.keras")
    out = tmp_path / "never.yaml"
    assert main(["import", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {source}: Keras cannot load it in safe mode (")
    assert "`Lambda` layer" in err
    assert err.endswith(
        "; accepted: a .keras or .h5 model of built-in layers (no Lambda layers, no custom code)\n"
    )
    assert not out.exists()


def _one_layer_model(layer: Any) -> Any:
    x = keras.Input((5, 8), name="x")
    y = layer(x, x) if isinstance(layer, keras.layers.MultiHeadAttention) else layer(x)
    y = keras.layers.Dense(3, name="head")(y)
    return keras.Model(x, y, name="one_layer")


# Layers no importer claims, and why: a class without an importer, or a configuration the
# spec cannot express.
REFUSED: dict[str, tuple[Callable[[], Any], str]] = {
    "Rescaling per channel": (
        lambda: keras.layers.Rescaling([0.5, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0], name="odd"),
        "invalid value for 'scale'",
    ),
    "MultiHeadAttention gated": (
        lambda: keras.layers.MultiHeadAttention(2, 3, use_gate=True, name="odd"),
        "use_gate=True has no spec equivalent",
    ),
    "a class without an importer": (
        lambda: keras.layers.GaussianNoise(0.1, name="odd"),
        "no importer for this Keras class",
    ),
    "a name that is no spec name": (
        lambda: keras.layers.Dense(4, name="odd-name"),
        "its name is not a spec name ([A-Za-z_][A-Za-z0-9_]*)",
    ),
    "LSTM unrolled": (
        lambda: keras.layers.LSTM(4, name="odd", return_sequences=True, unroll=True),
        "unroll=True has no spec equivalent",
    ),
    "Conv1D with an unknown activation": (
        lambda: keras.layers.Conv1D(4, 2, name="odd", activation="hard_shrink"),
        "Conv1D: invalid value for 'activation'. Received: activation='hard_shrink'; accepted: null,",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_unclaimed_layer_is_listed_and_the_rest_written_as_a_partial_spec(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, reason = REFUSED[case]
    model = _one_layer_model(make())
    name = model.layers[1].name
    source = _save(model, tmp_path / "odd.keras")
    spec, report, lines = run_partial_import(source, tmp_path, capsys)
    layer = model.get_layer(name)
    params = layer.count_params()
    assert lines[0] == (
        f"{source}: partly imported: 1 layer(s) no importer claims (a partial spec and a"
        " report written)"
    )
    assert lines[1].split()[:3] == [name, type(layer).__name__, f"{params:,}"]
    assert reason in lines[1]
    assert lines[2] == f"  {params:,} parameters in unclaimed layers"
    # The unclaimed layer's output is a stand-in input of its shape; the head reads it.
    stand_in = name.replace("-", "_")
    text = spec.read_text(encoding="utf-8")
    assert (
        f"  # TODO: {name} ({type(layer).__name__}, {params:,} parameters) not imported: " in text
    )
    shape = list(layer.output.shape[1:])
    assert f"  - {{name: {stand_in}, shape: {shape}}}\n".replace("'", "") in text
    assert "  - {name: head, type: Dense, units: 3, inputs: " + stand_in + "}\n" in text
    assert f"| {name} | {type(layer).__name__} | {params:,} | " in report.read_text(
        encoding="utf-8"
    )
    assert main(["check", str(spec)]) == 0
    assert capsys.readouterr().out == f"{spec}: ok: one_layer, 1 layers\n"
    (totals,) = count_totals(capsys, spec)
    assert totals["keras"]["total"] == model.count_params() - params
    weights = tmp_path / "partial.npz"
    assert sorted(load_canonical(load(str(spec)), weights)) == ["head/bias", "head/kernel"]


def test_a_partial_spec_keeps_the_layers_around_the_unclaimed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Layers before and after an unclaimed layer are kept, and the weights written are the
    original model's: the partial spec with them reproduces the model's outputs once the
    stand-in input is fed what the unclaimed layer computes."""
    x = keras.Input((5, 8), name="x")
    first = keras.layers.Dense(4, name="first")(x)
    odd = keras.layers.LSTM(4, name="odd", return_sequences=True, unroll=True)(first)
    head = keras.layers.Dense(3, name="head")(odd)
    model = keras.Model(x, keras.layers.Add(name="add")([head, keras.layers.Dense(3)(odd)]))
    spec, report, _ = run_partial_import(_save(model, tmp_path / "m.keras"), tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert "  - {name: first, type: Dense, units: 4, inputs: x}\n" in text
    assert "  # stand-in for the output of odd (LSTM, not imported)\n" in text
    assert "- the partial spec loads with `translator check`" in report.read_text(encoding="utf-8")
    graph = load(str(spec))
    assert list(graph.inputs) == ["x", "odd"]
    weights = load_canonical(graph, tmp_path / "partial.npz")
    built = KERAS.set_weights(KERAS.build(graph), from_canonical(graph, "keras", weights))
    feed = sample_inputs(graph, 0)
    inner = keras.Model(model.inputs, model.get_layer("odd").output)
    feed["odd"] = np.asarray(inner(feed["x"]))
    got, first = KERAS.run(built, feed)  # the layer feeding the unclaimed one: an output
    np.testing.assert_allclose(got, np.asarray(model(feed["x"])), atol=ATOL, rtol=0)
    inner = keras.Model(model.inputs, model.get_layer("first").output)
    np.testing.assert_allclose(first, np.asarray(inner(feed["x"])), atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.keras", "no such file; give a saved model (.keras, .h5, .onnx, .pt2)"),
        (
            "model.tflite",
            (
                "cannot import this file type; accepted: .h5 (keras), .keras (keras),"
                " .onnx (onnx), .pt2 (torch)"
            ),
        ),
    ],
)
def test_a_source_that_cannot_be_read_is_one_line(
    name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / name
    if name.endswith(".tflite"):
        source.write_bytes(b"")
    assert main(["import", str(source), "--out", str(tmp_path / "s.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {source}: {message}\n"


TIED = """
name: tied
inputs: [{name: tokens, shape: [7], dtype: int32}]
layers:
  - {name: wte, type: Embedding, input_dim: 50, output_dim: 8}
  - {name: logits, type: Dense, units: 50, tie: wte}
"""


def test_the_backends_own_tied_dense_imports_as_a_tie(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = tmp_path / "tied.yaml"
    original.write_text(TIED, encoding="utf-8")
    built = KERAS.build(load(str(original)))  # a TiedDense, which model.keras never holds
    spec, weights = run_import(_save(built.model, tmp_path / "tied.keras"), tmp_path, capsys)
    assert "{name: logits, type: Dense, units: 50, tie: wte}" in spec.read_text(encoding="utf-8")
    assert count_totals(capsys, original, spec) == count_totals(capsys, original, original)
    _assert_reproduces(built.model, spec, weights)
