"""Porting between the real frameworks: every spec, the inline cases of
``tests/port_cases.py``, every conformance case (every layer type, several argument sets) and
the zoo models small enough; every ordered pair of frameworks, outputs within 1e-5; the round
trips; the weights files; and the ``port`` command's exit codes and one-line errors.

Each spec's three models are built once per module (``models``) with the same random
canonical weights; a test that loads other weights into one of them puts its own back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
from tests.conftest import ROOT, SPECS
from tests.conftest import ZOO as ZOO_SPECS
from tests.port_cases import BREADTH, ZOO, ZOO_MODELS, conformance_specs
from translator.cli import main
from translator.commands.port import random_canonical
from translator.ir import FRAMEWORKS, Graph
from translator.ir.sample import sample_inputs
from translator.ops.recurrent import GATE_ORDERS
from translator.spec.loader import load, load_text
from translator.weights.canonical import from_canonical, to_canonical
from translator.weights.files import load_canonical, save_canonical

pytestmark = pytest.mark.frameworks

# float32 through different kernels: the differences seen are below 1e-6.
ATOL = 1e-5
CASES: dict[str, Graph] = (
    {p.stem: load(str(p)) for p in SPECS}
    | {name: load_text(text) for name, text in (ZOO | BREADTH | conformance_specs()).items()}
    | {p.stem: load(str(p)) for p in ZOO_SPECS if p.stem in ZOO_MODELS}
)
PAIRS = [(s, t) for s in FRAMEWORKS for t in FRAMEWORKS if s != t]
SEED = str(ROOT / "specs" / "seed_lstm.yaml")


@dataclass
class Models:
    """One spec built in every framework, all holding the same canonical weights."""

    graph: Graph
    built: dict[str, Any]
    weights: dict[str, Any]  # each framework's own tensors, to put back after a test
    inputs: dict[str, np.ndarray]
    outputs: dict[str, list[np.ndarray]]

    def restore(self, framework: str, built: Any) -> None:
        """Put the original weights back where a test set others in place."""
        if built is self.built[framework]:
            backends.load(framework).set_weights(built, self.weights[framework])


@pytest.fixture(scope="module", params=list(CASES))
def models(request: pytest.FixtureRequest) -> Models:
    graph = CASES[request.param]
    canonical = random_canonical(graph, seed=1)
    built, weights, outputs = {}, {}, {}
    inputs = sample_inputs(graph)
    for fw in FRAMEWORKS:
        module = backends.load(fw)
        built[fw] = module.set_weights(module.build(graph), from_canonical(graph, fw, canonical))
        weights[fw] = module.get_weights(built[fw])
        outputs[fw] = module.run(built[fw], inputs)
    return Models(graph, built, weights, inputs, outputs)


def port(models: Models, source: str, target: str, weights: Any = None) -> Any:
    """``source``'s weights (or ``weights``) set into ``target``'s model, which is returned."""
    graph = models.graph
    weights = (
        backends.load(source).get_weights(models.built[source]) if weights is None else weights
    )
    ported = from_canonical(graph, target, to_canonical(graph, source, weights))
    return backends.load(target).set_weights(models.built[target], ported)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_ported_model_gives_the_same_outputs(models: Models, source: str, target: str) -> None:
    built = port(models, source, target)
    try:
        got = backends.load(target).run(built, models.inputs)
    finally:
        models.restore(target, built)
    assert len(got) == len(models.outputs[source])
    for ref, out in zip(models.outputs[source], got, strict=True):
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=0, atol=ATOL)


def test_every_layer_agrees_too(models: Models) -> None:
    per_layer = {
        fw: backends.load(fw).layer_outputs(models.built[fw], models.inputs) for fw in FRAMEWORKS
    }
    assert set(per_layer["keras"]) == {n.name for n in models.graph.layers}
    for fw in ("torch", "onnx"):
        for layer, values in per_layer["keras"].items():
            for ref, out in zip(values, per_layer[fw][layer], strict=True):
                np.testing.assert_allclose(out, ref, rtol=0, atol=ATOL, err_msg=f"{fw} {layer}")


def _through(models: Models, chain: tuple[str, ...]) -> dict[str, Any]:
    """Carry the first framework's weights along ``chain`` through the real models; the
    tensors the last framework's model then holds."""
    weights = backends.load(chain[0]).get_weights(models.built[chain[0]])
    touched = []
    try:
        for source, target in pairwise(chain):
            built = port(models, source, target, weights)
            touched.append((target, built))
            weights = backends.load(target).get_weights(built)
    finally:
        for fw, built in touched:
            models.restore(fw, built)
    return weights


def test_round_trip_keras_torch_onnx_keras_is_bit_for_bit(models: Models) -> None:
    """Keras's single recurrent bias goes out as (bias, 0) and folds back as bias + 0."""
    start = models.weights["keras"]
    back = _through(models, ("keras", "torch", "onnx", "keras"))
    assert set(back) == set(start)
    for layer, tensors in start.items():
        assert set(back[layer]) == set(tensors)
        for name, value in tensors.items():
            assert back[layer][name].tobytes() == value.tobytes(), f"{layer}/{name}"


# Where a torch → onnx → keras → torch round trip cannot be bit for bit, by design: Keras
# keeps one bias for these, the sum of PyTorch's two, which comes back as bias_ih.
FOLDED_IN_KERAS = {"LSTM", "SimpleRNN"}


def test_round_trip_torch_onnx_keras_torch_folds_the_double_bias(models: Models) -> None:
    start = models.weights["torch"]
    back = _through(models, ("torch", "onnx", "keras", "torch"))
    for node in models.graph.layers:
        recurrent = node.inner if node.type == "Bidirectional" else node
        folded = recurrent is not None and recurrent.type in FOLDED_IN_KERAS
        for name, value in start.get(node.name, {}).items():
            got = back[node.name][name]
            if folded and name.startswith("bias_ih"):
                twin = start[node.name][name.replace("bias_ih", "bias_hh")]
                assert got.tobytes() == (value + twin).tobytes(), f"{node.name}.{name} folded"
            elif (folded and name.startswith("bias_hh")) or name == "num_batches_tracked":
                assert not got.any(), f"{node.name}.{name} is zero after the fold / not carried"
            else:
                assert got.tobytes() == value.tobytes(), f"{node.name}.{name} bit for bit"


def _save(framework: str, built: Any, weights: Any, folder: Path) -> list[Path]:
    module = backends.load(framework)
    if framework == "keras":
        built.model.save(folder / "model.keras")
        built.model.save_weights(folder / "model.weights.h5")
        return [folder / "model.keras", folder / "model.weights.h5"]
    if framework == "torch":
        module.weights.save_state_dict(weights, folder / "model.pt")
        return [folder / "model.pt"]
    import onnx

    onnx.save(built.model, folder / "model.onnx")
    return [folder / "model.onnx"]


@pytest.mark.parametrize(
    "case", ["zoo_recurrent", "breadth_shared_tied", "breadth_attention", "breadth_stacked_rnn"]
)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_weights_files_load_back_exactly(framework: str, case: str, tmp_path: Path) -> None:
    graph = CASES[case]
    module = backends.load(framework)
    weights = from_canonical(graph, framework, random_canonical(graph, seed=3))
    built = module.set_weights(module.build(graph), weights)
    for path in _save(framework, built, module.get_weights(built), tmp_path):
        loaded = module.load_weights_file(graph, path)
        assert {k: set(v) for k, v in loaded.items()} == {k: set(v) for k, v in weights.items()}
        for layer, tensors in weights.items():
            for name, value in tensors.items():
                assert np.array_equal(loaded[layer][name], value), f"{path.name} {layer}.{name}"


def test_canonical_file_round_trips(tmp_path: Path) -> None:
    graph = CASES["zoo_norms"]
    canonical = random_canonical(graph)
    save_canonical(tmp_path / "w.npz", canonical)
    loaded = load_canonical(graph, tmp_path / "w.npz")
    assert list(loaded) == sorted(canonical)
    assert all(np.array_equal(loaded[k], v) for k, v in canonical.items())


def test_port_command_carries_the_seed_model_within_tolerance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["port", SEED, "--from", "keras", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["to"] == ["torch", "onnx"] and report["ok"] is True
    assert [(d["framework"], d["name"]) for d in report["outputs"]] == [
        ("torch", "time_distributed"),
        ("onnx", "time_distributed"),
    ]
    assert all(d["max_abs"] <= 1e-5 and d["ok"] for d in report["outputs"])
    assert {d["name"] for d in report["layers"]} == {"lstm", "time_distributed"}
    assert "lstm: weight_ih_l0 = transpose(kernel)" in report["conversions"]["torch"]


def test_port_command_names_conversions_in_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "specs" / "resnet_block.yaml")
    assert main(["port", spec, "--from", "torch", "--to", "keras"]) == 0
    out = capsys.readouterr().out
    assert "momentum: Keras 0.99 → PyTorch 0.01 (1 − m), ONNX 0.99" in out
    assert "ok: largest output difference" in out


def test_port_command_names_shared_tied_and_stacked_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "mini_gpt.yaml"
    spec.write_text(BREADTH["breadth_mini_gpt"])
    assert main(["port", str(spec), "--from", "torch", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    notes = report["hyperparameters"]
    assert "lm_head (Dense): kernel = transpose(wte/embeddings), stored once, in 'wte'" in notes
    assert (
        "attn_again (MultiHeadAttention): applies 'h_1_attn' again, with its weights"
        " (no tensors of its own)" in notes
    )
    assert (
        "h_1_attn: query_kernel, key_kernel, value_kernel = unpack(in_proj_weight),"
        " each reshape(transpose(·), (8, 2, 4))" in report["conversions"]["torch"]
    )
    spec.write_text(BREADTH["breadth_stacked_rnn"])
    assert main(["port", str(spec), "--from", "onnx", "--to", "keras"]) == 0
    assert "num_layers 3 → PyTorch's own stack (num_layers=3" in capsys.readouterr().out


def test_port_command_exits_1_above_tolerance(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wrong gate order is exactly the bug porting must catch.
    monkeypatch.setitem(GATE_ORDERS["LSTM"], "onnx", "ifco")
    assert main(["port", SEED, "--from", "keras", "--to", "onnx"]) == 1
    assert "ABOVE atol" in capsys.readouterr().out


def test_wrong_shaped_weights_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = CASES["seed_lstm"]
    weights = from_canonical(graph, "torch", random_canonical(graph))
    weights["lstm"]["weight_hh_l0"] = np.zeros((40, 11), np.float32)
    path = tmp_path / "bad.pt"
    backends.load("torch").weights.save_state_dict(weights, path)
    for source in ("torch", "keras"):
        assert main(["port", SEED, "--from", source, "--weights", str(path)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            f"error: {path}: layer 'lstm' tensor 'weight_hh_l0' (torch): expected shape"
            " (40, 10), received (40, 11)\n"
        )


def test_a_checkpoint_with_other_names_lists_its_unused_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = CASES["seed_lstm"]
    weights = from_canonical(graph, "torch", random_canonical(graph))
    weights["rnn"] = weights.pop("lstm")  # the model's own name for the layer
    path = tmp_path / "renamed.pt"
    backends.load("torch").weights.save_state_dict(weights, path)
    assert main(["port", SEED, "--from", "torch", "--weights", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "; missing 4: lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, …;" in line
    assert "; unused in the file 4: rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, …;" in line
    args = ["port", SEED, "--from", "torch", "--weights", str(path), "--verbose"]
    assert main(args) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[1:] == [
        *(f"  missing  lstm.{t}" for t in ("weight_ih_l0 (40, 1)", "weight_hh_l0 (40, 10)")),
        *(f"  missing  lstm.{t}" for t in ("bias_ih_l0 (40,)", "bias_hh_l0 (40,)")),
        *(f"  unused   rnn.{t}" for t in ("weight_ih_l0 (40, 1)", "weight_hh_l0 (40, 10)")),
        *(f"  unused   rnn.{t}" for t in ("bias_ih_l0 (40,)", "bias_hh_l0 (40,)")),
    ]
    renames = tmp_path / "renames.yaml"
    renames.write_text('"rnn.": "lstm."\n', encoding="utf-8")
    assert (
        main(["port", SEED, "--from", "torch", "--weights", str(path), "--map", str(renames)]) == 0
    )
    assert "weights: " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[a, b]\n", "not a rename map; accepted: a YAML mapping of old key"),
        ("a: [1]\n", "not a rename map; accepted: a YAML mapping of old key"),
        ("a: : b\n", "not a readable rename map ("),
    ],
)
def test_a_rename_map_that_is_not_one_is_one_line(
    text: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renames = tmp_path / "renames.yaml"
    renames.write_text(text, encoding="utf-8")
    args = ["port", SEED, "--from", "torch", "--weights", str(renames), "--map", str(renames)]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {renames}: {said}")


def test_weights_file_of_another_spec_or_kind_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = CASES["zoo_norms"]
    save_canonical(tmp_path / "other.npz", random_canonical(other))
    (tmp_path / "notes.txt").write_text("hello")
    for name in ("other.npz", "notes.txt", "missing.onnx"):
        assert main(["port", SEED, "--from", "onnx", "--weights", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path / name}: "), err
