"""``import`` of Hugging Face ``transformers`` models, through the command line: BERT, GPT-2
with its head tied to the token embedding, and a Llama-architecture model with grouped-query
attention, each built from a small config with seeded random weights (no hub download) and
saved with ``torch.export``, import to specs whose ``compare`` counts, in Keras, PyTorch and
ONNX alike, what ``sum(p.numel() for p in model.parameters())`` counts (a tied weight once,
as PyTorch's ``parameters()`` yields it once); holding the imported weights, our Keras,
PyTorch and ONNX builds compute the model's own output (last hidden state, or logits). The
ONNX files ``torch.onnx.export`` writes of the same models import to the same layers and
counts, and our builds compute what onnxruntime computes on the file.

transformers is the ``hf`` extra, which ``dev`` pulls in (``pip install -e ".[dev]"``).
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
from tests.imports import run_import
from translator.cli import main
from translator.ir.sample import sample_inputs
from translator.spec.loader import load
from translator.weights.canonical import from_canonical
from translator.weights.files import load_any

KERAS = backends.load("keras")
ONNX = backends.load("onnx")
TORCH = backends.load("torch")
import torch  # noqa: E402  (after the backends, which quiet the frameworks)

transformers = pytest.importorskip(
    "transformers", reason="transformers is the hf extra (pip install -e '.[hf]')"
)

# The models' output against our builds holding the imported weights: float32 throughout, the
# same operations in another order (fused attention, LayerNorm); measured at most 7.2e-7
# (BERT in Keras), 4.8e-7 in ONNX, 2.4e-7 in PyTorch.
ATOL = RTOL = 1e-5
BATCH, STEPS = 2, 8  # the programs' shapes: static in torch.export
SMALL = {"hidden": 64, "layers": 2, "heads": 4, "vocab": 100, "positions": 16}


def _bert() -> Any:
    config = transformers.BertConfig(
        vocab_size=SMALL["vocab"],
        hidden_size=SMALL["hidden"],
        num_hidden_layers=SMALL["layers"],
        num_attention_heads=SMALL["heads"],
        intermediate_size=2 * SMALL["hidden"],
        max_position_embeddings=SMALL["positions"],
    )
    return transformers.BertModel(config, add_pooling_layer=False)


def _gpt2() -> Any:
    config = transformers.GPT2Config(
        vocab_size=SMALL["vocab"],
        n_embd=SMALL["hidden"],
        n_layer=SMALL["layers"],
        n_head=SMALL["heads"],
        n_positions=SMALL["positions"],
        bos_token_id=0,
        eos_token_id=0,
        use_cache=False,
    )
    return transformers.GPT2LMHeadModel(config)  # lm_head tied to transformer.wte


def _llama(tied: bool, theta: float) -> Any:
    """Grouped-query attention (4 query heads share 2 key/value heads), RMSNorm, a SwiGLU MLP
    and rotary embeddings of base ``theta``."""
    config = transformers.LlamaConfig(
        vocab_size=SMALL["vocab"],
        hidden_size=SMALL["hidden"],
        intermediate_size=2 * SMALL["hidden"],
        num_hidden_layers=SMALL["layers"],
        num_attention_heads=SMALL["heads"],
        num_key_value_heads=SMALL["heads"] // 2,
        max_position_embeddings=SMALL["positions"],
        rope_parameters={"rope_type": "default", "rope_theta": theta},
        tie_word_embeddings=tied,
        use_cache=False,
    )
    return transformers.LlamaForCausalLM(config)


def _ids(high: int) -> torch.Tensor:
    return torch.randint(0, high, (BATCH, STEPS))


# Case → (model factory, the forward's tensor arguments by keyword). ``return_dict=False``
# and ``use_cache=False`` keep transformers' output classes and caches out of the program.
MODELS: dict[str, tuple[Callable[[], Any], Callable[[], dict[str, torch.Tensor]]]] = {
    "bert": (_bert, lambda: {"input_ids": _ids(SMALL["vocab"]), "token_type_ids": _ids(2)}),
    "gpt2_tied_head": (_gpt2, lambda: {"input_ids": _ids(SMALL["vocab"])}),
    "llama_gqa": (lambda: _llama(False, 10000.0), lambda: {"input_ids": _ids(SMALL["vocab"])}),
    "llama_gqa_tied_theta_500000": (
        lambda: _llama(True, 500000.0),
        lambda: {"input_ids": _ids(SMALL["vocab"])},
    ),
}


def _whisper_encoder() -> Any:
    """Whisper's audio encoder: two Conv1d + GELU over the mel bins (the second of stride
    2), a fixed sinusoidal position table, attention whose k_proj has no bias and whose
    query is scaled before scaled_dot_product_attention (``scale=1``)."""
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    config = transformers.WhisperConfig(
        d_model=SMALL["hidden"],
        encoder_layers=SMALL["layers"],
        encoder_attention_heads=SMALL["heads"],
        encoder_ffn_dim=2 * SMALL["hidden"],
        num_mel_bins=MEL_BINS,
        max_source_positions=STEPS,  # the input has twice as many frames (conv2's stride)
        vocab_size=SMALL["vocab"],
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        decoder_start_token_id=0,
    )
    return WhisperEncoder(config)


def _t5_encoder() -> Any:
    """T5's encoder: attention without biases whose scores are not scaled, plus the first
    layer's bucketed relative position bias (8 buckets up to distance 16, bidirectional)
    reused by the second layer; RMS norms and a ReLU feed-forward, embeddings tied to
    ``shared``."""
    config = transformers.T5Config(
        vocab_size=SMALL["vocab"],
        d_model=SMALL["hidden"],
        d_kv=SMALL["hidden"] // SMALL["heads"],
        d_ff=2 * SMALL["hidden"],
        num_layers=SMALL["layers"],
        num_heads=SMALL["heads"],
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
    )
    return transformers.T5EncoderModel(config)


MEL_BINS = 8
# Encoders whose attention Keras's stock layer does not express (per-projection biases,
# another scale, a relative position bias): not in the ONNX table above.
ENCODERS: dict[str, tuple[Callable[[], Any], Callable[[], dict[str, torch.Tensor]]]] = {
    "whisper_encoder": (
        _whisper_encoder,
        lambda: {"input_features": torch.randn(BATCH, MEL_BINS, 2 * STEPS)},
    ),
    "t5_encoder": (_t5_encoder, lambda: {"input_ids": _ids(SMALL["vocab"])}),
}
IMPORTED = MODELS | ENCODERS
OPTIONS = {case: {"use_cache": False} for case in MODELS if case != "bert"} | {"bert": {}}
OPTIONS |= {case: {} for case in ENCODERS}


def _saved(case: str, path: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    """The case's model (seeded, at inference), its example and its program saved at ``path``."""
    make, example = IMPORTED[case]
    torch.manual_seed(0)
    model = make().eval()
    inputs = example()
    options = {**OPTIONS[case], "return_dict": False}
    program = torch.export.export(model, (), kwargs={**inputs, **options})
    torch.export.save(program, path)
    return model, inputs


def _compared_totals(spec: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    """``compare --format json``'s total per framework."""
    assert main(["compare", str(spec), "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    return {framework: found["total"] for framework, found in totals.items()}


def _assert_reproduces(
    model: Any, spec: Path, weights: Path, case: str, backends_: tuple[Any, ...] = ()
) -> None:
    """Our Keras, PyTorch and ONNX builds (or ``backends_``) of the imported spec, holding
    the weights in ``weights`` (any file ``port`` reads), compute the model's first output
    on the same token ids."""
    graph = load(str(spec))
    inputs = sample_inputs(graph, 0, batch=BATCH)
    arguments = {n: torch.from_numpy(inputs[n]) for n in graph.inputs}
    with torch.no_grad():
        expected = model(**arguments, **OPTIONS[case], return_dict=False)[0].numpy()
    _, canonical = load_any(graph, weights)
    for backend in backends_ or (KERAS, TORCH, ONNX):
        held = backend.set_weights(
            backend.build(graph), from_canonical(graph, backend.NAME, canonical)
        )
        (got,) = backend.run(held, inputs)
        np.testing.assert_allclose(np.asarray(got), expected, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("case", sorted(IMPORTED))
def test_a_hugging_face_program_imports(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, _ = _saved(case, tmp_path / f"{case}.pt2")
    spec, weights = run_import(tmp_path / f"{case}.pt2", tmp_path, capsys)
    expected = sum(p.numel() for p in model.parameters())
    assert _compared_totals(spec, capsys) == dict.fromkeys(("keras", "torch", "onnx"), expected)
    _assert_reproduces(model, spec, weights, case)


@pytest.mark.parametrize("case", sorted(IMPORTED))
def test_the_program_itself_ports_the_imported_spec(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``port --weights model.pt2``: the program is imported again and its tensors taken
    (fused, transposed and tied ones included)."""
    _saved(case, tmp_path / f"{case}.pt2")
    spec, _ = run_import(tmp_path / f"{case}.pt2", tmp_path, capsys)
    args = ["port", str(spec), "--weights", str(tmp_path / f"{case}.pt2"), "--from", "torch"]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def _state_dict(model: Any, folder: Path) -> Path:
    """``torch.save(model.state_dict(), ...)``: every name of a tied tensor kept."""
    torch.save(model.state_dict(), folder / "model.pt")
    return folder / "model.pt"


def _safetensors(model: Any, folder: Path) -> Path:
    """``model.save_pretrained``'s ``model.safetensors``: a tied tensor under one name."""
    model.save_pretrained(folder / "pretrained")
    return folder / "pretrained" / "model.safetensors"


# The model's own checkpoint formats: GPT-2's fused, transposed (Conv1D) and tied tensors,
# BERT's and Llama's separate q/k/v/o projections, joined or renamed by the spec's
# ``checkpoint:`` section, which the import writes.
CHECKPOINTS = {"state_dict_pt": _state_dict, "safetensors": _safetensors}


@pytest.mark.parametrize("checkpoint", sorted(CHECKPOINTS))
@pytest.mark.parametrize("case", sorted(IMPORTED))
def test_the_models_own_checkpoint_ports_the_imported_spec(
    case: str, checkpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``port --weights model.pt`` (or ``model.safetensors``) of the spec imported from the
    ``.pt2``, without the ``.pt2``: the frameworks agree, and our PyTorch build holding the
    checkpoint computes the model's own output."""
    model, _ = _saved(case, tmp_path / f"{case}.pt2")
    spec, _ = run_import(tmp_path / f"{case}.pt2", tmp_path, capsys)
    (tmp_path / f"{case}.pt2").unlink()
    weights = CHECKPOINTS[checkpoint](model, tmp_path)
    args = ["port", str(spec), "--weights", str(weights), "--from", "torch", "--format", "json"]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err + out
    assert json.loads(out)["ok"] is True
    _assert_reproduces(model, spec, weights, case, (TORCH,))


# What ``audit`` finds in the model's own checkpoint beyond the imported spec: GPT-2's
# state_dict lists its tied head's weight under the head's name too.
NAMED_TWICE = {("gpt2_tied_head", "state_dict_pt"): 100 * 64}


@pytest.mark.parametrize("checkpoint", sorted(CHECKPOINTS))
@pytest.mark.parametrize("case", ["bert", "gpt2_tied_head", "llama_gqa"])
def test_the_models_own_checkpoint_audits_against_the_imported_spec(
    case: str, checkpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``audit`` reads the checkpoint's keys as ``port`` does (the spec's ``checkpoint:``
    section, the module-path rule): every tensor attributed, every difference explained."""
    model, _ = _saved(case, tmp_path / f"{case}.pt2")
    spec, _ = run_import(tmp_path / f"{case}.pt2", tmp_path, capsys)
    weights = CHECKPOINTS[checkpoint](model, tmp_path)
    assert main(["audit", str(spec), str(weights), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    found = {f["rule"]: f["delta"] for r in report["layers"] for f in r["explanations"]}
    twice = NAMED_TWICE.get((case, checkpoint))
    assert found == ({"tied-weight-named-twice": twice} if twice else {})
    assert report["ok"] and report["unexplained"] == 0


class _Called(torch.nn.Module):
    """The model called with its inputs by keyword and ``options``, its first output: the
    TorchScript exporter passes the example inputs by position."""

    def __init__(self, model: Any, names: list[str], options: dict[str, Any]) -> None:
        super().__init__()
        self.model, self.names, self.options = model, names, options

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, inputs, strict=True)), **self.options)[0]


def _onnx_file(case: str, exporter: str, path: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    """The case's model (seeded, at inference) written by torch.onnx.export at ``path``, and
    its example. The dynamo exporter runs with ``optimize=False``: its optimizer folds the
    position ids into the position table, keeping only the rows the example's 8 steps read
    (an initializer of (1, 8, 64), not the (16, 64) table: the count would fall short), and
    merges initializers of equal values (all zero biases become one); without it the file
    keeps the model's own tensors. ``dynamo_dynamic`` exports with a dynamic batch and length
    (at most the position table's rows): positions, masks and rotary tables are then computed
    from the run-time length, and the spec's inputs have none (``shape: [null]``)."""
    make, example = IMPORTED[case]
    torch.manual_seed(0)
    model, inputs = make().eval(), example()
    options = {**OPTIONS[case], "return_dict": False}
    with warnings.catch_warnings():  # torch.onnx's own deprecations (pytree, TorchScript)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes traced as constants
        if exporter == "dynamo_dynamic":
            _export_dynamic(model, inputs, options, path)
        elif exporter.startswith("dynamo"):
            kwargs, optimize = {**inputs, **options}, exporter == "dynamo_optimized"
            torch.onnx.export(model, (), path, kwargs=kwargs, dynamo=True, optimize=optimize)
        else:
            called, names = _Called(model, list(inputs), options), list(inputs)
            torch.onnx.export(called, tuple(inputs.values()), path, input_names=names, dynamo=False)
    return model, inputs


def _export_dynamic(
    model: Any, inputs: dict[str, torch.Tensor], options: dict[str, Any], path: Path
) -> None:
    """torch.onnx.export of ``model`` with each input's batch and length dynamic: the options
    bound to the forward (``dynamic_shapes`` names the tensors alone), the module tree kept
    (the layers named as the other exports name them)."""
    steps = torch.export.Dim("steps", max=SMALL["positions"])
    batch = torch.export.Dim("batch")
    shapes = {name: {0: batch, 1: steps} for name in inputs}
    model.forward = functools.partial(model.forward, **options)
    # torch.onnx names the file's axes once: the second input's are the first's.
    warnings.filterwarnings("ignore", "# The axis name: .* will not be used", UserWarning)
    try:
        torch.onnx.export(
            model, (), path, kwargs=inputs, dynamo=True, optimize=False, dynamic_shapes=shapes
        )
    finally:
        del model.forward  # the class's own again


def _assert_runs_as_the_file(
    source: Path, spec: Path, weights: Path, lengths: tuple[int, ...] = (STEPS,)
) -> None:
    """Our Keras, PyTorch and ONNX builds of the imported spec, holding the imported weights,
    compute what onnxruntime computes on the source file, on the same token ids (of each of
    ``lengths`` where the file's length is dynamic; a static file's own otherwise)."""
    from backends.onnx.export import session

    graph = load(str(spec))
    run = session(source)
    names = [i.name for i in run.get_inputs()]
    samples = [sample_inputs(graph, 0, batch=BATCH, steps=steps) for steps in lengths]
    expected = [run.run(None, {n: inputs[n] for n in names})[0] for inputs in samples]
    _, canonical = load_any(graph, weights)
    for backend in (KERAS, TORCH, ONNX):
        held = backend.set_weights(
            backend.build(graph), from_canonical(graph, backend.NAME, canonical)
        )
        for inputs, wanted in zip(samples, expected, strict=True):
            (got,) = backend.run(held, inputs)
            np.testing.assert_allclose(np.asarray(got), wanted, atol=ATOL, rtol=RTOL)


# The TorchScript exporter (dynamo=False) writes BERT; GPT-2's and Llama's mask code of
# transformers 5 calls aten::diff, which it has no ONNX form for, so it writes neither. The
# dynamo exporter's optimizer (its default) cuts BERT's and GPT-2's position tables to the
# example's steps (see ``_onnx_file``); Llama has none, so its optimized file imports too,
# the tied head's kernel then a transposed copy of the token embedding, tied by its values.
# (T5's encoder is not here: torch.onnx.export's dynamo exporter fails on it, "Cannot view a
# tensor with shape [2, 8, 4, 16] ..." in T5Attention's reshape, torch 2.13.) With a dynamic
# batch and length, the same layers: the positions, masks and rotary tables the file computes
# from the length read at several lengths, and the reshapes into heads computed at run time.
EXPORTS = [
    *((case, "dynamo") for case in sorted(MODELS)),
    *((case, "dynamo_dynamic") for case in ("bert", "gpt2_tied_head", "llama_gqa")),
    ("whisper_encoder", "dynamo"),
    ("bert", "torchscript"),
    ("llama_gqa_tied_theta_500000", "dynamo_optimized"),
]


# Lines the ONNX file's spec holds whatever the exporter: the layers the PyTorch importer
# reads of the same model (see the tests of the programs below).
ONNX_LINES = {
    "bert": ["type: MultiHeadAttention, num_heads: 4, key_dim: 16", "sequence_length: 16}"],
    "gpt2_tied_head": [
        "{name: lm_head, type: Dense, units: 100, use_bias: false, tie: transformer_wte}",
        "type: MultiHeadAttention, num_heads: 4, key_dim: 16, causal: true}",
        "{name: transformer_wpe, type: PositionEmbedding, sequence_length: 16}",
        "{name: mlp_act, type: Activation, activation: gelu_tanh}",
    ],
    "llama_gqa": [
        (
            "type: GroupQueryAttention, head_dim: 16, num_query_heads: 4, num_key_value_heads: 2,"
            " use_bias: false, causal: true, rope_max_wavelength: 10000.0}"
        ),
        "- {name: input_layernorm, type: RMSNormalization, inputs: x}",
        "type: Dense, units: 128, activation: silu, use_bias: false}",
    ],
    "whisper_encoder": [
        "type: MultiHeadAttention, num_heads: 4, key_dim: 16, key_bias: false}",
        "{name: permute, type: Permute, dims: [2, 1]}",
    ],
    "llama_gqa_tied_theta_500000": [
        "rope_max_wavelength: 500000.0}",
        "{name: lm_head, type: Dense, units: 100, use_bias: false, tie: model_embed_tokens}",
    ],
}


# A file of dynamic length: token ids of any length (the spec's ``shape: [null]``), run at
# the example's, at fewer steps and at the position table's every row.
EXPORTER_LINES = {"dynamo_dynamic": ["- {name: input_ids, shape: [null], dtype: int64}"]}
LENGTHS = {"dynamo_dynamic": (STEPS, 3, SMALL["positions"])}


@pytest.mark.parametrize(("case", "exporter"), EXPORTS)
def test_the_onnx_file_imports(
    case: str, exporter: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """torch.onnx.export of the same model imports, counts as the model, and our builds
    compute what onnxruntime computes on the file."""
    source = tmp_path / f"{case}.onnx"
    model, _ = _onnx_file(case, exporter, source)
    spec, weights = run_import(source, tmp_path, capsys)
    expected = sum(p.numel() for p in model.parameters())
    assert _compared_totals(spec, capsys) == dict.fromkeys(("keras", "torch", "onnx"), expected)
    text = spec.read_text(encoding="utf-8")
    assert [line for line in ONNX_LINES[case] if line not in text] == []
    assert [line for line in EXPORTER_LINES.get(exporter, []) if line not in text] == []
    _assert_runs_as_the_file(source, spec, weights, LENGTHS.get(exporter, (STEPS,)))


@pytest.mark.parametrize("exporter", ["dynamo", "dynamo_dynamic"])
@pytest.mark.parametrize("case", ["gpt2_tied_head", "llama_gqa"])
def test_the_onnx_file_itself_ports_the_imported_spec(
    case: str, exporter: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``port --weights model.onnx``: the file is imported again and each layer's tensors
    taken (a fused projection's thirds, grouped heads, a tied head reading the table)."""
    source = tmp_path / f"{case}.onnx"
    _onnx_file(case, exporter, source)
    spec, _ = run_import(source, tmp_path, capsys)
    args = ["port", str(spec), "--weights", str(source), "--from", "onnx", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_gpt2s_head_is_tied_to_its_token_embedding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _saved("gpt2_tied_head", tmp_path / "gpt2.pt2")
    spec, _ = run_import(tmp_path / "gpt2.pt2", tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert "{name: lm_head, type: Dense, units: 100, use_bias: false, tie: transformer_wte}" in text
    assert "{block: transformer_h, name: transformer_h, repeat: 2, first: 0}" in text
    assert "type: MultiHeadAttention, num_heads: 4, key_dim: 16, causal: true}" in text
    assert "{name: transformer_wpe, type: PositionEmbedding, sequence_length: 16}" in text


@pytest.mark.parametrize(
    ("case", "theta"), [("llama_gqa", "10000.0"), ("llama_gqa_tied_theta_500000", "500000.0")]
)
def test_llamas_attention_is_grouped_and_rotary(
    case: str, theta: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rotary embeddings' base read off the program's cos/sin tables (Llama's rope_theta)."""
    _saved(case, tmp_path / "llama.pt2")
    spec, _ = run_import(tmp_path / "llama.pt2", tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    attention = (
        "type: GroupQueryAttention, head_dim: 16, num_query_heads: 4, num_key_value_heads: 2,"
        f" use_bias: false, causal: true, rope_max_wavelength: {theta}}}"
    )
    assert attention in text
    # The decoder layers fold into one block, numbered from 0 as model.layers.0 is.
    assert "{block: model_layers, name: model_layers, repeat: 2, first: 0}" in text
    assert "- {name: input_layernorm, type: RMSNormalization, inputs: x}" in text
    assert "type: Dense, units: 128, activation: silu, use_bias: false}" in text


# What the encoders' attention reads as: the spec lines their imports write.
ENCODER_LINES = {
    "whisper_encoder": (
        "- {name: self_attn, type: MultiHeadAttention, num_heads: 4, key_dim: 16, key_bias: false}",
        "{name: embed_positions, type: PositionEmbedding, sequence_length: 8, trainable: false}",
        "- {name: permute, type: Permute, dims: [2, 1]}",
    ),
    "t5_encoder": (
        (
            "- {name: encoder_block_0_layer_0_SelfAttention_relative_attention_bias,"
            " type: RelativePositionBias, num_heads: 4, num_buckets: 8, max_distance: 16}"
        ),
        (
            "- {name: encoder_block_1_layer_0_SelfAttention, type: MultiHeadAttention, num_heads: 4,"
            " key_dim: 16, use_bias: false, scale: 1.0, attention_bias: true, inputs:"
            " [encoder_block_1_layer_0_layer_norm,"
            " encoder_block_0_layer_0_SelfAttention_relative_attention_bias]}"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(ENCODER_LINES))
def test_an_encoders_attention_keeps_its_biases_scale_and_position_bias(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whisper: k_proj without a bias, the query scaled before the attention (so the default
    scale), a fixed sinusoidal table (counted non-trainable, as PyTorch's requires_grad says);
    T5: scores not scaled, the first layer's relative position bias read by both layers."""
    model, _ = _saved(case, tmp_path / f"{case}.pt2")
    spec, _ = run_import(tmp_path / f"{case}.pt2", tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    for line in ENCODER_LINES[case]:
        assert line in text
    assert main(["count", str(spec), "--format", "json"]) == 0
    torch_totals = json.loads(capsys.readouterr().out)["totals"]["torch"]
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert torch_totals["non_trainable"] == frozen


def test_export_takes_gpt2s_own_safetensors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``export --weights model.safetensors`` (tied head left out, Conv1D stored (in, out),
    q/k/v fused): the exported PyTorch state_dict holds the model's own tensors, split and
    transposed as the spec's layers keep them."""
    model, _ = _saved("gpt2_tied_head", tmp_path / "gpt2.pt2")
    spec, _ = run_import(tmp_path / "gpt2.pt2", tmp_path, capsys)
    weights = _safetensors(model, tmp_path)
    args = ["export", str(spec), "--weights", str(weights), "--out", str(tmp_path / "out")]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    state = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    own = model.state_dict()
    torch.testing.assert_close(
        state["transformer_h_0_attn.in_proj_weight"], own["transformer.h.0.attn.c_attn.weight"].T
    )
    torch.testing.assert_close(state["transformer_wte.weight"], own["lm_head.weight"])
