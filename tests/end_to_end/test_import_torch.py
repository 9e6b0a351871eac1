"""``import`` from PyTorch, through the command line: real ``nn.Module``s saved with
``torch.export.save`` import to specs that count exactly as PyTorch counts the model
(parameters and buffers) and, holding the imported weights, compute the model's outputs in
our PyTorch and ONNX builds; the model's own state_dict ``.pt`` ports the imported spec; a
module no importer claims, and a parameter the program never reads, are listed.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
from tests.imports import count_totals, evaluated, run_import, run_partial_import
from translator.cli import main
from translator.ir.sample import sample_inputs
from translator.spec.loader import load
from translator.weights.canonical import from_canonical
from translator.weights.files import load_canonical

ONNX = backends.load("onnx")
TORCH = backends.load("torch")
import torch  # noqa: E402  (after the backends, which quiet the frameworks)
import torch.nn.functional as F  # noqa: E402  (PyTorch's own alias)
from torch import nn  # noqa: E402

from backends.torch.standalone.recurrent import CustomRecurrent  # noqa: E402

ATOL = RTOL = 1e-5
BATCH = 2  # the programs' batch: static in torch.export


class _Cnn(nn.Module):
    """Conv (its ReLU folded in), BatchNorm, pools, a strided conv with pads that are not
    TensorFlow's same, flatten, a residual add, LayerNorm, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(8),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, stride=2, padding=1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.features(x)
        return self.head(torch.relu(self.norm(y + y)))


class _Recurrent(nn.Module):
    def __init__(self, cell: Callable[..., nn.Module], last: bool, width: int = 6) -> None:
        super().__init__()
        self.rnn, self.out, self.last = cell(4, 6, batch_first=True), nn.Linear(width, 2), last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return self.out(y[:, -1] if self.last else y)


class _Tagger(nn.Module):
    """Token ids → Embedding → Conv1d over channels-first features → GELU MLP."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Dropout(0.1), nn.Linear(16, 3))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.mlp(self.embed(tokens)), dim=-1)


class _Conv1d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 3, padding="same")
        self.pool = nn.AvgPool1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.pool(torch.tanh(self.conv(x))), self.pool(x)], dim=1)


class _Shared(nn.Module):
    """One Linear applied twice: the second call shares the first's weights."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) - self.fc(torch.sigmoid(x))


class _EncoderBlock(nn.Module):
    """A post-norm transformer encoder layer: self-attention, residuals, LayerNorms, GELU MLP."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(8), nn.LayerNorm(8)
        self.ff = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attn(x, x, x)
        x = self.norm1(x + attended)
        return self.norm2(x + self.ff(x))


class _QkvoAttention(nn.Module):
    """Hugging Face-style causal self-attention: q/k/v/o projections around
    F.scaled_dot_product_attention."""

    def __init__(self, width: int = 8, heads: int = 2, eager: bool = False) -> None:
        super().__init__()
        self.heads, self.eager = heads, eager
        self.q_proj, self.k_proj = nn.Linear(width, width), nn.Linear(width, width)
        self.v_proj, self.o_proj = nn.Linear(width, width), nn.Linear(width, width)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, steps, width = x.shape
        return x.view(n, steps, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._split(p(x)) for p in (self.q_proj, self.k_proj, self.v_proj))
        if self.eager:  # unmasked, as eager Hugging Face code writes it
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
            attended = torch.softmax(scores, dim=-1) @ v
        else:
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(attended.transpose(1, 2).reshape(x.shape))


class _QkvoBlock(nn.Module):
    """The attention as its own submodule (as Hugging Face writes it), a residual, LayerNorm."""

    def __init__(self, eager: bool = False) -> None:
        super().__init__()
        self.self_attn, self.norm = _QkvoAttention(eager=eager), nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.self_attn(x))


class _InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise (groups), 1x1 project, no conv biases,
    in-place ReLU6, the input added back; then F.adaptive_avg_pool2d and torch.flatten."""

    def __init__(self, channels: int = 8, expand: int = 4) -> None:
        super().__init__()
        wide = channels * expand
        self.conv = nn.Sequential(
            nn.Conv2d(channels, wide, 1, bias=False),
            nn.BatchNorm2d(wide),
            nn.ReLU6(inplace=True),
            nn.Conv2d(wide, wide, 3, padding=1, groups=wide, bias=False),
            nn.BatchNorm2d(wide),
            nn.ReLU6(inplace=True),
            nn.Conv2d(wide, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.classifier = nn.Linear(channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.adaptive_avg_pool2d(x + self.conv(x), (1, 1))
        return self.classifier(torch.flatten(y, 1))


class _ResNetStem(nn.Module):
    """ResNet's stem and a downsampling basic block: a 7x7/2 conv with pads 3, ReLU, then
    MaxPool2d(3, 2, padding=1) (zero pads after a ReLU: the same max as PyTorch's -inf)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8)
        self.relu, self.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        self.conv2, self.bn2 = nn.Conv2d(8, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16)
        self.downsample = nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.relu(self.bn2(self.conv2(x)) + self.downsample(x))


class _CeilPools(nn.Module):
    """SqueezeNet's pools: MaxPool2d(3, 2, ceil_mode=True) and an average in ceil mode, each
    adding a last window clipped to the input (no TensorFlow "same" computes them here)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(inplace=True)
        self.maxpool, self.avgpool = (
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.AvgPool2d(3, 2, ceil_mode=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(self.maxpool(self.relu(self.conv(x))))


class _GroupedAttention(nn.Module):
    """Llama-style grouped-query attention without rotary embeddings: 4 query heads share
    2 key/value heads, repeated as Llama's repeat_kv does (expand, reshape), causal."""

    def __init__(self, width: int = 8, heads: int = 4, kv_heads: int = 2) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.size = heads, kv_heads, width // heads
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, kv_heads * self.size, bias=False)
        self.v_proj = nn.Linear(width, kv_heads * self.size, bias=False)
        self.o_proj = nn.Linear(width, width, bias=False)

    def _heads(self, x: torch.Tensor, count: int) -> torch.Tensor:
        n, steps, _ = x.shape
        return x.view(n, steps, count, self.size).transpose(1, 2)

    def _repeated(self, x: torch.Tensor) -> torch.Tensor:
        n, kv, steps, size = x.shape
        wide = x[:, :, None, :, :].expand(n, kv, self.heads // kv, steps, size)
        return wide.reshape(n, self.heads, steps, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self._heads(self.q_proj(x), self.heads)
        k = self._repeated(self._heads(self.k_proj(x), self.kv_heads))
        v = self._repeated(self._heads(self.v_proj(x), self.kv_heads))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(attended.transpose(1, 2).reshape(x.shape))


class _GroupedBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.self_attn = _GroupedAttention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.self_attn(x)


class _CausalAttention(nn.Module):
    """nn.MultiheadAttention masked causally as model.py writes it (a boolean
    ``ones(...).triu(1)``), its output taken as ``[0]``."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
        return self.attn(x, x, x, need_weights=False, attn_mask=mask)[0]


class _CrossAttention(nn.Module):
    """nn.MultiheadAttention with narrower key and value inputs (``kdim``/``vdim``: its own
    q/k/v projection weights), each made by a Linear."""

    def __init__(self, bias: bool = True) -> None:
        super().__init__()
        self.to_k, self.to_v = nn.Linear(8, 6), nn.Linear(8, 4)
        self.attn = nn.MultiheadAttention(8, 2, kdim=6, vdim=4, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, self.to_k(x), self.to_v(x), need_weights=False)[0]


class _Backwards(nn.Module):
    """A GRU reading its sequence backwards as model.py writes Keras's go_backwards: on the
    input flipped in time, its last step kept."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 3, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x.flip(1))[0][:, -1]


class _MobileDecoder(nn.Module):
    """Modules the translator's own model.py also writes, as a person writes them: a
    depthwise-then-pointwise nn.Sequential (torchvision's MobileNet block), nn.ZeroPad2d, a
    frozen convolution, nn.ConvTranspose2d, nn.AdaptiveMaxPool2d, x.permute."""

    def __init__(self) -> None:
        super().__init__()
        self.separable = nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False), nn.Conv2d(3, 8, 1)
        )
        self.pad, self.frozen = nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(8, 8, 2)
        self.frozen.requires_grad_(False)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.pool, self.head = nn.AdaptiveMaxPool2d(1), nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.frozen(self.pad(torch.relu(self.separable(x)))))
        return self.head(self.pool(y).permute(0, 2, 3, 1)).flatten(1)


# Case → (model factory, example input).
MODELS: dict[str, tuple[Callable[[], nn.Module], Callable[[], torch.Tensor]]] = {
    "cnn": (_Cnn, lambda: torch.randn(BATCH, 3, 16, 16)),
    "lstm_last_step": (lambda: _Recurrent(nn.LSTM, True), lambda: torch.randn(BATCH, 7, 4)),
    "gru_sequence": (lambda: _Recurrent(nn.GRU, False), lambda: torch.randn(BATCH, 7, 4)),
    "rnn_relu_stack": (
        lambda: _Recurrent(
            lambda *a, **k: nn.RNN(*a, num_layers=2, nonlinearity="relu", **k), False
        ),
        lambda: torch.randn(BATCH, 7, 4),
    ),
    "tagger": (_Tagger, lambda: torch.randint(0, 20, (BATCH, 5))),
    "conv1d": (_Conv1d, lambda: torch.randn(BATCH, 4, 10)),
    "shared": (_Shared, lambda: torch.randn(BATCH, 6)),
    "encoder_block": (_EncoderBlock, lambda: torch.randn(BATCH, 5, 8)),
    "qkvo_attention": (_QkvoBlock, lambda: torch.randn(BATCH, 5, 8)),
    "causal_multihead_attention": (_CausalAttention, lambda: torch.randn(BATCH, 5, 8)),
    "multihead_attention_kdim_vdim": (_CrossAttention, lambda: torch.randn(BATCH, 5, 8)),
    "multihead_attention_kdim_vdim_no_bias": (
        lambda: _CrossAttention(bias=False),
        lambda: torch.randn(BATCH, 5, 8),
    ),
    "gru_backwards": (_Backwards, lambda: torch.randn(BATCH, 7, 4)),
    "qkvo_attention_eager": (lambda: _QkvoBlock(eager=True), lambda: torch.randn(BATCH, 5, 8)),
    "grouped_query_attention": (_GroupedBlock, lambda: torch.randn(BATCH, 5, 8)),
    "inverted_residual": (_InvertedResidual, lambda: torch.randn(BATCH, 8, 12, 12)),
    "resnet_stem": (_ResNetStem, lambda: torch.randn(BATCH, 3, 32, 32)),
    "ceil_mode_pools": (_CeilPools, lambda: torch.randn(BATCH, 3, 17, 17)),
    "mobile_decoder": (_MobileDecoder, lambda: torch.randn(BATCH, 3, 8, 8)),
    # model.py's step-by-step recurrences, which torch.export unrolls: read whole.
    "step_by_step_lstm_relu_backwards_stack": (
        lambda: nn.Sequential(
            CustomRecurrent(
                "lstm",
                4,
                6,
                activation="relu",
                recurrent_activation="hard_sigmoid",
                return_sequences=True,
                go_backwards=True,
                num_layers=2,
            )
        ),
        lambda: torch.randn(BATCH, 7, 4),
    ),
    "step_by_step_gru_reset_before_no_bias": (
        lambda: nn.Sequential(
            CustomRecurrent(
                "gru_reset_before", 4, 5, recurrent_activation="sigmoid", use_bias=False
            )
        ),
        lambda: torch.randn(BATCH, 7, 4),
    ),
    "bidirectional_gru": (
        lambda: _Recurrent(lambda *a, **k: nn.GRU(*a, bidirectional=True, **k), False, 12),
        lambda: torch.randn(BATCH, 7, 4),
    ),
}


def _saved(case: str, path: Path) -> tuple[nn.Module, torch.Tensor, Path]:
    make, example = MODELS[case]
    model = evaluated(make)
    x = example()
    with warnings.catch_warnings():  # nn.RNN's flat weights: a warning of torch.export's own
        warnings.simplefilter("ignore", UserWarning)
        torch.export.save(torch.export.export(model, (x,)), path)
    return model, x, path


def _assert_reproduces(model: nn.Module, spec: Path, weights: Path) -> None:
    """The model and our PyTorch and ONNX builds of the imported spec, holding the
    imported weights, agree on the same input."""
    graph = load(str(spec))
    inputs = sample_inputs(graph, 0, batch=BATCH)
    with torch.no_grad():
        expected = model(*(torch.from_numpy(inputs[n]) for n in graph.inputs)).numpy()
    canonical = load_canonical(graph, weights)
    for backend in (TORCH, ONNX):
        weights_ = from_canonical(graph, backend.NAME, canonical)
        (got,) = backend.run(backend.set_weights(backend.build(graph), weights_), inputs)
        np.testing.assert_allclose(np.asarray(got), expected, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("case", sorted(MODELS))
def test_an_exported_program_imports(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, _, source = _saved(case, tmp_path / f"{case}.pt2")
    spec, weights = run_import(source, tmp_path, capsys)
    (counted,) = count_totals(capsys, spec)
    totals = counted["torch"]
    assert totals["total"] == sum(p.numel() for p in model.parameters())
    assert totals["buffers"] == sum(b.numel() for b in model.buffers())
    _assert_reproduces(model, spec, weights)


def test_names_come_from_the_module_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, source = _saved("cnn", tmp_path / "cnn.pt2")
    spec, _ = run_import(source, tmp_path, capsys)
    text = spec.read_text(encoding="utf-8")
    assert "{name: features_0, type: Conv2D, filters: 8, kernel_size: 3, padding: same," in text
    assert "activation: relu}" in text  # nn.ReLU after the conv, as a person writes it
    assert "{name: features_4_pad, type: ZeroPadding2D}" in text
    assert "{name: features_5, type: GlobalAveragePooling2D}" in text  # the Flatten taken in
    assert "data_format: channels_first" in text


# A state_dict maps to the spec by the naming rule, and where one spec layer joins several
# modules' tensors (q/k/v/o attention packed into in_proj_weight) by the spec's checkpoint:
# section, which the import writes; the .pt2 itself is imported again.
@pytest.mark.parametrize(
    ("case", "checkpoint"),
    [
        ("cnn", "state_dict"),
        ("cnn", "program"),
        ("qkvo_attention", "state_dict"),
        ("qkvo_attention", "program"),
    ],
)
def test_the_models_own_weights_port_the_imported_spec(
    case: str, checkpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The model's state_dict (keys ``features.0.weight``, ...), and the .pt2 itself."""
    model, _, source = _saved(case, tmp_path / f"{case}.pt2")
    spec, _ = run_import(source, tmp_path, capsys)
    weights = source
    if checkpoint == "state_dict":
        weights = tmp_path / "model.pt"
        torch.save(model.state_dict(), weights)
    args = ["port", str(spec), "--weights", str(weights), "--from", "torch", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


class _Odd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.act, self.unused = nn.Linear(4, 3), nn.PReLU(), nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


class _MaskedQkvo(_QkvoAttention):
    """q/k/v/o attention whose scores get an attention mask given as an input."""

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # type: ignore[override]  # the mask is the point
        q, k, v = (self._split(p(x)) for p in (self.q_proj, self.k_proj, self.v_proj))
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.o_proj(attended.transpose(1, 2).reshape(x.shape))


class _BiasedAttention(nn.Module):
    """The masked attention as its own submodule (as Hugging Face writes it): a float bias
    (heads, steps, steps) per example, one broadcast over the heads, or a boolean mask."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = _MaskedQkvo()

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.attention(x, bias)


@pytest.mark.parametrize(
    ("bias", "imports"),
    [((BATCH, 2, 5, 5), True), ((BATCH, 1, 5, 5), False), ((BATCH, 2, 5, 5, "bool"), False)],
)
def test_an_attention_bias_given_as_an_input(
    bias: tuple[Any, ...], imports: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A float (batch, heads, steps, steps) mask is added to the scores: ``attention_bias:
    true``, its weights ported from the model's own state_dict; one broadcast over the heads,
    or a boolean one (which blocks rather than adds), is listed, not guessed."""
    torch.manual_seed(0)
    model, x = _BiasedAttention().eval(), torch.randn(BATCH, 5, 8)
    mask = torch.randn(*bias[:4]) if len(bias) == 4 else torch.rand(*bias[:4]) > 0.3
    source = tmp_path / "biased.pt2"
    torch.export.save(torch.export.export(model, (x, mask)), source)
    if not imports:
        assert main(["import", str(source), "--out", str(tmp_path / "never.yaml")]) == 1
        assert "an attention mask not a float bias (2, 5, 5)" in capsys.readouterr().err
        return
    spec, _ = run_import(source, tmp_path, capsys)
    assert "attention_bias: true, inputs: [x, bias]}" in spec.read_text(encoding="utf-8")
    torch.save(model.state_dict(), tmp_path / "model.pt")
    args = ["port", str(spec), "--weights", str(tmp_path / "model.pt"), "--from", "torch"]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_what_no_importer_claims_is_listed_and_a_partial_spec_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "odd.pt2"
    torch.export.save(torch.export.export(_Odd().eval(), (torch.randn(BATCH, 4),)), source)
    spec, report, err = run_partial_import(source, tmp_path, capsys)
    assert err[0] == (
        f"{source}: partly imported: 3 layer(s) no importer claims (a partial spec and a"
        " report written)"
    )
    rows = {line.split()[0]: line for line in err[1:4]}
    assert rows["act"].split()[1:3] == ["Prelu", "1"]
    assert "no importer for this operation (in PReLU)" in rows["act"]
    assert "the program never reads it" in rows["unused.weight"]
    assert err[4] == "  7 parameters in unclaimed layers"
    text = spec.read_text(encoding="utf-8")
    assert "  - {name: fc, type: Dense, units: 3}\n  # TODO: act (Prelu, 1 parameters)" in text
    assert "| unused.weight | Parameter | 4 | the program never reads it |" in report.read_text(
        encoding="utf-8"
    )
    (totals,) = count_totals(capsys, spec)
    assert totals["torch"]["total"] == 4 * 3 + 3
    graph = load(str(spec))
    weights = load_canonical(graph, tmp_path / "partial.npz")
    np.testing.assert_array_equal(weights["fc/bias"], _stored_fc_bias(source))
    # The program itself ports the partial spec: its layers are found in it as imported.
    args = ["port", str(spec), "--weights", str(source), "--from", "torch", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


class _Cumulative(nn.Module):
    """A running sum over the steps: no importer claims it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, dim=1)


class _OddInTheMiddle(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first, self.odd = nn.Linear(8, 4), _Cumulative()
        self.head, self.side = nn.Linear(4, 3), nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        odd = self.odd(self.first(x))
        return self.head(odd) + self.side(odd)


def test_the_layers_after_an_unclaimed_module_read_a_stand_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The unclaimed module's output becomes a stand-in input that the layers after it read;
    the layer before it stays as an output: with the imported weights and the stand-in fed
    what the module computes, the partial spec gives the model's outputs."""
    torch.manual_seed(0)
    model, x = _OddInTheMiddle().eval(), torch.randn(BATCH, 5, 8)
    source = tmp_path / "middle.pt2"
    torch.export.save(torch.export.export(model, (x,)), source)
    spec, _, err = run_partial_import(source, tmp_path, capsys)
    assert err[0].endswith("partly imported: 1 layer(s) no importer claims (a partial spec and"
                           " a report written)")  # fmt: skip
    graph = load(str(spec))
    assert list(graph.inputs) == ["x", "odd"] and graph.outputs == ["add", "first"]
    weights = load_canonical(graph, tmp_path / "partial.npz")
    built = TORCH.set_weights(TORCH.build(graph), from_canonical(graph, "torch", weights))
    with torch.no_grad():
        first = model.first(x)
        feed = {"x": x.numpy(), "odd": model.odd(first).numpy()}
        got, got_first = TORCH.run(built, feed)
        np.testing.assert_allclose(got, model(x).numpy(), atol=ATOL, rtol=RTOL)
        np.testing.assert_allclose(got_first, first.numpy(), atol=ATOL, rtol=RTOL)


def _stored_fc_bias(source: Path) -> np.ndarray:
    return torch.export.load(source).state_dict["fc.bias"].detach().numpy()


def test_a_pickled_tensor_is_refused_before_torch_loads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    _, _, saved = _saved("cnn", tmp_path / "cnn.pt2")
    source = tmp_path / "pickled.pt2"
    with zipfile.ZipFile(saved) as original, zipfile.ZipFile(source, "w") as changed:
        for item in original.infolist():
            data = original.read(item)
            if item.filename.endswith("model_weights_config.json"):
                data = data.replace(b'"use_pickle": false', b'"use_pickle": true', 1)
            changed.writestr(item, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["import", str(source), "--out", str(tmp_path / "s.yaml")]) == 2
    assert capsys.readouterr().err == (
        f"error: {source}: a tensor is pickled; accepted: tensors stored raw\n"
    )


def make_tagger() -> nn.Module:
    """A factory for ``import tests.end_to_end.test_import_torch:make_tagger``."""
    torch.manual_seed(0)
    return _Tagger()


def test_a_factory_is_traced_on_its_example_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, weights = tmp_path / "tagger.yaml", tmp_path / "tagger.npz"
    source = "tests.end_to_end.test_import_torch:make_tagger"
    args = ["import", source, "--input", "tokens=2,5:int64", "--out", str(spec)]
    assert main([*args, "--weights-out", str(weights)]) == 0
    assert capsys.readouterr().out.startswith(f"{source}: imported from torch\n")
    text = spec.read_text(encoding="utf-8")
    assert "  - {name: tokens, shape: [5], dtype: int64}\n" in text
    assert "{name: mlp_0, type: Dense, units: 16, activation: gelu}" in text
    _assert_reproduces(make_tagger().eval(), spec, weights)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "a PyTorch model needs example inputs to trace; accepted: --input"),
        (["--input", "x=2,5"], "torch.export cannot trace the model ("),
    ],
)
def test_a_factory_without_usable_inputs_is_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = "tests.end_to_end.test_import_torch:make_tagger"
    assert main(["import", source, *args, "--out", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {source}: {message}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("garbage", "not a zip archive"),
        ("torch.save", "not a torch.export archive"),  # nor the older format it unpickles
    ],
)
def test_a_file_that_is_no_export_archive_is_refused_in_one_line(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "model.pt2"
    if content == "torch.save":
        torch.save({"weight": torch.zeros(2)}, source)
    else:
        source.write_bytes(content.encode())
    assert main(["import", str(source), "--out", str(tmp_path / "s.yaml")]) == 2
    accepted = "accepted: a .pt2 written by torch.export.save, in its current archive format"
    assert capsys.readouterr().err == f"error: {source}: {message}; {accepted}\n"
